"""Training lines cut from synthetic pages by our own page analysis.

Lines rendered one at a time never look quite like what the segmenter hands the recognizer
at run time (its margins, the neighbours' ink it masks away, the deskew resampling). So we
also render whole pages of known text, run `analyze_page` on them, and keep each extracted
line whose box matches exactly one true line.
"""

from __future__ import annotations

import random

import cv2
import numpy as np

from scandex.errors import SegmentationError
from scandex.ocr.deskew import map_box_to_original
from scandex.page import BBox
from scandex.training.fonts import FontFace
from scandex.training.render import draw_text, random_space_scale


def render_page_lines(
    texts: list[str], face: FontFace, rng: random.Random
) -> tuple[np.ndarray, list[tuple[str, BBox]]]:
    """A page (uint8, 255 = paper) with `texts` as left-aligned lines, and each line's ink box."""
    size_px = rng.randint(22, 44)
    leading = rng.uniform(1.2, 1.8)
    inks = [draw_text(text, face, size_px, rng, random_space_scale(text, rng)) for text in texts]
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
            truth.append((text, BBox(x, top, x + w, top + h)))
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
        truth = [(t, map_box_to_original(b, matrix, (width, height))) for t, b in truth]
    return image, truth


def segmented_lines(
    texts: list[str],
    face: FontFace,
    rng: random.Random,
) -> list[tuple[np.ndarray, str]]:
    """(line image as our segmenter cuts it, its text) for the lines it finds unambiguously."""
    from scandex.ocr.analyze import analyze_page

    image, truth = render_page_lines(texts, face, rng)
    try:
        analysis = analyze_page(image)
    except SegmentationError:  # a page the segmenter refuses teaches nothing; draw another
        return []
    samples = []
    for line in analysis.lines:
        matches = [text for text, true_box in truth if line.bbox.iou(true_box) > 0.6]
        if len(matches) == 1:
            samples.append((line.image, matches[0]))
    return samples
