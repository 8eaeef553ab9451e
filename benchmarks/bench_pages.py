"""Whole-page benchmark: scandex side by side with Tesseract 5 and RapidOCR.

    .venv/bin/python benchmarks/bench_pages.py [--model PATH] [--limit N] [--skip-rapidocr]

For the dev page scans (/work/shared/data/pages/dev, when present) and a few synthetic 300 dpi
pages with known text (tests/synth.py layouts), prints per page and per set: character error
rate of the page text (order-dependent), order-free word error rate, and seconds per page on
one core, plus each peer's time relative to scandex.

Engines: scandex's `ocr_file` in this process (OpenCV and onnxruntime at one thread; model
loaded before timing; decode, binarization, layout, recognition all timed); Tesseract
`tesseract IMAGE - --psm 3` with OMP_THREAD_LIMIT=1, one process per page (its start-up and
model load, printed separately, are inside its time); RapidOCR's full pipeline (detection,
direction classifier, recognizer) in its own environment, models loaded before timing. Its
text is its boxes in the order it returns them, one per line; that order is poor on
multi-column pages, so the order-free word error rate is the fair accuracy comparison.

Order-free word error rate (bag of words): both texts are split at whitespace, punctuation is
trimmed from each token's ends, empty tokens dropped, case kept; WER = 1 - matched / reference
words, where matched = sum over distinct words of min(count in reference, count in output).
Words the engine adds (e.g. text read inside photos, which the ground truth leaves out) cost
nothing here; CER counts them. See common.py for the comparison rules (UNLV `~` etc.).
"""

from __future__ import annotations

from common import single_thread_environment

single_thread_environment()

import argparse  # noqa: E402
import glob  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import peers  # noqa: E402
from bench_recognizer import find_model  # noqa: E402
from common import REPO, Score, comparable, pct, print_table, reproduce_command, score  # noqa: E402

DEV_PAGES = "/work/shared/data/pages/dev"
# layout:font kind, rendered at 300 dpi with a slight skew, uneven light and scanner noise.
SYNTH_PAGES = ("one_column:serif", "two_column:sans", "letter:typewriter", "table:serif")
SYNTH_DPI = 300
ENGINES = ("scandex", "tesseract", "rapidocr")


@dataclass(frozen=True)
class PageSample:
    name: str
    path: str
    truth: str
    dpi: int | None = None  # told to Tesseract when the file does not say


# -- data ------------------------------------------------------------------------------------


def dev_pages(folder: str, limit: int | None) -> list[PageSample]:
    images = sorted(
        p for ext in ("tif", "tiff", "png") for p in glob.glob(os.path.join(folder, f"*.{ext}"))
    )
    samples = []
    for image in images:
        truth = Path(image).with_suffix(".gt.txt")
        if truth.exists():
            samples.append(PageSample(Path(image).stem, image, truth.read_text(encoding="utf-8")))
    return samples[:limit]


def synthetic_pages(specs: Sequence[str], folder: Path, limit: int | None) -> list[PageSample]:
    sys.path.insert(0, os.path.join(REPO, "tests"))
    from synth import render_page

    samples = []
    for n, spec in enumerate(specs[:limit]):
        layout, _, font = spec.partition(":")
        page = render_page(
            layout,
            dpi=SYNTH_DPI,
            font=font or "serif",
            angle_deg=0.8 if n % 2 else -0.6,
            illumination=0.25,
            noise_sigma=5.0,
            speckles=100,
            seed=100 + n,
        )
        path = folder / f"{layout}-{font}.png"
        cv2.imwrite(str(path), page.image)
        truth = "\n".join(line.text for line in page.lines)
        samples.append(PageSample(f"synth {layout} ({font})", str(path), truth, SYNTH_DPI))
    return samples


# -- engines ---------------------------------------------------------------------------------


def scandex_pages(pages: Sequence[PageSample], model: Path) -> peers.Timed:
    """ocr_file on each page, timed one by one (model loaded and one page read before)."""
    from scandex.ocr import OcrParams, get_recognizer, ocr_file

    params = OcrParams(model=model, threads=1)
    get_recognizer(params.model, params.threads)
    _read_or_blank(ocr_file, pages[0], params)  # warm-up: lazy initialisation, caches
    texts, walls, cpus = [], [], []
    for page in pages:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        text = _read_or_blank(ocr_file, page, params)
        walls.append(time.perf_counter() - wall0)
        cpus.append(time.process_time() - cpu0)
        texts.append(text)
    return peers.Timed(
        texts, sum(walls), sum(cpus), "in-process ocr_file", "", tuple(walls), tuple(cpus)
    )


def _read_or_blank(ocr_file, page: PageSample, params) -> str:
    from scandex.errors import ScandexError

    try:
        return ocr_file(page.path, params).text
    except ScandexError as exc:
        print(f"  ! scandex failed on {page.name}: {exc}")
        return ""


def _tesseract_pages(pages: Sequence[PageSample]) -> peers.Timed:
    """Tesseract per page; pages of one set share a dpi (or have none), so one call does."""
    dpis = {p.dpi for p in pages}
    dpi = dpis.pop() if len(dpis) == 1 else None
    return peers.tesseract_each([p.path for p in pages], psm=3, dpi=dpi)


def _attempt(name: str, run: Callable[[], peers.Timed]) -> peers.Timed | None:
    try:
        return run()
    except (RuntimeError, OSError, ValueError) as exc:
        print(f"  ! {name} skipped: {exc}")
        return None


def read_pages(pages: Sequence[PageSample], model: Path, args) -> dict[str, peers.Timed | None]:
    reads: dict[str, peers.Timed | None] = {"scandex": scandex_pages(pages, model)}
    if args.tesseract:
        reads["tesseract"] = _attempt("tesseract", lambda: _tesseract_pages(pages))
    if args.rapidocr_python:
        paths = [p.path for p in pages]
        py = args.rapidocr_python
        reads["rapidocr"] = _attempt(
            "rapidocr", lambda: peers.rapidocr(paths, mode="pages", python=py)
        )
    return reads


# -- reports ---------------------------------------------------------------------------------


def page_scores(
    pages: Sequence[PageSample], reads: dict[str, peers.Timed | None]
) -> dict[str, list[Score] | None]:
    refs = [comparable(p.truth, unlv_tildes=True) for p in pages]
    return {
        e: None
        if reads.get(e) is None
        else [score(r, comparable(t)) for r, t in zip(refs, reads[e].texts, strict=True)]
        for e in ENGINES
    }


def _row(label: str, scores: dict[str, Score | None], seconds: dict[str, float | None]) -> list:
    ref = next(s for s in scores.values() if s is not None)
    return (
        [label, ref.ref_chars, ref.ref_words]
        + [pct(s.cer) if s else "-" for s in scores.values()]
        + [pct(s.wer) if s else "-" for s in scores.values()]
        + ["-" if t is None else f"{t:.2f}" for t in seconds.values()]
    )


def print_set(
    title: str, pages: Sequence[PageSample], reads: dict[str, peers.Timed | None]
) -> None:
    scores = page_scores(pages, reads)
    rows = []
    for i, page in enumerate(pages):
        per = {e: None if scores[e] is None else scores[e][i] for e in ENGINES}
        secs = {e: None if reads.get(e) is None else reads[e].item_wall_s[i] for e in ENGINES}
        rows.append(_row(page.name, per, secs))
    totals = {e: None if scores[e] is None else sum(scores[e], Score()) for e in ENGINES}
    mean = {e: None if reads.get(e) is None else reads[e].wall_s / len(pages) for e in ENGINES}
    rows.append(_row("ALL (totals; mean s)", totals, mean))
    header = ["page", "chars", "words"] + [f"CER {e}" for e in ENGINES]
    header += [f"WER {e}" for e in ENGINES] + [f"s {e}" for e in ENGINES]
    print_table(title, header, rows)


def print_speed(title: str, n_pages: int, reads: dict[str, peers.Timed | None]) -> None:
    ours = reads["scandex"]
    rows = []
    for name, timed in reads.items():
        if timed is None:
            continue
        rows.append(
            [
                name,
                timed.note,
                n_pages,
                f"{timed.wall_s / n_pages:.2f}",
                f"{timed.cpu_s / n_pages:.2f}",
                f"{timed.wall_s / max(ours.wall_s, 1e-9):.2f}x",
                f"{timed.cpu_s / max(ours.cpu_s, 1e-9):.2f}x",
            ]
        )
    header = ["engine", "how", "pages", "s/page wall", "s/page CPU"]
    header += ["scandex faster (wall)", "(CPU)"]
    print_table(title, header, rows)


# -- main ------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="scandex ONNX model (default: the shipped en.onnx)")
    parser.add_argument("--limit", type=int, help="at most N pages from each set")
    parser.add_argument("--dev-pages", default=DEV_PAGES)
    parser.add_argument(
        "--synthetic",
        default=",".join(SYNTH_PAGES),
        help="comma-separated layout:font of tests/synth.py ('' for none)",
    )
    peers.add_peer_arguments(parser)
    return peers.resolve_peers(parser.parse_args())


def run_set(title: str, pages: Sequence[PageSample], model: Path, args) -> None:
    if not pages:
        print(f"\n{title}: no pages; skipped")
        return
    reads = read_pages(pages, model, args)
    print_set(title, pages, reads)
    print_speed(f"{title}: seconds per page, one core", len(pages), reads)
    for about in sorted({r.about for r in reads.values() if r is not None and r.about}):
        print(f"  {about}")


def main() -> None:
    args = parse_args()
    cv2.setNumThreads(1)
    model = find_model(args.model)
    print(f"command: {reproduce_command()}")
    print(f"model: {model}")
    print(f"tesseract: {peers.tesseract_version() if args.tesseract else 'skipped'} (--psm 3)")
    if args.tesseract:
        print(f"tesseract start-up + model load: {peers.tesseract_startup_s():.3f} s per process")
    print("comparison: NFC, ligatures expanded, quotes folded, whitespace collapsed (both sides)")
    if Path(args.dev_pages).is_dir():
        run_set("dev page scans", dev_pages(args.dev_pages, args.limit), model, args)
    else:
        print(f"\ndev page scans: {args.dev_pages} is absent; skipped")
    specs = [s for s in args.synthetic.split(",") if s]
    with tempfile.TemporaryDirectory(prefix="scandex-bench-pages-") as tmp:
        pages = synthetic_pages(specs, Path(tmp), args.limit)
        run_set(f"synthetic pages ({SYNTH_DPI} dpi)", pages, model, args)
    print(f"\nreproduce: {reproduce_command()}")


if __name__ == "__main__":
    main()
