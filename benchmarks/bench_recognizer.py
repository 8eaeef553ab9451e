"""Line recognizer benchmark: scandex side by side with Tesseract 5 and RapidOCR.

    .venv/bin/python benchmarks/bench_recognizer.py [--model PATH] [--limit N] [--skip-rapidocr]

Prints (a) character error rate (CER) on the UW-III dev lines, (b) CER on synthetic lines
rendered in the fonts held out of training (Carlito, P052, Courier Prime*), clean and
degraded, split by family, plus ALL-CAPS and typewriter-font lines, (c) lines per second on
one core, (d) the model file's size. See benchmarks/README.md for how the peers are set up.

One core: scandex runs in this process with onnxruntime and OpenCV at one thread, lines
already decoded in memory, one `recognize` call for the whole set (its own width batching,
normalization and CTC decoding included), best of --repeat runs. Tesseract runs with
OMP_THREAD_LIMIT=1; RapidOCR in its own environment with onnxruntime at one thread. Both wall
and CPU seconds are printed; on a machine busy with other work, CPU seconds are the fairer.
"""

from __future__ import annotations

from common import single_thread_environment

single_thread_environment()

import argparse  # noqa: E402
import glob  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import peers  # noqa: E402
from common import Score, comparable, pct, print_table, reproduce_command, score  # noqa: E402

UW3_DEV = "/work/shared/data/lines/uw3-dev"
TRAIN_RUNS = "/work/train-runs"
SYNTH_SEED = 20261125
LINE_DPI = 300  # UW-III lines are 300 dpi scans (their PNG headers say 100); so are ours


@dataclass(frozen=True)
class LineSample:
    image: np.ndarray  # uint8 gray, 255 = paper
    text: str  # ground truth as written
    path: str  # the same image on disk, for the peers
    family: str = ""  # synthetic only: held-out font family
    degraded: bool = False
    caps: bool = False

    @property
    def typewriter(self) -> bool:
        return self.family.startswith("Courier")


# -- data ------------------------------------------------------------------------------------


def load_uw3(folder: str, limit: int | None) -> list[LineSample]:
    from scandex.ocr.io import load_pages

    samples = []
    for png in sorted(glob.glob(os.path.join(folder, "*.png")))[:limit]:
        truth = Path(png[: -len(".png")] + ".gt.txt")
        if truth.exists():
            gray = load_pages(png)[0].gray  # alpha composited on white, like the engine does
            samples.append(LineSample(gray, truth.read_text(encoding="utf-8").strip(), png))
    return samples


def _held_out_families() -> dict[str, list]:
    from scandex.training.fonts import HELD_OUT_FAMILIES, find_fonts, split_fonts

    _, test_faces = split_fonts(find_fonts())
    return {
        family + ("*" if family == "Courier Prime" else ""): [
            f for f in test_faces if f.family.startswith(family)
        ]
        for family in sorted(HELD_OUT_FAMILIES)
    }


def _renderable_text(source, face, *, caps: bool) -> str:
    """A line from the text source that the face can draw entirely with real glyphs."""
    from scandex.ocr.codec import DEFAULT_ALPHABET, normalize_text
    from scandex.training.render import supported_characters

    supported = supported_characters(face.path, DEFAULT_ALPHABET)
    for _ in range(50):
        text = normalize_text(source.line())
        text = text.upper() if caps else text
        if text.strip() and set(text) <= supported:
            return text
    return "".join(ch for ch in text if ch in supported).strip() or "TEXT"


def _crop(image: np.ndarray, ink: np.ndarray, margin_frac: float = 0.25) -> np.ndarray:
    """Cut the line out around the drawn (undegraded) ink, with a margin of a quarter of its
    height on every side, like a segmenter's line image: specks and noise do not widen it,
    and no line is cut flush to its ink (that would handicap Tesseract unfairly)."""
    mask = ink > 0.5
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return image
    margin = max(2, round(margin_frac * (rows[-1] - rows[0] + 1)))
    top, left = max(0, rows[0] - margin), max(0, cols[0] - margin)
    return image[top : rows[-1] + 1 + margin, left : cols[-1] + 1 + margin]


def _clean_image(ink: np.ndarray) -> np.ndarray:
    return _crop(np.clip(255.0 * (1.0 - ink), 0, 255).astype(np.uint8), ink)


def _degraded_image(ink: np.ndarray, rng: random.Random, typewriter: bool) -> np.ndarray:
    from scandex.training.render import degrade

    return _crop(degrade(ink, rng, typewriter=typewriter), ink)


def synthetic_lines(per_family: int, folder: Path, seed: int = SYNTH_SEED) -> list[LineSample]:
    """Each text rendered twice in the same face and size, clean and degraded; a third as many
    ALL-CAPS texts on top. Font size 24..56 px (8..13 pt at 300 dpi)."""
    from scandex.training.render import draw_text
    from scandex.training.text import TextSource

    rng = random.Random(seed)
    source = TextSource(seed)
    samples: list[LineSample] = []
    for family, faces in _held_out_families().items():
        plan = [False] * per_family + [True] * max(1, per_family // 3)
        for k, caps in enumerate(plan):
            face = faces[k % len(faces)]
            text = _renderable_text(source, face, caps=caps)
            ink = draw_text(text, face, rng.randint(24, 56), rng)
            for degraded in (False, True):
                image = (
                    _degraded_image(ink, rng, family.startswith("Courier"))
                    if degraded
                    else _clean_image(ink)
                )
                path = folder / f"{len(samples):05d}.png"
                cv2.imwrite(str(path), image)
                samples.append(LineSample(image, text, str(path), family, degraded, caps))
    return samples


# -- engines ---------------------------------------------------------------------------------


def find_model(requested: str | None) -> Path:
    from scandex.ocr.recognize import default_model_path

    if requested:
        return Path(requested)
    if default_model_path().exists():
        return default_model_path()
    runs = sorted(glob.glob(os.path.join(TRAIN_RUNS, "*", "best.onnx")), key=os.path.getmtime)
    if runs:
        return Path(runs[-1])
    raise SystemExit("no model: the package has no en.onnx yet; pass --model PATH")


def scandex_read(recognizer, images: Sequence[np.ndarray], repeat: int) -> peers.Timed:
    """One `recognize` call over all lines; the fastest of `repeat` runs (after a warm-up)."""
    recognizer.recognize(images[:8])
    best: tuple[float, float, list[str]] | None = None
    for _ in range(max(1, repeat)):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        results = recognizer.recognize(images)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        if best is None or wall < best[0]:
            best = (wall, cpu, [r.text for r in results])
    wall, cpu, texts = best
    return peers.Timed(texts, wall, cpu, "in-process, one recognize() call")


def _try(name: str, run: Callable[[], peers.Timed | None]) -> peers.Timed | None:
    try:
        return run()
    except (RuntimeError, OSError, ValueError) as exc:
        print(f"  ! {name} skipped: {exc}")
        return None


def read_all(
    samples: Sequence[LineSample], recognizer, args, *, timing: bool
) -> dict[str, peers.Timed | None]:
    """Every engine's reading of the lines; with `timing`, the extra runs the speed table needs."""
    images = [s.image for s in samples]
    paths = [s.path for s in samples]
    out: dict[str, peers.Timed | None] = {
        "scandex": scandex_read(recognizer, images, args.repeat if timing else 1)
    }
    if args.tesseract:
        out["tesseract list"] = _try(
            "tesseract list", lambda: peers.tesseract_list(paths, psm=7, dpi=LINE_DPI)
        )
        if timing or out["tesseract list"] is None:
            out["tesseract each"] = _try(
                "tesseract", lambda: peers.tesseract_each(paths, psm=7, dpi=LINE_DPI)
            )
    if args.rapidocr_python:
        py = args.rapidocr_python
        out["rapidocr"] = _try("rapidocr", lambda: peers.rapidocr(paths, mode="lines", python=py))
        if timing:
            out["rapidocr batch"] = _try(
                "rapidocr batch", lambda: peers.rapidocr_line_batch(paths, python=py)
            )
    return out


def _texts(reads: dict[str, peers.Timed | None], engine: str) -> list[str] | None:
    for key in (engine, f"{engine} list", f"{engine} each"):
        if reads.get(key) is not None:
            return reads[key].texts
    return None


# -- reports ---------------------------------------------------------------------------------

ENGINES = ("scandex", "tesseract", "rapidocr")


def scores_by_engine(
    samples: Sequence[LineSample], reads: dict[str, peers.Timed | None]
) -> dict[str, list[Score] | None]:
    refs = [comparable(s.text) for s in samples]
    table: dict[str, list[Score] | None] = {}
    for engine in ENGINES:
        texts = _texts(reads, engine)
        table[engine] = (
            None
            if texts is None
            else [score(r, comparable(t)) for r, t in zip(refs, texts, strict=True)]
        )
    return table


def _total(scores: list[Score] | None, keep: Sequence[bool]) -> Score | None:
    if scores is None:
        return None
    return sum((s for s, k in zip(scores, keep, strict=True) if k), Score())


def accuracy_rows(
    samples: Sequence[LineSample],
    scores: dict[str, list[Score] | None],
    groups: Sequence[tuple[str, Callable[[LineSample], bool]]],
) -> list[list[object]]:
    rows = []
    for label, belongs in groups:
        keep = [belongs(s) for s in samples]
        if not any(keep):
            continue
        totals = {e: _total(scores[e], keep) for e in ENGINES}
        ref_chars = next(t.ref_chars for t in totals.values() if t is not None)
        rows.append(
            [label, sum(keep), ref_chars]
            + [pct(t.cer) if t else "-" for t in totals.values()]
            + [t.char_errors if t else "-" for t in totals.values()]
        )
    return rows


def print_accuracy(title: str, samples, reads, groups) -> None:
    header = ["set", "lines", "chars"] + [f"CER {e}" for e in ENGINES]
    header += [f"errors {e}" for e in ENGINES]
    rows = accuracy_rows(samples, scores_by_engine(samples, reads), groups)
    print_table(title, header, rows)


def _in_family(family: str, degraded: bool) -> Callable[[LineSample], bool]:
    return lambda s: s.family == family and s.degraded == degraded and not s.caps


def synthetic_groups() -> list[tuple[str, Callable[[LineSample], bool]]]:
    groups: list[tuple[str, Callable[[LineSample], bool]]] = []
    for family in _held_out_families():
        for degraded in (False, True):
            label = f"{family}, {'degraded' if degraded else 'clean'}"
            groups.append((label, _in_family(family, degraded)))
    groups += [
        ("ALL-CAPS, clean", lambda s: s.caps and not s.degraded),
        ("ALL-CAPS, degraded", lambda s: s.caps and s.degraded),
        ("typewriter (Courier Prime*), all", lambda s: s.typewriter),
        ("all clean", lambda s: not s.degraded),
        ("all degraded", lambda s: s.degraded),
        ("all synthetic", lambda s: True),
    ]
    return groups


def print_speed(samples: Sequence[LineSample], reads: dict[str, peers.Timed | None]) -> None:
    n = len(samples)
    ours = reads["scandex"]
    rows = []
    for name, timed in reads.items():
        if timed is None:
            continue
        rows.append(
            [
                name,
                timed.note,
                n,
                f"{timed.wall_s:.3f}",
                f"{timed.cpu_s:.3f}",
                f"{n / max(timed.wall_s, 1e-9):.1f}",
                f"{n / max(timed.cpu_s, 1e-9):.1f}",
                f"{timed.wall_s / max(ours.wall_s, 1e-9):.1f}x",
                f"{timed.cpu_s / max(ours.cpu_s, 1e-9):.1f}x",
            ]
        )
    header = ["engine", "how", "lines", "wall s", "CPU s", "lines/s wall", "lines/s CPU"]
    header += ["scandex faster (wall)", "(CPU)"]
    print_table("(c) speed, one core, same lines", header, rows)
    widths = [s.image.shape[1] for s in samples]
    heights = [s.image.shape[0] for s in samples]
    print(
        f"  lines: median {int(np.median(widths))} x {int(np.median(heights))} px; "
        "Tesseract 'each' includes a process start-up per line, 'list' one start-up in all"
    )
    if reads.get("tesseract each") is not None:
        startup = peers.tesseract_startup_s()
        print(f"  Tesseract start-up + model load: {startup:.3f} s wall per process")
    abouts = {t.about for t in reads.values() if t is not None and t.about}
    for about in sorted(abouts):
        print(f"  {about}")


def print_model(path: Path, recognizer) -> None:
    size = path.stat().st_size
    info = recognizer.model.info
    print_table(
        "(d) model file",
        ["path", "bytes", "MB", "MiB"],
        [[str(path), size, f"{size / 1e6:.2f}", f"{size / 2**20:.2f}"]],
    )
    print(f"  architecture: {recognizer.model.architecture}")
    if info:
        print(f"  info: {info}")


# -- main ------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="scandex ONNX model (default: the shipped en.onnx)")
    parser.add_argument("--limit", type=int, help="at most N UW-III lines and N texts per font")
    parser.add_argument("--per-family", type=int, default=60, help="synthetic texts per family")
    parser.add_argument("--repeat", type=int, default=3, help="scandex timing runs (best taken)")
    parser.add_argument("--uw3-dev", default=UW3_DEV)
    peers.add_peer_arguments(parser)
    return peers.resolve_peers(parser.parse_args())


def describe_setup(args, model: Path) -> None:
    import onnxruntime

    print(f"command: {reproduce_command()}")
    print(f"model: {model}")
    print(f"scandex: onnxruntime {onnxruntime.__version__}, 1 thread, OpenCV 1 thread")
    print(f"tesseract: {peers.tesseract_version() if args.tesseract else 'skipped'}")
    print(
        "comparison: NFC, ligatures expanded, quotes folded (“ ” „ `` '' -> \", ‘ ’ ‚ ` -> '),"
        " whitespace collapsed, on both sides; CER = edit distance / reference characters"
    )


def main() -> None:
    args = parse_args()
    cv2.setNumThreads(1)
    from scandex.ocr.recognize import Recognizer

    model = find_model(args.model)
    describe_setup(args, model)
    recognizer = Recognizer(model, threads=1)
    uw3 = load_uw3(args.uw3_dev, args.limit) if Path(args.uw3_dev).is_dir() else []
    if uw3:
        uw3_reads = read_all(uw3, recognizer, args, timing=True)
        print_accuracy("(a) UW-III dev lines", uw3, uw3_reads, [("uw3-dev", lambda s: True)])
    else:
        print(f"\n(a) UW-III dev lines: {args.uw3_dev} is absent; skipped")
    per_family = min(args.per_family, args.limit or args.per_family)
    with tempfile.TemporaryDirectory(prefix="scandex-bench-lines-") as tmp:
        synth = synthetic_lines(per_family, Path(tmp))
        synth_reads = read_all(synth, recognizer, args, timing=not uw3)
        print_accuracy(
            f"(b) synthetic lines, held-out fonts (seed {SYNTH_SEED})",
            synth,
            synth_reads,
            synthetic_groups(),
        )
        print(f"\n  speed set: {'UW-III dev lines' if uw3 else 'synthetic lines (UW-III absent)'}")
        print_speed(uw3 or synth, uw3_reads if uw3 else synth_reads)
    print_model(model, recognizer)
    print(f"\nreproduce: {reproduce_command()}")


if __name__ == "__main__":
    main()
