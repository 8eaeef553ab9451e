"""Per-stage time of binarize + deskew on a 300 dpi letter page (2550 x 3300), one core.

    .venv/bin/python benchmarks/bench_binarize.py [--repeat 10] [--angle 2.7]

Prints a table of median milliseconds per stage (the stages are the private steps of
scandex.ocr.binarize and the skew search and turn of scandex.ocr.deskew, run in the same
order as binarize() runs them), the total of one
binarize() call, and for comparison OpenCV's Otsu threshold and a 33-rotation OCRopus-style
skew search on the same page.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from synth import render_page  # noqa: E402

from scandex.ocr import binarize as bz  # noqa: E402
from scandex.ocr import deskew  # noqa: E402


def _times_ms(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(best, median) milliseconds of `repeat` calls. The best is the cost of the work
    itself; the median shows how much a busy machine adds."""
    fn()  # warm up (allocations, OpenCV's lazy init)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--angle", type=float, default=2.7, help="skew of the test page, degrees")
    parser.add_argument("--layout", default="two_column")
    args = parser.parse_args()

    cv2.setNumThreads(1)
    page = render_page(
        args.layout, dpi=300, angle_deg=args.angle, illumination=0.4, noise_sigma=6.0, seed=1
    )
    image = page.image
    params = bz.BinarizeParams()
    r = args.repeat

    # The stages, step by step, each fed with the previous stage's real output.
    work, factor = bz._working_image(image, params.work_long_side_px)
    smooth = cv2.medianBlur(work, 3)
    kernel_px = round(params.background_kernel_frac * max(work.shape))
    white = bz._white_level(smooth, kernel_px)
    outside = bz._outside_mask(smooth, white, params)
    flat = bz._flatten(image, white, outside, factor)
    levels = bz._levels(flat, outside, factor, params)
    stretched = cv2.LUT(flat, bz._stretch_lut(levels))
    threshold = round(255 * params.threshold)
    ink_work = bz._working_ink(stretched, factor, work.shape, threshold)
    angle = deskew.estimate_skew_deg(ink_work, params.skew)
    h, w = image.shape
    to_original, frame = deskew.deskew_transform((w, h), angle)

    stages: list[tuple[str, Callable[[], object]]] = [
        ("as_uint8", lambda: bz.as_uint8(image)),
        ("working image (INTER_AREA)", lambda: bz._working_image(image, params.work_long_side_px)),
        ("median 3 (working)", lambda: cv2.medianBlur(work, 3)),
        ("white level (closing)", lambda: bz._white_level(smooth, kernel_px)),
        ("outside-the-page mask", lambda: bz._outside_mask(smooth, white, params)),
        ("flatten (full res)", lambda: bz._flatten(image, white, outside, factor)),
        ("levels (histogram)", lambda: bz._levels(flat, outside, factor, params)),
        ("local black level", lambda: bz._local_black(flat, levels, outside, factor, params)),
        ("stretch (LUT)", lambda: cv2.LUT(flat, bz._stretch_lut(levels))),
        (
            "working ink (full-res threshold)",
            lambda: bz._working_ink(stretched, factor, work.shape, threshold),
        ),
        ("thin edge lines (2nd pass)", lambda: bz._edge_artifacts(ink_work, params)),
        ("skew search", lambda: deskew.estimate_skew_deg(ink_work, params.skew)),
        (
            "page mask (lazy, when asked)",
            lambda: bz.enlarge(
                bz._page_work(outside, factor, (w, h), to_original, frame),
                factor,
                frame,
                cv2.INTER_NEAREST,
            ),
        ),
        (
            "rotate once (deskew.to_frame)",
            lambda: deskew.to_frame(stretched, to_original, frame),
        ),
        ("threshold", lambda: _finish(stretched, threshold)),
    ]
    rows = [(name, *_times_ms(fn, r)) for name, fn in stages]
    total = _times_ms(lambda: bz.binarize(image, params), r)

    otsu = _times_ms(lambda: cv2.threshold(image, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU), r)
    center = (w / 2.0, h / 2.0)
    ocropus_like = _times_ms(
        lambda: [
            cv2.warpAffine(image, cv2.getRotationMatrix2D(center, a, 1.0), (w, h))
            for a in np.linspace(-2, 2, 33)
        ],
        max(1, r // 5),
    )

    print(f"page: {args.layout}, {w}x{h}, skew {args.angle:+.2f} deg, found {angle:+.3f} deg")
    print(f"{'stage':32s} {'best ms':>8s} {'median':>8s}")
    for name, best, median in rows:
        print(f"{name:32s} {best:8.1f} {median:8.1f}")
    lazy = [row for row in rows if "lazy" in row[0]]
    eager = [row for row in rows if "lazy" not in row[0]]
    print(
        f"{'sum of stages (not lazy)':32s} {sum(b for _, b, _ in eager):8.1f}"
        f" {sum(m for _, _, m in eager):8.1f}"
    )
    print(f"{'binarize() total':32s} {total[0]:8.1f} {total[1]:8.1f}")
    if lazy:
        print(f"(+ {lazy[0][1]:.1f} ms when Binarized.page_mask is read)")
    print("peers on the same page, same core:")
    print(f"{'cv2 Otsu threshold only':32s} {otsu[0]:8.1f} {otsu[1]:8.1f}")
    print(f"{'33 full-page rotations (nlbin)':32s} {ocropus_like[0]:8.1f} {ocropus_like[1]:8.1f}")
    print(f"reproduce: .venv/bin/python benchmarks/bench_binarize.py --repeat {r}")


def _finish(stretched: np.ndarray, threshold: int) -> np.ndarray:
    _, ink = cv2.threshold(stretched, threshold - 1, 1, cv2.THRESH_BINARY_INV)
    return ink.view(bool)


if __name__ == "__main__":
    main()
