"""Page analysis: from a grayscale scan to its text-line images in reading order.

    binarize -> segment -> reading order -> line images

Every box returned is in the ORIGINAL image's pixels; the deskewed frame stays inside.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import groupby

import cv2
import numpy as np

from scandex.errors import TextTooSmallError
from scandex.ocr.binarize import Binarized, BinarizeParams, as_uint8, binarize, enclosed_boxes
from scandex.ocr.deskew import line_structure, map_box_to_original
from scandex.ocr.lines import LineImage, LineParams, extract_lines
from scandex.ocr.reading_order import blocks_and_gutters
from scandex.ocr.segment import Layout, SegmentParams, segment
from scandex.page import BBox, Region

__all__ = ["AnalyzeParams", "LineImage", "PageAnalysis", "analyze_binarized", "analyze_page"]


@dataclass(frozen=True)
class AnalyzeParams:
    binarize: BinarizeParams = field(default_factory=BinarizeParams)
    segment: SegmentParams = field(default_factory=SegmentParams)  # .columns: override
    lines: LineParams = field(default_factory=LineParams)
    # A page whose text is smaller than segment.min_scale_px (a thumbnail, a scan saved at a
    # fraction of its resolution) is enlarged by a whole factor, at most max_enlargement, to
    # bring its text scale to about this, and analysed again.
    small_text_target_px: float = 7.0
    max_enlargement: int = 3
    max_enlarged_pixels: int = 60_000_000


@dataclass(frozen=True)
class PageAnalysis:
    angle_deg: float  # skew found in the original, counter-clockwise positive
    scale_px: float  # typical character height in pixels (0.0 on a blank page)
    width: int  # original image size
    height: int
    columns: tuple[BBox, ...]  # blocks (columns, runs of rows) in reading order, original px
    lines: tuple[LineImage, ...]  # reading order; line.column indexes `columns`
    gutters: tuple[BBox, ...] = ()  # column gutters, original px (for drawing)
    # Every region of the page in reading order, original px: first one per block ("text"
    # or "table", regions[k] is columns[k]), then photos and rules ("photo", "separator")
    # top to bottom.
    regions: tuple[Region, ...] = ()


def analyze_page(gray: np.ndarray, params: AnalyzeParams = AnalyzeParams()) -> PageAnalysis:
    """Binarize, deskew, segment and order a page; cut out its lines (SegmentationError if the
    page cannot be segmented; a blank page has no lines).

    Text too small to segment is read from the page enlarged: 18 typewritten pages scaled
    to a third (text 3-4 px high, 330 px wide pages) were refused whole, where enlarged
    three times half their words are found (Tesseract finds none). Every box is still in
    the given image's pixels; the line images are cut from the enlarged page.
    """
    binarized = binarize(gray, params.binarize)
    try:
        return analyze_binarized(binarized, params)
    except TextTooSmallError as small:
        factor = enlargement(small.scale_px, gray.shape[:2], params)
        # Noise chains like text too, and enlarged it would: only rows of ink are text.
        structure = line_structure(binarized.binary, params.binarize.skew)
        if factor is None or structure < params.binarize.skew.min_line_structure:
            raise
        height, width = gray.shape[:2]
        enlarged = cv2.resize(
            as_uint8(gray), (width * factor, height * factor), interpolation=cv2.INTER_CUBIC
        )
        analysis = analyze_binarized(binarize(enlarged, params.binarize), params)
        return shrink_analysis(analysis, factor, (width, height))


def enlargement(scale_px: float, shape: tuple[int, int], params: AnalyzeParams) -> int | None:
    """The whole factor that brings text of `scale_px` to about small_text_target_px; None
    when that takes more than max_enlargement (specks of noise, not text) or more than
    max_enlarged_pixels."""
    factor = max(2, math.ceil(params.small_text_target_px / max(scale_px, 1e-6)))
    if factor > params.max_enlargement:
        return None
    if shape[0] * shape[1] * factor * factor > params.max_enlarged_pixels:
        return None
    return factor


def shrink_analysis(analysis: PageAnalysis, factor: int, size: tuple[int, int]) -> PageAnalysis:
    """The analysis of a page enlarged `factor` times, in the pixels of the page as given
    (`size`, width and height): boxes by their edges, line images' mappings by pixel
    centres (an enlarged pixel centre c lies at (c + 0.5) / factor - 0.5)."""
    width, height = size

    def box(b: BBox) -> BBox:
        return BBox(b.x0 // factor, b.y0 // factor, -(-b.x1 // factor), -(-b.y1 // factor)).clip(
            width, height
        )

    to_given = np.array([[1.0 / factor, 0.0], [0.0, 1.0 / factor]])
    shift = (1.0 / factor - 1.0) / 2.0

    def line(li: LineImage) -> LineImage:
        a = np.asarray(li.to_original, np.float64)
        mapped = np.hstack([to_given @ a[:, :2], (to_given @ a[:, 2] + shift)[:, None]])
        bbox = box(li.bbox)
        baseline = None
        if li.baseline is not None:
            slope, offset = li.baseline
            # The baseline's height at the enlarged box's left edge, then at the new one's.
            y_left = (li.bbox.y1 + offset) / factor
            y_at_x0 = y_left + slope * (bbox.x0 - li.bbox.x0 / factor)
            baseline = (slope, round(y_at_x0 - bbox.y1, 2))
        return replace(li, bbox=bbox, baseline=baseline, to_original=mapped)

    return replace(
        analysis,
        scale_px=analysis.scale_px / factor,
        width=width,
        height=height,
        columns=tuple(box(b) for b in analysis.columns),
        lines=tuple(line(li) for li in analysis.lines),
        gutters=tuple(box(b) for b in analysis.gutters),
        regions=tuple(replace(r, bbox=box(r.bbox)) for r in analysis.regions),
    )


def analyze_binarized(
    binarized: Binarized, params: AnalyzeParams = AnalyzeParams()
) -> PageAnalysis:
    """analyze_page after binarization (for callers that time or reuse the stages)."""
    layout = segment(binarized, params.segment)
    return assemble(binarized, layout, params)


def assemble(binarized: Binarized, layout: Layout, params: AnalyzeParams) -> PageAnalysis:
    """Order the layout's lines, cut them out and map every box to the original image."""
    blocks, gutters = blocks_and_gutters(
        layout.reading_boxes,
        columns=params.segment.columns,
        separators=layout.separators,
        params=params.segment.order,
    )
    order = [i for block in blocks for i in block.lines]
    columns = [k for k, block in enumerate(blocks) for _ in block.lines]
    lines = extract_lines(binarized, layout, order, columns, params.lines)
    lines, kinds = split_tables(lines)
    block_boxes = [
        BBox.union_all(line.bbox for line in lines if line.column == k) for k in range(len(kinds))
    ]
    width, height = binarized.original_size

    def to_original(box: BBox) -> BBox:
        return map_box_to_original(box, binarized.to_original, binarized.original_size)

    regions = [Region(kind, box) for kind, box in zip(kinds, block_boxes, strict=True)]
    photos = [to_original(box) for box in layout.pictures] + dark_pictures(binarized)
    regions += [Region("photo", box) for box in sorted(photos, key=lambda b: (b.y0, b.x0))]
    regions += sorted(
        (Region("separator", to_original(box)) for box in layout.rules),
        key=lambda r: (r.bbox.y0, r.bbox.x0),
    )
    return PageAnalysis(
        angle_deg=binarized.angle_deg,
        scale_px=layout.scale_px,
        width=int(width),
        height=int(height),
        columns=tuple(block_boxes),
        lines=lines,
        gutters=tuple(to_original(g) for g in gutters),
        regions=tuple(regions),
    )


def dark_pictures(binarized: Binarized) -> list[BBox]:
    """Boxes (original px) of the large dark pictures that binarization set aside as not
    the page (see enclosed_boxes)."""
    if binarized.outside_work is None:
        return []
    return enclosed_boxes(binarized.outside_work > 0, binarized.work_factor)


def split_tables(
    lines: Sequence[LineImage], min_rows: int = 3
) -> tuple[tuple[LineImage, ...], list[str]]:
    """Runs of `min_rows` or more consecutive lines of a block that are rows of cells (two or
    more stretches of paper cut out of each) become blocks of their own, of kind "table";
    the rest stay "text". Returns the lines with their new block numbers, and the kinds."""
    out: list[LineImage] = []
    kinds: list[str] = []
    for _, block in groupby(lines, key=lambda line: line.column):  # blocks are consecutive
        for is_table, run in _runs(list(block), lambda line: len(line.cut_at) >= 2, min_rows):
            kinds.append("table" if is_table else "text")
            out.extend(replace(line, column=len(kinds) - 1) for line in run)
    return tuple(out), kinds


def _runs(items: Sequence, test, min_length: int) -> list[tuple[bool, list]]:
    """Items in runs, in order: (True, run) for a run of min_length or more items that pass
    the test, (False, run) for what lies between."""
    out: list[tuple[bool, list]] = []
    i = 0
    while i < len(items):
        j = i
        while j < len(items) and test(items[j]):
            j += 1
        if j - i >= min_length:
            out.append((True, list(items[i:j])))
            i = j
            continue
        j = max(j, i + 1)
        if out and not out[-1][0]:
            out[-1][1].extend(items[i:j])
        else:
            out.append((False, list(items[i:j])))
        i = j
    return out
