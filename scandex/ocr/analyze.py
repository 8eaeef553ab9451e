"""Page analysis: from a grayscale scan to its text-line images in reading order.

    binarize -> segment -> reading order -> line images

Every box returned is in the ORIGINAL image's pixels; the deskewed frame stays inside.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scandex.ocr.binarize import Binarized, BinarizeParams, binarize, map_box_to_original
from scandex.ocr.lines import LineImage, LineParams, extract_lines
from scandex.ocr.reading_order import reading_blocks
from scandex.ocr.segment import Layout, SegmentParams, segment
from scandex.page import BBox

__all__ = ["AnalyzeParams", "LineImage", "PageAnalysis", "analyze_binarized", "analyze_page"]


@dataclass(frozen=True)
class AnalyzeParams:
    binarize: BinarizeParams = field(default_factory=BinarizeParams)
    segment: SegmentParams = field(default_factory=SegmentParams)  # .columns: override
    lines: LineParams = field(default_factory=LineParams)


@dataclass(frozen=True)
class PageAnalysis:
    angle_deg: float  # skew found in the original, counter-clockwise positive
    scale_px: float  # typical character height in pixels (0.0 on a blank page)
    width: int  # original image size
    height: int
    columns: tuple[BBox, ...]  # blocks (columns, runs of rows) in reading order, original px
    lines: tuple[LineImage, ...]  # reading order; line.column indexes `columns`
    gutters: tuple[BBox, ...] = ()  # column gutters, original px (for drawing)


def analyze_page(gray: np.ndarray, params: AnalyzeParams = AnalyzeParams()) -> PageAnalysis:
    """Binarize, deskew, segment and order a page; cut out its lines (SegmentationError if the
    page cannot be segmented; a blank page has no lines)."""
    return analyze_binarized(binarize(gray, params.binarize), params)


def analyze_binarized(
    binarized: Binarized, params: AnalyzeParams = AnalyzeParams()
) -> PageAnalysis:
    """analyze_page after binarization (for callers that time or reuse the stages)."""
    layout = segment(binarized, params.segment)
    return assemble(binarized, layout, params)


def assemble(binarized: Binarized, layout: Layout, params: AnalyzeParams) -> PageAnalysis:
    """Order the layout's lines, cut them out and map every box to the original image."""
    blocks = reading_blocks(
        layout.boxes,
        columns=params.segment.columns,
        separators=layout.separators,
        params=params.segment.order,
    )
    order = [i for block in blocks for i in block.lines]
    columns = [k for k, block in enumerate(blocks) for _ in block.lines]
    lines = extract_lines(binarized, layout, order, columns, params.lines)
    block_boxes = []
    start = 0
    for block in blocks:
        block_boxes.append(
            BBox.union_all(line.bbox for line in lines[start : start + len(block.lines)])
        )
        start += len(block.lines)
    width, height = binarized.original_size
    gutters = tuple(
        map_box_to_original(g, binarized.to_original, binarized.original_size)
        for g in layout.gutters
    )
    return PageAnalysis(
        angle_deg=binarized.angle_deg,
        scale_px=layout.scale_px,
        width=int(width),
        height=int(height),
        columns=tuple(block_boxes),
        lines=lines,
        gutters=gutters,
    )
