"""`scandex train`: train or fine-tune the line recognizer (needs the `train` extra)."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from scandex.cli.app import app
from scandex.errors import ScandexError, UsageError
from scandex.memory import keep_freed_memory


@app.command()
def train(
    out: Path = typer.Option(..., "--out", help="Folder for checkpoints and the exported models."),
    lines: list[Path] = typer.Option(
        [], "--lines", help="Folder of NAME.png + NAME.gt.txt training lines (repeatable)."
    ),
    dev: list[Path] = typer.Option(
        [], "--dev", help="Folder of lines to measure CER on (repeatable; the mean decides)."
    ),
    synthetic: bool = typer.Option(
        True, "--synthetic/--no-synthetic", help="Mix in rendered synthetic lines."
    ),
    real_fraction: float = typer.Option(
        0.3, help="Share of real lines in each batch when synthetic lines are mixed in."
    ),
    from_model: Path | None = typer.Option(
        None, "--from", help="Start from this model (.onnx), e.g. the shipped one, to fine-tune."
    ),
    anchor: float = typer.Option(
        0.0,
        help="With --from: pull the weights towards the starting ones with this strength "
        "(0.01 is strong). Off by default: it halved what a few hundred lines teach and kept "
        "little of the rest; mix the shipped weights back in afterwards instead (README).",
    ),
    widen: int | None = typer.Option(
        None,
        help="With --from: this many units per LSTM direction, the new ones starting silent "
        "(the model reads as before until training uses them).",
    ),
    iterations: int = typer.Option(100_000, help="Stop after this many batches."),
    max_minutes: float = typer.Option(math.inf, help="Stop after this many minutes."),
    batch_size: int = typer.Option(24, help="Lines per batch."),
    learning_rate: float = typer.Option(1e-3, help="Adam learning rate (use ~1e-4 to fine-tune)."),
    final_learning_rate: float | None = typer.Option(
        None,
        help="Lower the learning rate to this over --iterations (half cosine); without it the "
        "rate stays constant.",
    ),
    eval_minutes: float = typer.Option(5.0, help="Minutes between dev evaluations and exports."),
    patience: int = typer.Option(10, help="Early stop after this many evaluations without gain."),
    threads: int = typer.Option(0, help="Torch threads (0 = all cores)."),
    capitals_share: float = typer.Option(
        0.0,
        help="Make this share of the synthetic lines ALL-CAPS lines (0.85 trains a capitals "
        "companion: save it as NAME-capitals.onnx beside the model NAME.onnx).",
    ),
    relabel: list[str] = typer.Option(
        [],
        "--relabel",
        help="OLD=NEW: write OLD as NEW in every line's transcription (repeatable; the first "
        "'=' separates), e.g. ' – = - ' where transcribers wrote a typed hyphen as an en dash.",
    ),
) -> None:
    """Train or fine-tune the recognizer; the best model is written to OUT/best.onnx.

    Example, fixing your own fonts with a few hundred corrected lines:

        scandex train --from default --lines my-lines/ --dev my-dev-lines/ --out runs/mine
        --learning-rate 1e-4 --real-fraction 0.7

    Run it again with the same --out to resume. Use the result with `scandex ocr --model
    runs/mine/best.onnx` or `model = "runs/mine/best.onnx"` in config.toml.
    """
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ScandexError(
            "training needs the 'train' extra: pip install 'scandex[train]'"
        ) from None
    from scandex.ocr.recognize import default_model_path
    from scandex.training.train import TrainOptions
    from scandex.training.train import train as run_training

    if not 0.0 <= capitals_share <= 1.0:
        raise UsageError(f"--capitals-share {capitals_share}: a share from 0 to 1")
    for folder in [*lines, *dev]:
        if not folder.is_dir():
            raise UsageError(f"{folder}: not a folder of training lines")
    if not lines and not synthetic:
        raise UsageError("nothing to train on: give --lines DIR or allow --synthetic")
    replacements = []
    for rule in relabel:
        old, sep, new = rule.partition("=")
        if not sep or not old:
            raise UsageError(f"--relabel {rule!r}: expected OLD=NEW with a non-empty OLD")
        replacements.append((old, new))
    start = None
    if from_model is not None:
        start = default_model_path() if str(from_model) == "default" else from_model
        if not start.is_file():
            raise UsageError(f"{start}: model file not found")
    elif widen is not None:
        raise UsageError("--widen grows a model given with --from")
    # A training process (and its data loader, forked from it) does nothing else.
    keep_freed_memory()
    summary = run_training(
        TrainOptions(
            out_dir=out,
            line_dirs=[str(p) for p in lines],
            dev_dirs=[str(p) for p in dev],
            synthetic=synthetic,
            real_fraction=real_fraction,
            from_model=str(start) if start else None,
            anchor_weight=anchor,
            widen_lstm=widen,
            batch_size=batch_size,
            learning_rate=learning_rate,
            final_learning_rate=final_learning_rate,
            max_iterations=iterations,
            max_seconds=max_minutes * 60.0,
            eval_every_seconds=eval_minutes * 60.0,
            checkpoint_every_seconds=eval_minutes * 60.0,
            patience_evals=patience,
            threads=threads,
            relabel=tuple(replacements),
            capitals_share=capitals_share,
        )
    )
    cer = summary["best_dev_cer"]
    typer.echo(
        f"trained {summary['iterations']} iterations; best model {summary['best_model']}"
        + (f" (dev CER {cer:.2%})" if cer is not None else "")
    )
