"""Export the torch model to the ONNX file the runtime loads, with everything it needs inside,
and keep its torch weights beside it so training can resume from the real thing.

The codec, the normalization parameters and the architecture travel in the ONNX file's
metadata, so a model file is self-contained and its format version can be checked on load.
`NAME.pt` beside `NAME.onnx` holds the same network's torch weights (BatchNorm statistics not
folded away), the ONNX file's SHA-256 so a stale copy is never used, and nothing but tensors
and plain values, so it loads with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch

from scandex.atomic import atomic_write
from scandex.errors import ModelError
from scandex.ocr.codec import Codec
from scandex.ocr.normalize import NormalizeParams
from scandex.ocr.recognize import MODEL_FORMAT, SUPPORTED_FORMAT_VERSION, model_info
from scandex.training.model import LineRecognizer, ModelConfig


def export_onnx(
    model: LineRecognizer,
    codec: Codec,
    normalize: NormalizeParams,
    path: str | Path,
    *,
    info: dict | None = None,
    quantize: bool = True,
) -> None:
    """Write the model as ONNX (atomically) with its codec and parameters as metadata.

    With `quantize`, the LSTM and the classifier keep 8-bit weights (onnxruntime's dynamic
    quantization): 1.4x the lines per second on one core at the same dev-set CER. Unsigned
    weights (U8U8), because signed ones can saturate on x86 CPUs without VNNI. The
    convolutions stay in float: quantized they ran slower than the float model.
    """
    import onnx

    was_training = model.training
    model.eval()
    dummy = torch.zeros(2, 1, model.config.height_px, 64)
    path = Path(path)
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            # The TorchScript exporter is deprecated, but it needs no extra packages (the new
            # one needs onnxscript) and maps nn.LSTM to a single ONNX LSTM node.
            # Tracer warnings (shape-dependent Python ints) are about export internals.
            warnings.simplefilter("ignore")
            _export(model, dummy, tmp)
            if quantize:
                _quantize(tmp)
        proto = onnx.load(tmp)
        metadata = {
            "format": MODEL_FORMAT,
            "format_version": str(SUPPORTED_FORMAT_VERSION),  # what the runtime accepts
            "alphabet": json.dumps(codec.alphabet, ensure_ascii=False),
            "normalize": json.dumps(asdict(normalize)),
            "architecture": json.dumps(model.config.to_dict()),
            "info": json.dumps({**(info or {}), "quantized": quantize}),
        }
        del proto.metadata_props[:]
        for key, value in metadata.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        serialized = proto.SerializeToString()
        atomic_write(path, lambda out: out.write(serialized))
    finally:
        model.train(was_training)
        if os.path.exists(tmp):
            os.unlink(tmp)


def _export(model: LineRecognizer, dummy: torch.Tensor, path: str) -> None:
    torch.onnx.export(
        model,
        (dummy,),
        path,
        input_names=["images"],
        output_names=["log_probs"],
        dynamic_axes={"images": {0: "batch", 3: "width"}, "log_probs": {0: "batch", 1: "steps"}},
        opset_version=17,
        dynamo=False,
    )


def _quantize(path: str) -> None:
    """Replace the float ONNX file at `path` with its dynamically quantized form."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantized = path + ".quantized"
    try:
        logging.getLogger().disabled = True  # it logs advice about pre-processing to root
        quantize_dynamic(
            path, quantized, weight_type=QuantType.QUInt8, op_types_to_quantize=["LSTM", "MatMul"]
        )
        os.replace(quantized, path)
    finally:
        logging.getLogger().disabled = False
        if os.path.exists(quantized):
            os.unlink(quantized)


def load_torch_from_onnx(path: str | Path) -> tuple[LineRecognizer, Codec, NormalizeParams]:
    """Rebuild the torch model from a scandex ONNX file (for fine-tuning with --from)."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(path))
    if any(node.op_type == "DynamicQuantizeLSTM" for node in proto.graph.node):
        raise ModelError(
            path,
            "a quantized model cannot be turned back into trainable weights, and its torch "
            f"weights ({weights_path(path).name}) are not beside it",
        )
    info = model_info(Path(path), {p.key: p.value for p in proto.metadata_props})
    codec, normalize = info.codec, info.normalize
    model = LineRecognizer(ModelConfig.from_dict(info.architecture))
    weights = {init.name: numpy_helper.to_array(init) for init in proto.graph.initializer}
    new_state: dict[str, torch.Tensor] = {}

    def tensor(array) -> torch.Tensor:
        return torch.from_numpy(np.array(array, dtype=np.float32))

    # Export folds each BatchNorm into its convolution (weight and bias). We give the BatchNorm
    # an identity transform plus that bias, which computes exactly the same function.
    conv_nodes = [n for n in proto.graph.node if n.op_type == "Conv"]
    for block, node in enumerate(conv_nodes):
        kernel, bias = weights[node.input[1]], weights[node.input[2]]
        bn = model.convs[block][1]  # type: ignore[index]
        new_state[f"convs.{block}.0.weight"] = tensor(kernel)
        new_state[f"convs.{block}.1.weight"] = torch.ones(bias.shape[0])
        new_state[f"convs.{block}.1.bias"] = tensor(bias)
        new_state[f"convs.{block}.1.running_mean"] = torch.zeros(bias.shape[0])
        new_state[f"convs.{block}.1.running_var"] = torch.full((bias.shape[0],), 1.0 - bn.eps)
    # The LSTM is stored as ONNX W/R/B tensors in gate order i, o, f, c; torch uses i, f, g, o.
    hidden = model.config.lstm_hidden

    def reorder(m):
        i, o, f, c = (m[k * hidden : (k + 1) * hidden] for k in range(4))
        return tensor(np.concatenate([i, f, c, o]))

    lstm_nodes = [n for n in proto.graph.node if n.op_type == "LSTM"]
    for layer, node in enumerate(lstm_nodes):
        w, r, b = (weights[node.input[k]] for k in (1, 2, 3))
        for direction, suffix in enumerate(("", "_reverse")):
            new_state[f"lstm.weight_ih_l{layer}{suffix}"] = reorder(w[direction])
            new_state[f"lstm.weight_hh_l{layer}{suffix}"] = reorder(r[direction])
            new_state[f"lstm.bias_ih_l{layer}{suffix}"] = reorder(b[direction][: 4 * hidden])
            new_state[f"lstm.bias_hh_l{layer}{suffix}"] = reorder(b[direction][4 * hidden :])
    matmul = [n for n in proto.graph.node if n.op_type == "MatMul" and n.input[1] in weights]
    new_state["classifier.weight"] = tensor(weights[matmul[-1].input[1]].T)
    new_state["classifier.bias"] = tensor(weights["classifier.bias"])
    state = model.state_dict()
    missing = [k for k in state if k not in new_state and not k.endswith("num_batches_tracked")]
    if missing:
        raise ModelError(path, f"cannot rebuild parameters {missing[:5]} from the ONNX graph")
    model.load_state_dict(new_state, strict=False)
    model.frozen_batchnorm = True
    return model, codec, normalize


WEIGHTS_FORMAT = "scandex-line-ctc-torch"


def weights_path(onnx_path: str | Path) -> Path:
    """Where the torch weights of an exported model live: NAME.pt beside NAME.onnx."""
    return Path(onnx_path).with_suffix(".pt")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_model(
    model: LineRecognizer,
    codec: Codec,
    normalize: NormalizeParams,
    path: str | Path,
    *,
    info: dict | None = None,
    quantize: bool = True,
) -> None:
    """Write NAME.onnx for the runtime and NAME.pt with the same network's torch weights."""
    export_onnx(model, codec, normalize, path, info=info, quantize=quantize)
    saved = {
        "format": WEIGHTS_FORMAT,
        "onnx_sha256": _sha256(Path(path)),
        "config": model.config.to_dict(),
        "frozen_batchnorm": model.frozen_batchnorm,
        "alphabet": codec.alphabet,
        "normalize": asdict(normalize),
        "state_dict": model.state_dict(),
    }
    atomic_write(weights_path(path), lambda out: torch.save(saved, out))


def load_weights(path: str | Path) -> tuple[LineRecognizer, Codec, NormalizeParams, str]:
    """The torch model saved by `export_model`, and the SHA-256 of the ONNX file it matches."""
    saved = torch.load(Path(path), weights_only=True)
    if saved.get("format") != WEIGHTS_FORMAT:
        raise ModelError(path, "not scandex recognizer weights")
    model = LineRecognizer(ModelConfig.from_dict(saved["config"]))
    model.load_state_dict(saved["state_dict"])
    model.frozen_batchnorm = bool(saved["frozen_batchnorm"])
    normalize = NormalizeParams(**saved["normalize"])
    return model, Codec(saved["alphabet"]), normalize, str(saved["onnx_sha256"])


def load_for_training(path: str | Path) -> tuple[LineRecognizer, Codec, NormalizeParams]:
    """The torch model of an exported ONNX file: its saved weights when they match, else the
    network rebuilt from the ONNX graph (BatchNorm folded, so it stays frozen)."""
    onnx_path = Path(path)
    saved = weights_path(onnx_path)
    if saved.exists():
        model, codec, normalize, sha = load_weights(saved)
        if sha == _sha256(onnx_path):
            return model, codec, normalize
        print(f"{saved}: made for another {onnx_path.name}; rebuilding from it", file=sys.stderr)
    return load_torch_from_onnx(onnx_path)


def average_weights(
    states: Sequence[dict[str, torch.Tensor]], shares: Sequence[float]
) -> dict[str, torch.Tensor]:
    """The weighted mean of state dicts of one architecture (shares need not sum to 1).

    Models of one lineage (one fine-tuned from the other, or snapshots of one run) lie close
    enough in weight space that their mean is a model too, and a better one: a run that goes
    on from the shipped model gains on some sets and loses on others, and each snapshot
    wavers (punctuation missed on the synthetic pages 34-65 from one evaluation to the next);
    the mean of v7 and four snapshots of run v11 kept v11's gains on the EHRI pages and
    v7's on the dev pages (see README, "Training and fine-tuning the recognizer").
    """
    total = float(sum(shares))
    if not states or len(states) != len(shares) or total <= 0 or min(shares) < 0:
        raise ValueError("need one non-negative share per state dict, not all zero")
    mean = {}
    for key, first in states[0].items():
        if not first.is_floating_point():  # counters (BatchNorm's batches seen)
            mean[key] = first.clone()
            continue
        acc = torch.zeros_like(first, dtype=torch.float64)
        for state, share in zip(states, shares, strict=True):
            acc += state[key].double() * (share / total)
        mean[key] = acc.to(first.dtype)
    return mean


def main() -> None:
    """Export a trained model for the runtime from its torch weights (NAME.pt -> OUT.onnx +
    OUT.pt), e.g. to ship a training run's best model quantized:

        python -m scandex.training.export runs/x/best.pt scandex/models/en.onnx

    Given several weights files of one architecture (the shipped model and runs that went on
    from it), it exports their weighted mean (`--shares`, equal by default); `default` names
    the shipped model's weights. A fine-tuned model mixed with the one it started from keeps
    what that one knew (README, "Training and fine-tuning the recognizer"):

        python -m scandex.training.export default runs/mine/best.pt mine.onnx --shares 0.3 0.7
    """
    import argparse

    parser = argparse.ArgumentParser(description="Export a trained model from its torch weights.")
    parser.add_argument(
        "weights",
        type=Path,
        nargs="+",
        help="NAME.pt written beside a trained model (default: the shipped model's); several: "
        "their mean",
    )
    parser.add_argument("out", type=Path, help="the ONNX file to write (its .pt goes beside it)")
    parser.add_argument(
        "--shares", type=float, nargs="+", help="each weights file's share of the mean"
    )
    parser.add_argument("--float", action="store_true", help="keep float weights (no quantization)")
    parser.add_argument("--info", default="{}", help="JSON merged into the model's info metadata")
    args = parser.parse_args()
    shares = args.shares or [1.0] * len(args.weights)
    if len(shares) != len(args.weights) or min(shares) < 0 or sum(shares) <= 0:
        parser.error(f"--shares: {len(args.weights)} non-negative numbers, not all zero")
    named = [str(path) for path in args.weights]
    args.weights = [_weights_file(path) for path in args.weights]
    try:
        loaded = [load_weights(path) for path in args.weights]
    except (ModelError, OSError) as exc:
        parser.exit(2, f"error: {exc}\n")
    model, codec, normalize, _ = loaded[0]
    for path, (other, other_codec, other_normalize, _) in zip(args.weights, loaded, strict=True):
        if (other.config, other_codec, other_normalize) != (model.config, codec, normalize):
            parser.exit(
                2,
                f"error: {path}: another architecture, alphabet or normalization than "
                f"{args.weights[0]}\n",
            )
    if len(loaded) > 1:
        model.load_state_dict(average_weights([m.state_dict() for m, *_ in loaded], shares))
    source = Path(args.weights[0]).with_suffix(".onnx")
    info: dict = {}
    if len(loaded) > 1:  # the first model's iteration and dev CER are not the mean's
        info["mean_of"] = dict(zip(named, shares, strict=True))
    elif source.exists():
        info = dict(model_info(source, _metadata(source)).info)
        info.pop("quantized", None)
    info.update(json.loads(args.info))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export_model(model, codec, normalize, args.out, info=info, quantize=not args.float)
    print(f"{args.out}: {args.out.stat().st_size} bytes, info {info}")


def _weights_file(path: Path) -> Path:
    """`default` is the shipped model's weights (as `scandex train --from default`)."""
    if str(path) == "default" and not path.exists():
        from scandex.ocr.recognize import default_model_path

        return weights_path(default_model_path())
    return path


def _metadata(path: Path) -> dict[str, str]:
    import onnx

    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


if __name__ == "__main__":
    main()
