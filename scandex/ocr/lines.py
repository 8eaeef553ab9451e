"""Cut each text line out of the deskewed grayscale page: only its own ink, a small margin.

The recognizer gets gray, not binary, pixels (it decides what it needs), but only within a
pixel of the line's own components: the ascenders and descenders of the neighbouring lines,
a rule or a stamp that reach into the line's box become paper. Every line also carries the
way back to the original image: its box there, its baseline in hOCR terms, and the affine
from the line image's pixels to original pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from scandex.page import BBox

if TYPE_CHECKING:
    from scandex.ocr.binarize import Binarized
    from scandex.ocr.segment import Layout


@dataclass(frozen=True)
class LineParams:
    margin: float = 0.25  # paper around the line's ink, in text scales
    min_margin_px: int = 2
    halo_px: int = 1  # gray kept around the line's ink pixels (anti-aliased edges)


@dataclass(frozen=True)
class LineImage:
    image: np.ndarray  # uint8 gray, 255 = paper, only this line's ink, small margin
    bbox: BBox  # tight box of the line's ink, ORIGINAL image pixels
    baseline: tuple[float, float] | None  # hOCR (slope, offset) in original pixels
    column: int  # index of its block (column or run of rows) in reading order
    to_original: np.ndarray  # 2x3 affine: line-image pixel (x, y) -> original (x, y)


def extract_lines(
    binarized: Binarized,
    layout: Layout,
    order: Sequence[int],
    columns: Sequence[int],
    params: LineParams = LineParams(),
) -> tuple[LineImage, ...]:
    """The line images of `layout.lines[i]` for i in `order`, with `columns[k]` for order[k]."""
    boxes = original_boxes(binarized, layout)
    margin = max(params.min_margin_px, round(params.margin * layout.scale_px))
    return tuple(
        _extract(binarized, layout, i, boxes[i], column, margin, params.halo_px)
        for i, column in zip(order, columns, strict=True)
    )


def original_boxes(binarized: Binarized, layout: Layout) -> list[BBox]:
    """Each line's box in the original image: the box of its components' mapped corners.

    Mapping the corners of every component, not of the whole line box, keeps the box tight
    on a skewed page (a rotated line box grows by its width times the sine of the skew).
    """
    n_lines = len(layout.lines)
    if n_lines == 0:
        return []
    line = layout.line_of_label[1:].astype(np.int64)
    mine = np.flatnonzero(line >= 0)
    comps = layout.components[1:][mine].astype(np.float64)
    line = line[mine]
    x0, y0 = comps[:, 0] - 0.5, comps[:, 1] - 0.5  # pixel edges in centre coordinates
    x1, y1 = x0 + comps[:, 2], y0 + comps[:, 3]
    corners = np.stack(
        [np.stack(c, axis=1) for c in ((x0, y0), (x1, y0), (x0, y1), (x1, y1))], axis=1
    ).reshape(-1, 2)
    a = np.asarray(binarized.to_original, np.float64)
    mapped = corners @ a[:, :2].T + a[:, 2]
    owner = np.repeat(line, 4)
    lo = np.full((n_lines, 2), np.inf)
    hi = np.full((n_lines, 2), -np.inf)
    np.minimum.at(lo, owner, mapped)
    np.maximum.at(hi, owner, mapped)
    width, height = binarized.original_size
    eps = 1e-6
    return [
        BBox(
            math.floor(lo[i, 0] + 0.5 + eps),
            math.floor(lo[i, 1] + 0.5 + eps),
            math.ceil(hi[i, 0] + 0.5 - eps),
            math.ceil(hi[i, 1] + 0.5 - eps),
        ).clip(width, height)
        for i in range(n_lines)
    ]


def _extract(
    binarized: Binarized,
    layout: Layout,
    index: int,
    bbox: BBox,
    column: int,
    margin: int,
    halo_px: int,
) -> LineImage:
    box = layout.lines[index].bbox
    frame_h, frame_w = binarized.binary.shape
    x0, y0 = max(0, box.x0 - margin), max(0, box.y0 - margin)
    x1, y1 = min(frame_w, box.x1 + margin), min(frame_h, box.y1 + margin)
    labels = layout.labels[y0:y1, x0:x1]
    owner = layout.line_of_label[labels]
    own = (owner == index).astype(np.uint8)
    if halo_px > 0:
        size = 2 * halo_px + 1
        keep = cv2.dilate(own, np.ones((size, size), np.uint8)) > 0
        keep &= ~(binarized.binary[y0:y1, x0:x1] & (own == 0))  # never another thing's ink
    else:
        keep = own > 0
    gray = binarized.gray[y0:y1, x0:x1]
    image = np.full(gray.shape, 255, np.uint8)
    image[keep] = np.clip(gray[keep] * 255.0 + 0.5, 0, 255).astype(np.uint8)

    a = np.asarray(binarized.to_original, np.float64)
    to_original = a.copy()
    to_original[:, 2] = a[:, :2] @ np.array([x0, y0], np.float64) + a[:, 2]
    baseline_y = layout.lines[index].baseline_y
    baseline = None if baseline_y is None else _hocr_baseline(a, box, baseline_y, bbox)
    return LineImage(image, bbox, baseline, column, to_original)


def _hocr_baseline(a: np.ndarray, box: BBox, baseline_y: float, bbox: BBox) -> tuple[float, float]:
    """hOCR "baseline slope offset": y = slope * (x - x0) + offset from the bottom-left corner
    of the original-image box; the deskewed baseline is horizontal, so map two points."""
    ends = np.array([[box.x0 - 0.5, baseline_y - 0.5], [box.x1 - 0.5, baseline_y - 0.5]])
    p = ends @ a[:, :2].T + a[:, 2]
    dx = p[1, 0] - p[0, 0]
    slope = float((p[1, 1] - p[0, 1]) / dx) if abs(dx) > 1e-9 else 0.0
    y_at_x0 = p[0, 1] + 0.5 + slope * (bbox.x0 - (p[0, 0] + 0.5))
    return (round(slope, 5), round(float(y_at_x0 - bbox.y1), 2))
