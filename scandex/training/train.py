"""The training loop: CTC on width-bucketed batches, periodic dev CER, checkpoints, resume,
early stop, ONNX export of the best model. Runs on the CPU; progress goes to stderr.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from scandex.errors import ScandexError
from scandex.ocr.codec import Codec
from scandex.ocr.ctc import decode_text
from scandex.ocr.normalize import NormalizeParams, normalize_line
from scandex.ocr.recognize import output_steps, stack_lines
from scandex.training.data import BatchStream, LineSample, load_line_dir
from scandex.training.fonts import FontFace, find_fonts, split_fonts
from scandex.training.model import LineRecognizer, ModelConfig, new_unit_masks, widened


@dataclass
class TrainOptions:
    out_dir: Path
    line_dirs: list[str] = field(default_factory=list)
    dev_dirs: list[str] = field(default_factory=list)  # each measured on its own; mean decides
    synthetic: bool = True
    real_fraction: float = 0.3
    from_model: str | None = None
    # Fine-tuning only: pull towards the starting weights (L2-SP), so a few hundred lines of
    # one document teach its type without unlearning everything else.
    anchor_weight: float = 0.0
    # Fine-tuning only: this many units per LSTM direction, the new ones starting silent
    # (model.widened); None keeps the starting model's size.
    widen_lstm: int | None = None
    batch_size: int = 24
    learning_rate: float = 1e-3
    # When set, the rate falls from learning_rate to this on a half cosine over max_iterations:
    # a long run can start high enough to leave the starting model's basin and still end with
    # the small steps that settle it.
    final_learning_rate: float | None = None
    max_iterations: int = 100_000
    max_seconds: float = math.inf
    eval_every_seconds: float = 300.0
    checkpoint_every_seconds: float = 300.0
    patience_evals: int = 20  # early stop after this many evaluations without improvement
    threads: int = 0  # 0 = torch's default
    seed: int = 1
    conv_channels: tuple[int, int, int] = (16, 32, 48)
    lstm_hidden: int = 128
    lstm_layers: int = 2
    # (old, new) text replacements in every real line's transcription, training and dev alike:
    # another archive's convention put into the one the model should write (see relabel).
    relabel: tuple[tuple[str, str], ...] = ()
    # This share of the synthetic lines in capitals on top of the usual mix: 0.85 trains a
    # model's companion for lines of capitals (README, "capitals companion").
    capitals_share: float = 0.0


@dataclass
class TrainState:
    """What a resumed run needs besides the weights; saved in every checkpoint."""

    iteration: int = 0
    best_cer: float | None = None
    evals_since_best: int = 0
    seconds: float = 0.0
    grown_from_hidden: int = 0  # LSTM units per direction before --widen; 0: not widened


# Units added by --widen take steps this many times the learning rate: at a fine-tuning rate
# (5e-5) their outgoing weights, starting at zero, reached a thousandth of the old units' in
# 540 iterations (2026-12-03, v9 widened to 192), so the run was the narrow model's again.
NEW_UNIT_STEP_FACTOR = 20.0


def new_unit_parameters(
    model: LineRecognizer, grown_from_hidden: int
) -> list[tuple[torch.nn.Parameter, torch.Tensor]]:
    """(parameter, mask of its new units' weights) for a widened model; [] for any other."""
    if not grown_from_hidden:
        return []
    masks = new_unit_masks(model, grown_from_hidden)
    return [(p, masks[name]) for name, p in model.named_parameters() if name in masks]


def anchor_penalty(
    model: LineRecognizer,
    anchor: list[torch.Tensor],
    new_units: list[tuple[torch.nn.Parameter, torch.Tensor]],
) -> torch.Tensor:
    """Squared distance from the starting weights, over the weights the starting model had:
    a widened model's new units start at values of no meaning (zero outgoing weights), and
    held there they stayed silent (2026-12-03: outgoing weights a 250th of the old units' after
    540 iterations at anchor 0.01, a 20th without the anchor)."""
    new_masks = {id(parameter): mask for parameter, mask in new_units}
    total = torch.zeros(())
    for parameter, start in zip(model.parameters(), anchor, strict=True):
        squared = (parameter - start) ** 2
        mask = new_masks.get(id(parameter))
        total = total + (squared.sum() if mask is None else squared[~mask].sum())
    return total


def _speed_up_new_units(
    new_units: list[tuple[torch.nn.Parameter, torch.Tensor]], before: list[torch.Tensor]
) -> None:
    """Stretch the optimizer's last step on the new units' weights NEW_UNIT_STEP_FACTOR times
    (Adam's step does not scale with the gradient, so a larger gradient would not do it)."""
    with torch.no_grad():
        for (parameter, mask), old in zip(new_units, before, strict=True):
            step = parameter - old
            parameter.add_(step * mask, alpha=NEW_UNIT_STEP_FACTOR - 1.0)


def character_error_rate(pairs: list[tuple[str, str]]) -> float:
    """Total edit distance over total reference characters, for (reference, hypothesis) pairs."""
    errors = sum(edit_distance(ref, hyp) for ref, hyp in pairs)
    total = sum(len(ref) for ref, _ in pairs)
    return errors / max(1, total)


def word_error_rate(pairs: list[tuple[str, str]]) -> float:
    """Word edit distance over reference words. Line CER barely sees a dropped word space
    (one character), yet search loses both words: models with the better dev CER merged
    words v7 kept apart ("for our" -> "forour")."""
    errors = sum(edit_distance(ref.split(), hyp.split()) for ref, hyp in pairs)
    total = sum(len(ref.split()) for ref, _ in pairs)
    return errors / max(1, total)


def scheduled_learning_rate(
    start: float, final: float | None, iteration: int, total_iterations: int
) -> float:
    """The rate for this iteration: `start` throughout without a final rate, else a half
    cosine from `start` at iteration 0 to `final` at `total_iterations` (and after)."""
    if final is None:
        return start
    progress = min(1.0, iteration / max(1, total_iterations))
    return final + (start - final) * 0.5 * (1.0 + math.cos(math.pi * progress))


def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def evaluate(
    model: LineRecognizer, codec: Codec, normalize: NormalizeParams, samples
) -> tuple[float, float]:
    """(CER, WER) of greedy decoding on `samples`."""
    model.eval()
    pairs = []
    with torch.no_grad():
        for start in range(0, len(samples), 16):
            chunk = samples[start : start + 16]
            images = [normalize_line(s.image, normalize).image for s in chunk]
            probs = model(torch.from_numpy(stack_lines(images))).exp().numpy()
            for sample, image, p in zip(chunk, images, probs, strict=True):
                pairs.append((sample.text, decode_text(p[: output_steps(image.shape[1])], codec)))
    model.train()
    return character_error_rate(pairs), word_error_rate(pairs)


def relabel(text: str, replacements: Sequence[tuple[str, str]]) -> str:
    """A transcription in the convention the model should write, replacements in order.

    Transcribers differ where the page does not: one EHRI archive writes a typist's spaced
    hyphen as an en dash (" – "), the others and the dev lines as the hyphen it is. Trained on
    both, v7 read every typed spaced hyphen as an en dash and a typed "--" as "–-".
    """
    for old, new in replacements:
        text = text.replace(old, new)
    return text


def _encodable_lines(
    directories: list[str],
    codec: Codec,
    log: Callable[[str], None],
    replacements: Sequence[tuple[str, str]] = (),
) -> list[LineSample]:
    """The lines of these folders, relabelled, whose text the codec can spell; says how many
    it cannot."""
    lines = [
        LineSample(sample.image, relabel(sample.text, replacements))
        for directory in directories
        for sample in load_line_dir(directory)
    ]
    usable = [sample for sample in lines if codec.can_encode(sample.text)]
    if len(usable) < len(lines):
        log(
            f"skipping {len(lines) - len(usable)} of {len(lines)} lines in "
            f"{', '.join(directories)}: characters outside the model's alphabet"
        )
    return usable


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def train(options: TrainOptions, log: Callable[[str], None] = _log) -> dict:
    """Train (or resume, or fine-tune) and return a summary; the best model is out_dir/best.onnx."""
    from scandex.training.export import export_model, load_for_training

    if options.threads:
        torch.set_num_threads(options.threads)
    torch.manual_seed(options.seed)
    out = Path(options.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out / "checkpoint.pt"
    normalize = NormalizeParams()
    codec = Codec()
    grown_from = 0
    if options.from_model:
        model, codec, normalize = load_for_training(options.from_model)
        log(f"starting from {options.from_model}")
        if options.widen_lstm:
            grown_from = model.config.lstm_hidden
            try:
                model = widened(model, options.widen_lstm)
            except ValueError as exc:
                raise ScandexError(f"--widen {options.widen_lstm}: {exc}") from None
            log(f"LSTM widened to {options.widen_lstm} units per direction")
    else:
        config = ModelConfig(
            height_px=normalize.height_px,
            num_classes=codec.num_classes,
            conv_channels=tuple(options.conv_channels),  # type: ignore[arg-type]
            lstm_hidden=options.lstm_hidden,
            lstm_layers=options.lstm_layers,
        )
        model = LineRecognizer(config)
    anchor = (
        [p.detach().clone() for p in model.parameters()]
        if options.from_model and options.anchor_weight > 0
        else None
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=options.learning_rate)
    state = TrainState(grown_from_hidden=grown_from)
    if checkpoint_path.exists():
        saved = torch.load(checkpoint_path, weights_only=True)
        frozen = model.frozen_batchnorm
        model = LineRecognizer(ModelConfig.from_dict(saved["config"]))
        model.load_state_dict(saved["model"])
        model.frozen_batchnorm = bool(saved.get("frozen_batchnorm", frozen))
        optimizer = torch.optim.Adam(model.parameters(), lr=options.learning_rate)
        optimizer.load_state_dict(saved["optimizer"])
        for group in optimizer.param_groups:  # a resumed run may ask for a new learning rate
            group["lr"] = options.learning_rate
        codec = Codec(saved["alphabet"])
        state = TrainState(**saved["state"])
        log(f"resumed from {checkpoint_path} at iteration {state.iteration}")
    real = _encodable_lines(options.line_dirs, codec, log, options.relabel)
    dev = {
        Path(d).name: _encodable_lines([d], codec, log, options.relabel) for d in options.dev_dirs
    }
    fonts: list[FontFace] = []
    if options.synthetic:
        fonts, _ = split_fonts(find_fonts())
        if not fonts:
            raise ScandexError("no fonts for synthetic lines: install fonts-dejavu (Debian)")
    if not real and not fonts:
        raise ScandexError("no training lines: give --lines DIR with NAME.png + NAME.gt.txt")
    stream = BatchStream(
        codec,
        real=real,
        fonts=fonts,
        real_fraction=options.real_fraction,
        batch_size=options.batch_size,
        seed=options.seed + state.iteration,
        normalize=normalize,
        capitals_share=options.capitals_share,
    )
    loader = torch.utils.data.DataLoader(
        stream, batch_size=None, num_workers=1, prefetch_factor=4, persistent_workers=False
    )
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    model.train()

    def save_checkpoint() -> None:
        tmp = checkpoint_path.with_suffix(".tmp")
        torch.save(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "config": model.config.to_dict(),
                "frozen_batchnorm": model.frozen_batchnorm,
                "alphabet": codec.alphabet,
                "state": asdict(state),
                "options": {k: str(v) for k, v in asdict(options).items()},
            },
            tmp,
        )
        os.replace(tmp, checkpoint_path)

    def evaluate_and_export() -> None:
        scores = {name: evaluate(model, codec, normalize, lines) for name, lines in dev.items()}
        per_set = {name: cer for name, (cer, _) in scores.items()}
        # The mean over sets, so a large set cannot hide a loss on a small one.
        cer = float(np.mean(list(per_set.values()))) if dev else float("nan")
        improved = not dev or state.best_cer is None or cer < state.best_cer
        if improved:
            state.best_cer = cer if dev else None
            state.evals_since_best = 0
            export_model(
                model,
                codec,
                normalize,
                out / "best.onnx",
                info={"iteration": state.iteration, "dev_cer": cer, "dev_sets": per_set},
            )
        else:
            state.evals_since_best += 1
        export_model(
            model,
            codec,
            normalize,
            out / "last.onnx",
            info={"iteration": state.iteration, "dev_cer": cer, "dev_sets": per_set},
        )
        best = state.best_cer
        sets = ", ".join(f"{name} {value:.2%}" for name, value in per_set.items())
        words = ", ".join(f"{name} {wer:.2%}" for name, (_, wer) in scores.items())
        log(
            f"eval iteration {state.iteration}: dev CER {cer:.2%} (best {best:.2%}; {sets});"
            f" WER {words}"
            if dev
            else f"eval iteration {state.iteration}: no dev set"
        )

    new_units = new_unit_parameters(model, state.grown_from_hidden)
    started = time.monotonic() - state.seconds
    session_start = time.monotonic()
    last_eval = last_checkpoint = time.monotonic()
    loss_ema = None
    first_loss = None
    recent_losses: list[float] = []
    lines_seen = 0
    for batch in loader:
        if state.iteration >= options.max_iterations:
            break
        if time.monotonic() - session_start > options.max_seconds:
            break
        log_probs = model(batch["images"])  # (B, T, C)
        loss = ctc(
            log_probs.permute(1, 0, 2),
            batch["targets"],
            batch["input_lengths"],
            batch["target_lengths"],
        )
        if anchor is not None:
            loss = loss + options.anchor_weight * anchor_penalty(model, anchor, new_units)
        for group in optimizer.param_groups:
            group["lr"] = scheduled_learning_rate(
                options.learning_rate,
                options.final_learning_rate,
                state.iteration,
                options.max_iterations,
            )
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        before = [parameter.detach().clone() for parameter, _ in new_units]
        optimizer.step()
        _speed_up_new_units(new_units, before)
        state.iteration += 1
        lines_seen += batch["images"].shape[0]
        value = loss.detach().item()
        first_loss = value if first_loss is None else first_loss
        recent_losses = [*recent_losses[-19:], value]
        loss_ema = value if loss_ema is None else 0.98 * loss_ema + 0.02 * value
        now = time.monotonic()
        state.seconds = now - started
        if state.iteration % 20 == 0:
            rate = state.iteration / max(1e-9, state.seconds)
            remaining = (options.max_iterations - state.iteration) / max(rate, 1e-9)
            best = state.best_cer
            best_text = "-" if best is None else f"{best:.2%}"
            log(
                f"iteration {state.iteration} loss {loss_ema:.3f} "
                f"lr {optimizer.param_groups[0]['lr']:.2g} "
                f"{lines_seen / (now - session_start):.1f} lines/s best dev CER {best_text} "
                f"ETA {remaining / 3600:.1f} h"
            )
        if now - last_eval > options.eval_every_seconds:
            evaluate_and_export()
            last_eval = now
            if dev and state.evals_since_best >= options.patience_evals:
                log(
                    f"early stop: dev CER has not improved for {options.patience_evals} evaluations"
                )
                break
        if now - last_checkpoint > options.checkpoint_every_seconds:
            save_checkpoint()
            last_checkpoint = now
    evaluate_and_export()
    save_checkpoint()
    summary = {
        "iterations": state.iteration,
        "best_dev_cer": state.best_cer,
        "best_model": str(out / "best.onnx"),
        "first_loss": first_loss,
        "last_loss_avg": float(np.mean(recent_losses)) if recent_losses else None,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
