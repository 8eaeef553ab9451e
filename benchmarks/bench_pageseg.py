"""Page analysis speed per stage on a 300 dpi letter page, one core, and line counts on real pages.

    .venv/bin/python benchmarks/bench_pageseg.py [--repeat 7] [--dev-pages DIR] [--no-tesseract]

Stages: binarize + deskew (scandex.ocr.binarize, scandex.ocr.deskew), segmentation
(scandex.ocr.segment), reading order, line extraction (scandex.ocr.lines). Median CPU
milliseconds of the calling thread over --repeat runs (wall time on a shared machine
measures the neighbours too), OpenCV on one thread, for synthetic 2550 x 3300 pages (a
letter straight and skewed by 2.7 degrees, two columns, a table). The issue's target:
binarize + deskew + segment under 300 ms per page.

Then, for each *.tif in the dev pages folder (default /work/shared/data/pages/dev, skipped
with a note when absent): the lines scandex finds, the non-empty lines of the ground-truth
text beside it (*.gt.txt), and the text lines Tesseract's own layout analysis finds
(`tesseract IMG - --psm 3 tsv`, level-4 rows) when tesseract is installed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import cv2  # noqa: E402
from synth import render_page  # noqa: E402

from scandex.ocr.analyze import AnalyzeParams, analyze_page  # noqa: E402
from scandex.ocr.binarize import binarize  # noqa: E402
from scandex.ocr.lines import extract_lines  # noqa: E402
from scandex.ocr.reading_order import reading_blocks  # noqa: E402
from scandex.ocr.segment import segment  # noqa: E402

DEFAULT_DEV = Path("/work/shared/data/pages/dev")


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    """Median CPU milliseconds of this thread (OpenCV runs on it alone): unlike wall time,
    it does not count the time other processes on a busy machine take from us."""
    fn()  # warm up
    times = []
    for _ in range(repeat):
        start = time.thread_time()
        fn()
        times.append((time.thread_time() - start) * 1000.0)
    return statistics.median(times)


def stage_times(gray, repeat: int) -> dict[str, float]:
    params = AnalyzeParams()
    binarized = binarize(gray, params.binarize)
    layout = segment(binarized, params.segment)
    blocks = reading_blocks(layout.boxes)
    order = [i for b in blocks for i in b.lines]
    columns = [k for k, b in enumerate(blocks) for _ in b.lines]
    return {
        "binarize+deskew": median_ms(lambda: binarize(gray, params.binarize), repeat),
        "segment": median_ms(lambda: segment(binarized, params.segment), repeat),
        "reading order": median_ms(lambda: reading_blocks(layout.boxes), repeat),
        "line images": median_ms(
            lambda: extract_lines(binarized, layout, order, columns, params.lines), repeat
        ),
        "lines": float(len(layout.lines)),
    }


def tesseract_lines(path: Path) -> int | None:
    if shutil.which("tesseract") is None:
        return None
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    result = subprocess.run(
        ["tesseract", str(path), "-", "--psm", "3", "tsv"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        return None
    rows = [r.split("\t") for r in result.stdout.splitlines()[1:]]
    return sum(1 for r in rows if r and r[0] == "4")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--dev-pages", type=Path, default=DEFAULT_DEV)
    parser.add_argument("--no-tesseract", action="store_true")
    args = parser.parse_args()
    cv2.setNumThreads(1)

    print(f"$ {' '.join([Path(sys.executable).name, *sys.argv])}")
    print("\nPer-stage median CPU ms, 2550 x 3300 (300 dpi letter), OpenCV on 1 thread\n")
    pages = {
        "letter": render_page("letter", noise_sigma=4.0, seed=1),
        "letter, 2.7 deg skew": render_page("letter", angle_deg=2.7, noise_sigma=4.0, seed=1),
        "two columns, 1.2 deg": render_page("two_column", angle_deg=1.2, seed=2),
        "table, -0.8 deg": render_page("table", angle_deg=-0.8, seed=3),
    }
    header = ["page", "binarize+deskew", "segment", "reading order", "line images", "b+d+s"]
    print(f"| {' | '.join(header)} | lines |")
    print("|" + "---|" * (len(header) + 1))
    for name, page in pages.items():
        t = stage_times(page.image, args.repeat)
        total = t["binarize+deskew"] + t["segment"]
        cells = [f"{t[k]:.1f}" for k in header[1:-1]]
        print(f"| {name} | {' | '.join(cells)} | {total:.1f} | {int(t['lines'])} |")

    print(f"\nLine counts on {args.dev_pages}")
    tifs = sorted(args.dev_pages.glob("*.tif")) if args.dev_pages.is_dir() else []
    if not tifs:
        print("(absent: no dev pages to count)")
        return
    from scandex.ocr.io import load_pages

    use_tesseract = not args.no_tesseract and shutil.which("tesseract") is not None
    print("\n| page | size | scandex lines | blocks | ground-truth lines | tesseract lines | ms |")
    print("|---|---|---|---|---|---|---|")
    for tif in tifs:
        gray = load_pages(tif)[0].gray
        start = time.thread_time()
        analysis = analyze_page(gray)
        ms = (time.thread_time() - start) * 1000.0
        gt = tif.with_name(tif.name.removesuffix(".tif") + ".gt.txt")
        gt_lines = (
            sum(1 for line in gt.read_text(errors="replace").splitlines() if line.strip())
            if gt.exists()
            else "-"
        )
        tess = tesseract_lines(tif) if use_tesseract else None
        print(
            f"| {tif.name} | {gray.shape[1]}x{gray.shape[0]} | {len(analysis.lines)} |"
            f" {len(analysis.columns)} | {gt_lines} | {tess if tess is not None else '-'} |"
            f" {ms:.0f} |"
        )


if __name__ == "__main__":
    main()
