"""Cut each text line out of the deskewed grayscale page: its own ink, a small margin.

The recognizer gets gray, not binary, pixels (it decides what it needs). The ink of other
lines (the ascenders and descenders of the neighbours) and of things that are not text (a
rule, a stamp, a photograph) is painted over with paper, a pixel around it too; the line's
own components stay, and so do the faint strokes the threshold missed and the small marks no
line took, which are mostly the broken strokes of this line's letters (on the typewritten
EHRI pages keeping them reads 12.8% bag-of-words WER where painting out all but the line's
own components read 14.6%, with the same lines and model). An underline or strike-through
that touches the letters is painted out too (EHRI 12.8% -> 12.5%). A line is a whole row, so it
may hold wide stretches of paper (a tab stop after a line number, the leader before a
price, a table's cells): those are cut down to a little more than a word space, because the
recognizer, trained on lines without them, reads the words on both sides as one. Every line
also carries the way back to the original image: its box there, its baseline in hOCR terms,
the affine from the uncut crop's pixels to original pixels and where paper was cut out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import cv2
import numpy as np

from scandex.ocr.deskew import map_boxes_to_original
from scandex.page import BBox

if TYPE_CHECKING:
    from scandex.ocr.binarize import Binarized
    from scandex.ocr.segment import Layout


@dataclass(frozen=True)
class LineParams:
    # Paper around the line's ink, in text scales: at least the margin the recognizer's
    # normalization keeps (a quarter of the ink's height, which is 1.5 to 2 scales), or a
    # stop or comma at the line's end sits at the image's edge and is often not read.
    margin: float = 0.5
    min_margin_px: int = 2
    halo_px: int = 1  # paper painted this far around other lines' ink (anti-aliased edges)
    # In text scales: stretches of paper inside a line wider than this (a word space is
    # about 0.5, two typewriter spaces 1.5 to 2) are cut down to `kept_gap`.
    max_gap: float = 2.5
    kept_gap: float = 1.5


@dataclass(frozen=True)
class LineImage:
    image: np.ndarray  # uint8 gray, 255 = paper, only this line's ink, small margin
    bbox: BBox  # tight box of the line's ink, ORIGINAL image pixels
    baseline: tuple[float, float] | None  # hOCR (slope, offset) in original pixels
    column: int  # index of its block (column or run of rows) in reading order
    to_original: np.ndarray  # 2x3 affine: pixel (x, y) of the uncut crop -> original (x, y)
    # Where paper was cut out of the image: at image column cut_at[k] (sorted), all
    # columns from there on lie cut_px[k] further right in the uncut crop (cumulative).
    cut_at: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cut_px: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def crop_x(self, x: np.ndarray, *, right_edge: bool = False) -> np.ndarray:
        """Image x positions in the uncut crop; a right edge at a cut stays left of it."""
        x = np.asarray(x, np.float64)
        if len(self.cut_at) == 0:
            return x
        k = np.searchsorted(self.cut_at, x, side="left" if right_edge else "right")
        return x + np.concatenate([[0.0], self.cut_px])[k]

    def points_to_original(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """(N, 2) original-image points of image points (pixel centres)."""
        a = self.to_original
        return (
            np.stack([self.crop_x(xs), np.asarray(ys, np.float64)], axis=1) @ a[:, :2].T + a[:, 2]
        )

    def box_to_original(
        self, x0: float, y0: float, x1: float, y1: float, size: tuple[int, int]
    ) -> BBox:
        """Box, in original pixels, around a rectangle (pixel edges) of the image."""
        return self.boxes_to_original(np.array([[x0, y0, x1, y1]]), size)[0]

    def boxes_to_original(self, rects: np.ndarray, size: tuple[int, int]) -> list[BBox]:
        """box_to_original of each row (x0, y0, x1, y1) of an (N, 4) array, in one pass."""
        rects = np.asarray(rects, np.float64).reshape(-1, 4)
        crop = np.stack(
            [
                np.floor(self.crop_x(rects[:, 0])),
                np.floor(rects[:, 1]),
                np.ceil(self.crop_x(rects[:, 2], right_edge=True)),
                np.ceil(rects[:, 3]),
            ],
            axis=1,
        )
        mapped = map_boxes_to_original(crop, self.to_original, size)
        return [BBox(x0, y0, x1, y1) for x0, y0, x1, y1 in mapped.tolist()]


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
    max_gap_px = max(1, round(params.max_gap * layout.scale_px))
    kept_gap_px = max(1, round(params.kept_gap * layout.scale_px))
    # One lookup per pixel: the line of each label, or -2 for ink that is not text.
    owner_of_label = np.where(not_text_labels(layout), -2, layout.line_of_label).astype(np.int32)
    # A straight stroke lies in one mark: only a line with a mark as long as an underline
    # can have one.
    underline_px = _underline_px(layout.scale_px)
    widest = np.zeros(len(layout.lines), np.int64)
    mine = layout.line_of_label >= 0
    np.maximum.at(widest, layout.line_of_label[mine], layout.components[mine, 2])
    return tuple(
        _cut_paper(
            _extract(
                binarized,
                layout,
                owner_of_label,
                i,
                boxes[i],
                column,
                margin,
                params.halo_px,
                underline_px if widest[i] >= underline_px else None,
            ),
            max_gap_px,
            kept_gap_px,
        )
        for i, column in zip(order, columns, strict=True)
    )


def not_text_labels(layout: Layout, piece_scales: float = 1.5) -> np.ndarray:
    """bool per label: ink that is no line's and no piece of a letter either: marks larger
    than `piece_scales` text scales either way, and whatever lies in a photograph or is a
    printed rule. The small marks no line took (a faded letter's broken strokes, a stop
    too far from its word) stay in the line images they fall in."""
    comps = layout.components
    unassigned = layout.line_of_label < 0
    limit = piece_scales * max(layout.scale_px, 1.0)
    big = (comps[:, 2] > limit) | (comps[:, 3] > limit)
    cx = comps[:, 0] + comps[:, 2] / 2.0
    cy = comps[:, 1] + comps[:, 3] / 2.0
    inside = np.zeros(len(comps), bool)
    for box in (*layout.pictures, *layout.rules):
        inside |= (cx >= box.x0) & (cx < box.x1) & (cy >= box.y0) & (cy < box.y1)
    out = unassigned & (big | inside)
    out[0] = False  # the paper
    return out


def _cut_paper(line: LineImage, max_gap_px: int, kept_gap_px: int) -> LineImage:
    """The line with each inner stretch of paper wider than max_gap_px cut to kept_gap_px
    (half kept on each side, so the words keep their own margins)."""
    # Paper keeps its noise (flattened paper is 255 give or take a few levels).
    ink = line.image.min(axis=0) < 200
    columns = np.flatnonzero(ink)
    if len(columns) == 0:
        return line
    inner = ink[columns[0] : columns[-1] + 1]
    edges = np.flatnonzero(np.diff(np.concatenate([[1], inner.view(np.int8), [1]])))
    starts, ends = edges[0::2] + columns[0], edges[1::2] + columns[0]  # runs of paper
    wide = ends - starts > max_gap_px
    if not wide.any():
        return line
    kept = []  # the stretches of columns kept, left to right
    cut_at, cut_px = [], []
    removed = 0
    kept_from = 0
    for start, end in zip(starts[wide].tolist(), ends[wide].tolist(), strict=True):
        drop_from = start + kept_gap_px // 2
        drop_to = end - (kept_gap_px - kept_gap_px // 2)
        kept.append(line.image[:, kept_from:drop_from])
        kept_from = drop_to
        removed += drop_to - drop_from
        cut_at.append(drop_from - (removed - (drop_to - drop_from)))
        cut_px.append(removed)
    kept.append(line.image[:, kept_from:])
    return replace(
        line,
        # Joined stretch by stretch: a boolean mask over the columns cost twice as much.
        image=np.concatenate(kept, axis=1),
        cut_at=np.array(cut_at, np.float64),
        cut_px=np.array(cut_px, np.float64),
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
    owner_of_label: np.ndarray,
    index: int,
    bbox: BBox,
    column: int,
    margin: int,
    halo_px: int,
    underline_px: int | None,
) -> LineImage:
    """The line's crop of the flattened gray page with the ink of other lines and of things
    that are not text painted over with paper (`halo_px` around it), and its underlines
    (straight strokes of underline_px or longer; None: it has none); its own ink, faint
    strokes the threshold missed and the small marks no line took stay."""
    box = layout.lines[index].bbox
    frame_h, frame_w = binarized.binary.shape
    x0, y0 = max(0, box.x0 - margin), max(0, box.y0 - margin)
    x1, y1 = min(frame_w, box.x1 + margin), min(frame_h, box.y1 + margin)
    owner = np.take(owner_of_label, layout.labels[y0:y1, x0:x1])
    mine = owner == index  # the line's own ink
    foreign = (owner != -1) ^ mine
    if halo_px > 0:
        size = 2 * halo_px + 1
        foreign = cv2.dilate(foreign.view(np.uint8), np.ones((size, size), np.uint8))
        # foreign and not mine, on 0/1 bytes (faster than a boolean index).
        foreign = cv2.subtract(foreign, mine.view(np.uint8)).view(bool)
    image = binarized.gray[y0:y1, x0:x1].copy()
    np.putmask(image, foreign, 255)
    if underline_px is not None:
        image[_underline(mine, underline_px)] = 255

    a = np.asarray(binarized.to_original, np.float64)
    to_original = a.copy()
    to_original[:, 2] = a[:, :2] @ np.array([x0, y0], np.float64) + a[:, 2]
    baseline_y = layout.lines[index].baseline_y
    baseline = None if baseline_y is None else _hocr_baseline(a, box, baseline_y, bbox)
    return LineImage(image, bbox, baseline, column, to_original)


def _underline_px(scale_px: float) -> int:
    """Length of an underline or strike-through: 2.5 text scales (a dash is shorter)."""
    return max(8, round(2.5 * scale_px))


def _underline(ink: np.ndarray, length: int) -> np.ndarray:
    """bool mask of the straight horizontal strokes of a line's ink `length` pixels or
    longer (an underline or a strike-through that touches the letters), a pixel above and
    below included: the recognizer reads the letters, not the rule."""
    if ink.shape[1] < length:
        return np.zeros(ink.shape, bool)
    runs = cv2.morphologyEx(ink.view(np.uint8), cv2.MORPH_OPEN, np.ones((1, length), np.uint8))
    return cv2.dilate(runs, np.ones((3, 1), np.uint8)) > 0


def _hocr_baseline(a: np.ndarray, box: BBox, baseline_y: float, bbox: BBox) -> tuple[float, float]:
    """hOCR "baseline slope offset": y = slope * (x - x0) + offset from the bottom-left corner
    of the original-image box; the deskewed baseline is horizontal, so map two points."""
    ends = np.array([[box.x0 - 0.5, baseline_y - 0.5], [box.x1 - 0.5, baseline_y - 0.5]])
    p = ends @ a[:, :2].T + a[:, 2]
    dx = p[1, 0] - p[0, 0]
    slope = float((p[1, 1] - p[0, 1]) / dx) if abs(dx) > 1e-9 else 0.0
    y_at_x0 = p[0, 1] + 0.5 + slope * (bbox.x0 - (p[0, 0] + 0.5))
    return (round(slope, 5), round(float(y_at_x0 - bbox.y1), 2))
