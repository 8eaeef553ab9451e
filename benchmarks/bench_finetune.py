"""Benchmark the fine-tuning loop: corrected lines of a face the model reads badly -> `scandex
train --from default` -> `ocr.model` -> reload -> the archive is read again.

    .venv/bin/python benchmarks/bench_finetune.py                     # 200 lines, 60 min
    nice -n 19 .venv/bin/python benchmarks/bench_finetune.py --max-minutes 10
    .venv/bin/python benchmarks/bench_finetune.py --keep W --tuned W/run/best.onnx  # measure again

1. Lines. `--lines` (200) corrected lines and `--test-lines` (300) *other* lines of Courier
   Prime, the typewriter face held out of the shipped model's training
   (scandex.training.fonts.HELD_OUT_FAMILIES), rendered and degraded like typed scans by
   scandex.training.render, with texts from different seeds. A tenth of the corrected lines
   is the trainer's --dev set, as a user would keep some aside. Control: `--control-lines`
   lines in faces the model was trained on, to see that fine-tuning unlearned nothing.
2. Before: the shipped model's CER on the test lines, the network alone (greedy) and as
   `scandex run` reads (lexicon decoding). Peer: Tesseract 5 on the same lines, same run.
3. Fine-tune exactly as README says: `scandex train --from default --lines L --dev D --out O
   --learning-rate 1e-4 --real-fraction 0.7 --max-minutes N` (`--learning-rate` to try others).
4. After: the same measures with O/best.onnx. The goal: test-line CER at least halved.
5. The loop (`--archive-pages`, 3): `scandex run` reads pages typed in Courier Prime with the
   shipped model; ocr.model is set to the new one and the daemon gets SIGHUP; the clock runs
   until `scandex status` counts no file read by another model; page CER before and after.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # synth.py renders the archive's pages
sys.path.insert(0, str(REPO / "benchmarks"))

import common  # noqa: E402
import peers  # noqa: E402

FACE_FAMILY = "Courier Prime"


@dataclass(frozen=True)
class Line:
    path: str
    text: str


def faces(family: str | None, *, held_out: bool) -> list:
    from scandex.training.fonts import find_fonts, split_fonts

    train, test = split_fonts(find_fonts())
    chosen = [f for f in (test if held_out else train) if family is None or f.family == family]
    if not chosen:
        raise SystemExit(f"no installed {family or 'training'} fonts (Debian: fonts-courier-prime)")
    return chosen


def render_lines(folder: Path, count: int, face_list: list, seed: int) -> list[Line]:
    """`count` degraded lines, each NAME.png with NAME.gt.txt beside it (OCRopus)."""
    from scandex.ocr.codec import DEFAULT_ALPHABET, normalize_text
    from scandex.training.render import render_line, supported_characters
    from scandex.training.text import TextSource

    folder.mkdir(parents=True, exist_ok=True)
    rng, source = random.Random(seed), TextSource(seed)
    supported = {f.path: supported_characters(f.path, DEFAULT_ALPHABET) for f in face_list}
    lines = []
    while len(lines) < count:
        face = face_list[len(lines) % len(face_list)]
        text = normalize_text(source.line())
        if not text.strip() or not set(text) <= supported[face.path]:
            continue
        rendered = render_line(text, face, rng)
        stem = folder / f"{len(lines):04d}"
        cv2.imwrite(f"{stem}.png", rendered.image)
        Path(f"{stem}.gt.txt").write_text(rendered.text + "\n", encoding="utf-8")
        lines.append(Line(f"{stem}.png", rendered.text))
    return lines


def cer(model: Path, lines: list[Line], *, lexicon: bool) -> float:
    from scandex.ocr.io import load_pages
    from scandex.ocr.lexicon import LexiconParams
    from scandex.ocr.recognize import Recognizer

    recognizer = Recognizer(model, lexicon=LexiconParams().load() if lexicon else None)
    images = [load_pages(line.path)[0].gray for line in lines]
    results = recognizer.recognize(images)
    total = common.Score()
    for line, result in zip(lines, results, strict=True):
        total += common.score(common.comparable(line.text), common.comparable(result.text))
    return total.cer


def tesseract_cer(lines: list[Line]) -> float | None:
    if peers.tesseract_version() is None:
        return None
    read = peers.tesseract_list([line.path for line in lines], psm=7)  # one line per image
    if read is None:
        return None
    total = common.Score()
    for line, text in zip(lines, read.texts, strict=True):
        total += common.score(common.comparable(line.text), common.comparable(text))
    return total.cer


def fine_tune(
    train: Path, dev: Path, out: Path, max_minutes: float, learning_rate: float
) -> tuple[Path, float]:
    command = [
        str(Path(sys.executable).parent / "scandex"),
        "train",
        "--from", "default",
        "--lines", str(train),
        "--dev", str(dev),
        "--out", str(out),
        "--learning-rate", f"{learning_rate:g}",
        "--real-fraction", "0.7",
        "--max-minutes", str(max_minutes),
        "--eval-minutes", str(max(1.0, max_minutes / 6)),
    ]  # fmt: skip
    print("  $", " ".join(command), flush=True)
    started = time.monotonic()
    subprocess.run(command, check=True)
    return out / "best.onnx", time.monotonic() - started


def archive_loop(folder: Path, model: Path, pages: int) -> dict[str, float]:
    """`scandex run` on typed pages with the shipped model, then SIGHUP with `model`."""
    from synth import render_page

    from scandex.ocr.hocr import read_hocr_file

    scans = folder / "scans"
    scans.mkdir(parents=True)
    truth = {}
    for i in range(pages):
        synth = render_page("one_column", dpi=200, font="typewriter", seed=900 + i)
        path = scans / f"page-{i}.png"
        cv2.imwrite(str(path), synth.image)
        truth[path] = "\n".join(line.text for line in synth.lines)
    config = folder / "config.toml"
    base = '[watch]\npaths = ["scans"]\nsettle_seconds = 0.5\n[ocr]\nworkers = 1\n'
    config.write_text(base, encoding="utf-8")
    scandex = str(Path(sys.executable).parent / "scandex")

    def status() -> dict:
        result = subprocess.run(
            [scandex, "status", "--format", "json", "--config", str(config)],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(result.stdout)

    def page_cer() -> float:
        total = common.Score()
        for path, text in truth.items():
            doc = read_hocr_file(path.with_suffix(".hocr"))
            read = "\n".join(line.text for page in doc.pages for line in page.lines)
            total += common.score(common.comparable(text), common.comparable(read))
        return total.cer

    def wait(predicate, seconds: float = 1800.0) -> None:
        deadline = time.monotonic() + seconds
        while not predicate():
            if time.monotonic() > deadline:
                raise SystemExit("the daemon did not finish in time")
            time.sleep(0.5)

    daemon = subprocess.Popen(
        [scandex, "run", "--config", str(config)],
        stderr=(folder / "daemon.log").open("wb"),
        start_new_session=True,
    )
    try:
        wait(lambda: status()["counts"]["done"] == pages)
        before = page_cer()
        config.write_text(base + f'model = "{model}"\n', encoding="utf-8")
        started = time.monotonic()
        daemon.send_signal(signal.SIGHUP)
        wait(lambda: (s := status()["model"])["configured"].startswith(model.name)
             and s["read_by_other_models"] == 0)  # fmt: skip
        seconds = time.monotonic() - started
        after = page_cer()
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=120)
    return {"before": before, "after": after, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200, help="corrected lines (train + dev)")
    parser.add_argument("--test-lines", type=int, default=300)
    parser.add_argument("--control-lines", type=int, default=150)
    parser.add_argument("--max-minutes", type=float, default=60.0, help="training time limit")
    parser.add_argument(
        "--learning-rate", type=float, default=1e-4, help="as README recommends for fine-tuning"
    )
    parser.add_argument("--archive-pages", type=int, default=3, help="0 skips the loop")
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    parser.add_argument(
        "--tuned", type=Path, help="measure this fine-tuned model instead of training one"
    )
    args = parser.parse_args()

    from scandex.ocr.recognize import default_model_path

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-finetune-"))
    courier = faces(FACE_FAMILY, held_out=True)
    print(f"{FACE_FAMILY}: {', '.join(sorted(Path(f.path).name for f in courier))}")
    dev_count = max(1, args.lines // 10)
    train_lines = render_lines(work / "corrected", args.lines - dev_count, courier, seed=101)
    render_lines(work / "dev", dev_count, courier, seed=202)
    test = render_lines(work / "test", args.test_lines, courier, seed=303)
    control_faces = faces(None, held_out=False)
    control = render_lines(work / "control", args.control_lines, control_faces, seed=404)
    print(f"rendered {len(train_lines)} + {dev_count} corrected, {len(test)} test and "
          f"{len(control)} control lines in {work}", flush=True)  # fmt: skip

    shipped = default_model_path()
    before = {
        "test": cer(shipped, test, lexicon=False),
        "test_lexicon": cer(shipped, test, lexicon=True),
        "control": cer(shipped, control, lexicon=True),
    }
    tesseract = tesseract_cer(test)
    if args.tuned:
        tuned, train_seconds = args.tuned, 0.0
    else:
        tuned, train_seconds = fine_tune(
            work / "corrected", work / "dev", work / "run", args.max_minutes, args.learning_rate
        )
    after = {
        "test": cer(tuned, test, lexicon=False),
        "test_lexicon": cer(tuned, test, lexicon=True),
        "control": cer(tuned, control, lexicon=True),
    }
    rows = [
        [f"{FACE_FAMILY} test lines, network alone", common.pct(before["test"]),
         common.pct(after["test"]), f"{before['test'] / max(after['test'], 1e-9):.2f}x", "-"],
        [f"{FACE_FAMILY} test lines, as scandex run reads", common.pct(before["test_lexicon"]),
         common.pct(after["test_lexicon"]),
         f"{before['test_lexicon'] / max(after['test_lexicon'], 1e-9):.2f}x",
         common.pct(tesseract)],
        ["control lines (training faces)", common.pct(before["control"]),
         common.pct(after["control"]), "-", "-"],
    ]  # fmt: skip
    if args.archive_pages:
        loop = archive_loop(work / "archive", tuned, args.archive_pages)
        rows.append(
            [f"{args.archive_pages} typed pages: page CER; re-read in {loop['seconds']:.0f} s",
             common.pct(loop["before"]), common.pct(loop["after"]), "-", "-"]
        )  # fmt: skip
    trained = f"{args.tuned}" if args.tuned else f"{train_seconds / 60:.1f} min of training"
    common.print_table(
        f"Fine-tuning on {args.lines} corrected lines: {trained}",
        ["CER", "shipped model", "fine-tuned", "better by", "Tesseract 5"],
        rows,
    )
    halved = after["test_lexicon"] <= before["test_lexicon"] / 2
    print(f"\ngoal (test CER at least halved): {'met' if halved else 'NOT met'}")
    print(f"reproduce: {common.reproduce_command()}")


if __name__ == "__main__":
    main()
