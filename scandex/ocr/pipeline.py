"""The complete engine: image file -> pages -> blocks -> lines -> words -> characters.

Page analysis finds the lines (in reading order, boxes in original pixels); the recognizer
reads all of a page's lines in width-sorted batches; this module turns its per-character
x-ranges (in each line image's pixels) into word and character boxes in the original image.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from scandex.errors import SegmentationError
from scandex.ocr.lexicon import LexiconParams
from scandex.page import REGION_CLASSES, BBox, Block, Char, Document, Line, Page, Word

if TYPE_CHECKING:
    from scandex.ocr.analyze import AnalyzeParams, PageAnalysis
    from scandex.ocr.recognize import LineResult


@dataclass(frozen=True)
class OcrParams:
    model: Path | None = None  # None = the built-in English model
    columns: int | None = None  # force this many columns instead of detecting them
    max_pixels: int = 200_000_000  # refuse larger images (decompression bombs)
    threads: int = 1  # onnxruntime threads per process
    lexicon: LexiconParams = LexiconParams()  # words the decoder checks uncertain readings against
    reread: bool = True  # read a doubtful line again, moved, and let the readings vote


_recognizers: dict[tuple[str, int, LexiconParams, bool], object] = {}
_recognizers_lock = threading.Lock()


def get_recognizer(
    model: Path | None = None,
    threads: int = 1,
    lexicon: LexiconParams = LexiconParams(),
    reread: bool = True,
):
    """The recognizer for `model`, these word lists and rereading on or off, loaded once per
    process."""
    from scandex.ocr.recognize import Recognizer, RereadParams, default_model_path

    key = (str(model or default_model_path()), threads, lexicon, reread)
    with _recognizers_lock:
        if key not in _recognizers:
            _recognizers[key] = Recognizer(
                model,
                threads=threads,
                lexicon=lexicon.load(),
                reread=RereadParams() if reread else RereadParams(below=0.0),
            )
        return _recognizers[key]


def _ink_extent(ink: np.ndarray, x0: int, x1: int) -> tuple[int, int, int, int] | None:
    """Tight (x0, y0, x1, y1) of the ink between columns x0 and x1 of a line's ink mask."""
    window = ink[:, x0:x1]
    rows = np.flatnonzero(window.any(axis=1))
    cols = np.flatnonzero(window.any(axis=0))
    if rows.size == 0:
        return None
    return x0 + int(cols[0]), int(rows[0]), x0 + int(cols[-1]) + 1, int(rows[-1]) + 1


def word_confidence(char_confidences: Sequence[float]) -> float:
    """A word is as trustworthy as its least certain character."""
    return float(min(char_confidences)) if char_confidences else 0.0


def build_line(line_image, result, size: tuple[int, int]) -> Line:
    """Page-model Line (with words and characters) from a line image and its recognition."""
    image = line_image.image
    ink = image < 128 if image.dtype == np.uint8 else image < 0.5
    height, width = image.shape[:2]
    extents = []
    for word in result.words:
        # Python's own min and max: NumPy's clip costs microseconds on a scalar.
        x0 = min(max(math.floor(word.chars[0].x0), 0), width)
        x1 = min(max(math.ceil(word.chars[-1].x1), x0 + 1), width)
        extents.append(_ink_extent(ink, x0, x1) or (x0, 0, x1, height))
    # Every word's and character's box mapped to the original image in one pass: one at a
    # time, the mapping's per-call cost was a tenth of a page's time.
    rects = [
        rect
        for word, (wx0, wy0, wx1, wy1) in zip(result.words, extents, strict=True)
        for rect in [
            (wx0, wy0, wx1, wy1),
            *((max(c.x0, wx0), wy0, min(c.x1, wx1), wy1) for c in word.chars),
        ]
    ]
    boxes = iter(line_image.boxes_to_original(np.array(rects, np.float64), size) if rects else [])
    words = []
    for word in result.words:
        chars = word.chars
        word_box = next(boxes)
        char_models = tuple(
            Char(
                c.text,
                next(boxes),
                round(float(c.confidence), 4),
                tuple((alt, round(float(p), 4)) for alt, p in c.alternatives),
            )
            for c in chars
        )
        words.append(
            Word(
                "".join(c.text for c in chars),
                word_box,
                round(word_confidence([c.confidence for c in chars]), 4),
                char_models,
                word.alternatives,
            )
        )
    return Line(
        bbox=line_image.bbox,
        text=result.text,
        confidence=round(float(result.confidence), 4),
        words=tuple(words),
        baseline=line_image.baseline,
    )


def group_blocks(
    lines: Sequence[Line], columns: Sequence[int], kinds: Sequence[str] = ()
) -> tuple[Block, ...]:
    """Consecutive lines (in reading order) of the same column form one block, of the kind
    kinds[column] ("text" when kinds is empty)."""
    blocks: list[Block] = []
    for column, group in groupby(zip(lines, columns, strict=True), key=lambda pair: pair[1]):
        members = tuple(line for line, _ in group)
        kind = kinds[column] if kinds else "text"
        blocks.append(Block(BBox.union_all(x.bbox for x in members), members, kind))
    return tuple(blocks)


# A page read turned (upside down, or sideways) comes out as letters the network is unsure
# of: on the 22 real pages 0.77-0.86 mean character confidence upside down, 0.53-0.63
# sideways, 0.96-1.00 upright (and half the words in no word list, against 95% or more).
# Sideways, a typewritten page may give no line at all (its letters stand in columns, not
# rows: 6 of the 22 read as blank). Below UNSURE_BELOW, or with fewer than MIN_CHARS
# characters read, the page is analysed again turned over, then a quarter turn either way,
# each judged on its TURN_SAMPLE_LINES widest lines; a turn is kept when they read surer by
# TURN_MARGIN than the page's widest as it lies (and, where that read next to nothing, sure
# themselves: dust on a blank page stays nothing), and the first that reads sure (UNSURE_BELOW
# or more) ends the search.
UNSURE_BELOW = 0.9
TURN_MARGIN = 0.05
TURN_SAMPLE_LINES = 12
MIN_CHARS = 40
TURNS = (2, 1, 3)  # quarter turns counter-clockwise: upside down first, the commonest


def _chars(results: Sequence[LineResult]) -> int:
    return sum(len(result.text) for result in results)


def reading_confidence(results: Sequence[LineResult]) -> float:
    """Mean confidence of every character read on a page (0 for none)."""
    chars = _chars(results)
    if chars == 0:
        return 0.0
    return sum(result.confidence * len(result.text) for result in results) / chars


def may_lie_turned(results: Sequence[LineResult]) -> bool:
    """Whether a page's reading is unsure, or next to nothing, so the page may lie turned."""
    return _chars(results) < MIN_CHARS or reading_confidence(results) < UNSURE_BELOW


def _read_either_way_up(
    gray: np.ndarray, params: AnalyzeParams, recognizer
) -> tuple[PageAnalysis, list[LineResult]]:
    """The page's analysis and its lines' readings, the page turned where it reads far
    surer so (a sheet scanned upside down or sideways). Only a page that reads unsure as it
    lies is tried turned (see may_lie_turned), each turn judged on its widest lines."""
    from scandex.ocr.analyze import analyze_page

    gray, analysis, results = _read_negative_as_positive(gray, params, recognizer)
    if not may_lie_turned(results):
        return analysis, results
    best, best_sure = None, reading_confidence([results[i] for i in _widest(analysis.lines)])
    read_little = _chars(results) < MIN_CHARS
    for turns in TURNS:
        try:
            turned = analyze_page(
                gray, replace(params, binarize=replace(params.binarize, quarter_turns=turns))
            )
        except SegmentationError:
            continue
        sample = recognizer.recognize([turned.lines[i].image for i in _widest(turned.lines)])
        sure = reading_confidence(sample)
        if _chars(sample) < MIN_CHARS or (read_little and sure < UNSURE_BELOW):
            continue
        if sure > best_sure + (TURN_MARGIN if best is None else 0.0):
            best, best_sure = turned, sure
        if best is not None and best_sure >= UNSURE_BELOW:
            break
    if best is None:
        return analysis, results
    return best, recognizer.recognize([line.image for line in best.lines])


def looks_negative(gray: np.ndarray) -> bool:
    """Whether most of the page is dark: a negative (a microfilm print: white letters on
    black), or a page under a large dark picture."""
    return float(np.median(gray[::8, ::8])) < 128


def _read_negative_as_positive(
    gray: np.ndarray, params: AnalyzeParams, recognizer
) -> tuple[np.ndarray, PageAnalysis, list[LineResult]]:
    """The page (or, for a negative, the page inverted), its analysis and its readings.

    A negative's dark paper reads as nothing, or as the edges of its letters; inverted it
    is a page like any. Only a page that looks negative and reads unsure as it is, or
    cannot be segmented, is tried inverted, and the inversion kept where it reads surer by
    TURN_MARGIN (a dark photograph with a caption stays as it is)."""
    from scandex.ocr.analyze import analyze_page

    negative = looks_negative(gray)
    try:
        analysis = analyze_page(gray, params)
    except SegmentationError:
        if not negative:
            raise
        analysis = None
    results = recognizer.recognize([line.image for line in analysis.lines]) if analysis else []
    if analysis is not None and (not negative or not may_lie_turned(results)):
        return gray, analysis, results
    positive = 255 - gray
    try:
        inverted = analyze_page(positive, params)
    except SegmentationError:
        if analysis is None:
            raise
        return gray, analysis, results
    inverted_results = recognizer.recognize([line.image for line in inverted.lines])
    surer = reading_confidence(inverted_results) > reading_confidence(results) + TURN_MARGIN
    if analysis is None or (_chars(inverted_results) >= MIN_CHARS and surer):
        return positive, inverted, inverted_results
    return gray, analysis, results


def _widest(lines: Sequence, count: int = TURN_SAMPLE_LINES) -> list[int]:
    """Indices of the `count` widest line images (most text to judge a reading by)."""
    return sorted(range(len(lines)), key=lambda i: -lines[i].image.shape[1])[:count]


def ocr_image(
    gray: np.ndarray,
    *,
    number: int = 1,
    dpi: float | None = None,
    params: OcrParams = OcrParams(),
    recognizer=None,
) -> Page:
    """OCR one decoded page (uint8 gray, 255 = paper) into the page model."""
    from scandex.ocr.analyze import AnalyzeParams
    from scandex.ocr.segment import SegmentParams

    recognizer = recognizer or get_recognizer(
        params.model, params.threads, params.lexicon, params.reread
    )
    analysis, results = _read_either_way_up(
        gray, AnalyzeParams(segment=SegmentParams(columns=params.columns)), recognizer
    )
    size = (gray.shape[1], gray.shape[0])
    lines = []
    columns = []
    for line_image, result in zip(analysis.lines, results, strict=True):
        if not result.text.strip():
            continue  # ink that reads as nothing (a smudge) is not a text line
        lines.append(build_line(line_image, result, size))
        columns.append(line_image.column)
    kinds = [region.kind for region in analysis.regions[: len(analysis.columns)]]
    return Page(
        number=number,
        width=size[0],
        height=size[1],
        angle_deg=round(float(analysis.angle_deg), 3),
        dpi=dpi,
        blocks=group_blocks(lines, columns, kinds),
        regions=tuple(r for r in analysis.regions if r.kind in REGION_CLASSES),
    )


def ocr_file(path: str | Path, params: OcrParams = OcrParams()) -> Document:
    """OCR every page of an image file. Raises ScanError when the file cannot be read."""
    from scandex.ocr.io import load_pages

    pages = load_pages(path, max_pixels=params.max_pixels)
    recognizer = get_recognizer(params.model, params.threads, params.lexicon, params.reread)
    return Document(
        path=str(path),
        pages=tuple(
            ocr_image(p.gray, number=p.number, dpi=p.dpi, params=params, recognizer=recognizer)
            for p in pages
        ),
    )
