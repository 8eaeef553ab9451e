"""Choosing among recognizer models on lines apart from bench_recognizer.py's.

    .venv/bin/python benchmarks/bench_select.py CANDIDATE.onnx... [--per-family N]
        [--skip-rapidocr] [--skip-tesseract]

bench_recognizer.py reports the issue's targets on its synthetic lines (frozen texts from the
first, seed 20261125). Choosing the best of a run's snapshots by those lines tunes to them:
its 1950 ALL-CAPS degraded characters move by two or three errors between neighbouring
snapshots. This script renders other lines the same way (frozen texts from the 601st, seed
777, 150 texts per family: 150 ALL-CAPS degraded lines, about 5400 characters) and French,
German and Spanish lines (seed 777), reads them and the real dev sets with the shipped model
and every candidate (lexicon decoding, one `recognize` call per set, as bench_recognizer.py
reads), and prints one row per model, with Tesseract and RapidOCR on the synthetic lines
beside them. Each cell is CER (character errors): a row's errors against the shipped model's
say how many characters a candidate wins or loses.

The ALL-CAPS degraded lines are also split by whether they hold an accented capital, the
kind that is half of what the shipped model misreads on them.
"""

from __future__ import annotations

from common import single_thread_environment

single_thread_environment()

import argparse  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import peers  # noqa: E402
from bench_recognizer import (  # noqa: E402
    LINES_DIR,
    SYNTH_DPI,
    LineSample,
    LineScore,
    _texts,
    line_score,
    load_real_sets,
    other_language_lines,
    read_all,
    scandex_read,
    synthetic_lines,
)
from common import print_table, reproduce_command  # noqa: E402

SELECT_SEED = 777
FIRST_TEXT = 600  # bench_recognizer.py's 60 texts per family use fewer than 300 of them
PEERS = ("tesseract", "rapidocr")

Keep = Callable[[LineSample], bool]


def _accented_capital(sample: LineSample) -> bool:
    return any(ch.isupper() and not ch.isascii() for ch in sample.text)


# (column, line set, which of its lines)
COLUMNS: tuple[tuple[str, str, Keep], ...] = (
    ("uw3", "uw3-dev", lambda s: True),
    ("ehri", "ehri-typewritten-dev", lambda s: True),
    ("jls", "jls-letters-dev", lambda s: True),
    ("clean", "synthetic", lambda s: not s.degraded and not s.caps),
    ("degraded", "synthetic", lambda s: s.degraded and not s.caps),
    ("Courier deg", "synthetic", lambda s: s.degraded and not s.caps and s.typewriter),
    ("CAPS clean", "synthetic", lambda s: s.caps and not s.degraded),
    ("CAPS deg", "synthetic", lambda s: s.caps and s.degraded),
    ("  accented", "synthetic", lambda s: s.caps and s.degraded and _accented_capital(s)),
    ("  plain", "synthetic", lambda s: s.caps and s.degraded and not _accented_capital(s)),
    ("fr+de+es", "languages", lambda s: True),
)


def cell(samples: Sequence[LineSample], texts: Sequence[str] | None, keep: Keep) -> str:
    """'CER% (errors)' over the kept lines; '-' when the engine did not read the set."""
    if texts is None:
        return "-"
    kept = [line_score(s.text, t) for s, t in zip(samples, texts, strict=True) if keep(s)]
    total = sum(kept, LineScore())
    return f"{100 * total.cer:.2f}% ({total.char_errors})" if total.ref_chars else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("candidates", nargs="+", metavar="CANDIDATE.onnx")
    parser.add_argument("--per-family", type=int, default=150, help="synthetic texts per family")
    parser.add_argument("--lines-dir", default=LINES_DIR)
    peers.add_peer_arguments(parser)
    args = peers.resolve_peers(parser.parse_args())
    cv2.setNumThreads(1)
    from scandex.ocr.lexicon import LexiconParams
    from scandex.ocr.recognize import Recognizer, default_model_path

    print(f"command: {reproduce_command()}")
    lexicon = LexiconParams().load()
    models = [default_model_path(), *map(Path, args.candidates)]
    sets: dict[str, list[LineSample]] = dict(load_real_sets(args.lines_dir, None))
    texts: dict[str, dict[str, list[str]]] = {}  # row -> line set -> texts (absent: not read)
    with tempfile.TemporaryDirectory(prefix="scandex-select-lines-") as tmp:
        sets["synthetic"] = synthetic_lines(
            args.per_family, Path(tmp), seed=SELECT_SEED, first_text=FIRST_TEXT
        )
        sets["languages"] = other_language_lines(args.per_family // 3, Path(tmp), seed=SELECT_SEED)
        for n, model in enumerate(models):
            recognizer = Recognizer(model, threads=1, lexicon=lexicon)
            row = f"{'shipped ' if n == 0 else ''}{model}"
            texts[row] = {
                name: scandex_read(recognizer, [s.image for s in samples], repeat=1)[0].texts
                for name, samples in sets.items()
            }
            print(f"  read with {model}", flush=True)
        for name in ("synthetic", "languages"):  # the real sets' peer figures: bench_recognizer
            reads = read_all(sets[name], [], args, timing=False, tesseract_dpi=SYNTH_DPI)
            for peer in PEERS:
                if (read := _texts(reads, peer)) is not None:  # skipped or failed: no row
                    texts.setdefault(peer, {})[name] = read
    header = ["model", *(column for column, _, _ in COLUMNS)]
    rows = [
        [
            row,
            *(
                cell(sets[name], got.get(name), keep) if name in sets else "-"
                for _, name, keep in COLUMNS
            ),
        ]
        for row, got in texts.items()
    ]
    print_table(
        "CER (character errors), lexicon decoding; peers on the synthetic lines only", header, rows
    )
    print(f"\nreproduce: {reproduce_command()}")


if __name__ == "__main__":
    main()
