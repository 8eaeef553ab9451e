"""Training lines cut from synthetic pages by our own page analysis.

Lines rendered one at a time never look quite like what the segmenter hands the recognizer
at run time (its margins, the neighbours' ink it masks away, the deskew resampling). So we
also render whole pages of known text, run `analyze_page` on them, and keep each extracted
line whose box matches exactly one true line.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import cv2
import numpy as np

from scandex.training.fonts import FontFace
from scandex.training.render import draw_text


def render_page_lines(
    texts: list[str], face: FontFace, rng: random.Random
) -> tuple[np.ndarray, list[tuple[str, tuple[int, int, int, int]]]]:
    """A page (uint8, 255 = paper) with `texts` as left-aligned lines, and each line's ink box."""
    size_px = rng.randint(22, 44)
    leading = rng.uniform(1.2, 1.8)
    inks = [draw_text(text, face, size_px, rng) for text in texts]
    crops: list[np.ndarray | None] = []
    for ink in inks:
        rows = np.flatnonzero((ink > 0.4).any(axis=1))
        cols = np.flatnonzero((ink > 0.4).any(axis=0))
        if rows.size == 0:
            crops.append(None)
            continue
        crops.append(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    width = max((c.shape[1] for c in crops if c is not None), default=100) + 4 * size_px
    step = int(size_px * leading)
    height = step * (len(texts) + 3)
    page = np.zeros((height, width), np.float32)
    truth = []
    y = 2 * step
    for text, crop in zip(texts, crops, strict=True):
        if crop is not None:
            x = 2 * size_px + rng.randint(0, size_px)
            # Baselines differ by ascenders/descenders; place the crop's bottom on a baseline.
            top = y - crop.shape[0] + int(size_px * 0.25 * rng.random())
            h, w = crop.shape
            w = min(w, width - x)
            page[top : top + h, x : x + w] = np.maximum(page[top : top + h, x : x + w], crop[:, :w])
            truth.append((text, (x, top, x + w, top + h)))
        y += step
    paper = rng.uniform(0.75, 1.0)
    gray = paper - (paper - rng.uniform(0.0, 0.3)) * page
    noise = np.random.default_rng(rng.randrange(2**32)).normal(0, rng.uniform(0, 0.05), gray.shape)
    image = np.clip((gray + noise) * 255, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        angle = rng.uniform(-2.0, 2.0)
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
        image = np.asarray(
            cv2.warpAffine(image, matrix, (width, height), borderValue=int(paper * 255)), np.uint8
        )
        truth = [(t, _rotated_box(b, matrix)) for t, b in truth]
    return image, truth


def _rotated_box(box, matrix) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    corners = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], np.float64)
    mapped = corners @ matrix.T
    return (
        int(mapped[:, 0].min()),
        int(mapped[:, 1].min()),
        int(mapped[:, 0].max()),
        int(mapped[:, 1].max()),
    )


def _iou(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0, w) * max(0, h)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def segmented_lines(
    texts: list[str],
    face: FontFace,
    rng: random.Random,
    analyze: Callable | None = None,
) -> list[tuple[np.ndarray, str]]:
    """(line image as our segmenter cuts it, its text) for the lines it finds unambiguously."""
    if analyze is None:
        from scandex.ocr.analyze import analyze_page

        analyze = analyze_page
    image, truth = render_page_lines(texts, face, rng)
    try:
        analysis = analyze(image)
    except Exception:  # a page the segmenter refuses teaches nothing; draw another
        return []
    samples = []
    for line in analysis.lines:
        box = line.bbox.as_list()
        matches = [text for text, true_box in truth if _iou(box, true_box) > 0.6]
        if len(matches) == 1:
            samples.append((line.image, matches[0]))
    return samples
