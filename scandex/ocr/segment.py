"""Find the text lines of a binarized page (the OCRopus "gpageseg" idea, on components).

Everything works on connected components and on small grids (about 6 cells per character
height), so a 300 dpi page takes a few tens of milliseconds and nothing loops over pixels
in Python:

1. Scale: the median height of the components that have neighbours of their kind in a
   row (letters do, dust and specks mostly do not), weighted by height.
2. Classes, in units of that scale: specks and punctuation (attached to a line later),
   characters, tall glyphs, rules (long and thin), and big things (stamps, frames, a dark
   mount, display letters). Solid big shapes that are no letters (blobs, not strokes) and
   cells crowded with grain, unless their ink stands in rows of text (faded typing breaks
   letters into pieces), make picture regions whose contents are not text. The thin
   slanted strokes of hatching (shading), parallel at one pitch, are no text either.
   Pictures and rules are reported as regions.
3. Column separators too narrow to tell from a word gap on one line: vertical paper strips
   with text on both sides for about eight lines (find_separators).
4. Fragments: horizontal smearing of the characters' middle bands (the middle 40% of each
   height, widened by a word gap), cut at the separators. The middle band sits in the
   x-height zone for every letter shape, so ascenders and descenders of neighbouring
   lines never bridge two lines, which is what breaks plain smearing; marks taller than
   `max_body_height` scales that span two rows (glyphs of touching lines, a drop cap)
   never chain. We chose this over OCRopus's top/bottom edge maps because it needs no
   filtering of the page and gives line fragments directly.
5. Lines: a row's fragments closer than `fragment_gap` scales are phrases, from which the
   column gutters are found (reading_order.find_gutters); then all phrases of a row are one
   line however far apart (two spaces after a stop, tab stops, line numbers, a price at
   the right edge, table cells), unless a gutter or separator runs between them or one of
   them is a column's line beside another column's margin. Lines whose marks have no
   common size, a photograph's blobs, a lone speck or pieces of a stamp are dropped.
6. Every other mark goes to the line it belongs to: tall marks over one line join it,
   over several they are cut between them; what is left and too tall chains at its own
   size (display type); stops, commas, quotes, dashes and accents join the line whose
   x-height band they sit in or beside (OCRopus spreads line labels to all components; this
   is the equivalent on components). Rows of dashes or dots alone are lines. What joins no
   line is dust, a picture or a rule.
7. Sanity: no text chains on a page with little ink, or with photographs on part of it,
   is a blank page (no lines); a page of ink or marks without any text is a
   SegmentationError. Mixed text sizes are normal: nothing is refused for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, NamedTuple

import cv2
import numpy as np

from scandex.errors import SegmentationError, TextTooSmallError
from scandex.ocr import components
from scandex.ocr.binarize import enclosed_boxes
from scandex.ocr.reading_order import OrderParams, find_gutters
from scandex.page import BBox

if TYPE_CHECKING:
    from scandex.ocr.binarize import Binarized


@dataclass(frozen=True)
class SegmentParams:
    columns: int | None = None  # force this many columns per section; None = detect
    min_scale_px: float = 5.0  # smaller text than this is noise or too low a resolution
    max_scale_px: float = 400.0
    # In scales: widest gap bridged while chaining characters; a typewriter's comma and
    # space leave two empty cells (about 1.9 scales), a narrow column gutter is 3 or more.
    word_gap: float = 2.2
    # In scales: fragments of one row closer than this are a phrase (a title's words) when
    # looking for column gutters; lines join a row's phrases however far apart they are.
    fragment_gap: float = 3.0
    # In scales: taller marks never chain into body lines (see segment()); a parenthesis or
    # a "Q" with its tail is 1.5 at most, two glyphs of stacked lines that touch 2 or more.
    max_body_height: float = 1.8
    # A page without text lines is blank when at most this fraction of it is ink; with more
    # ink it is noise or a picture, and segment() says so instead of returning no lines.
    max_blank_ink: float = 0.25
    # ... or when it has more marks (3 px or taller) than this per million pixels.
    max_blank_marks_per_mp: float = 600.0
    # More marks than this per million pixels is noise (dense 6 point text at 150 dpi has
    # about 10 000; a page of static has hundreds of thousands).
    max_marks_per_mp: float = 40_000.0
    # Components per occupied 2x2-scale cell above which the page is noise, not text.
    max_components_per_cell: float = 7.0
    # Rounds of attaching loose marks to lines, each from the lines the last one grew (1: the
    # lines as chained, only).
    attach_rounds: int = 3
    order: OrderParams = OrderParams()


@dataclass(frozen=True)
class TextLine:
    bbox: BBox  # tight box of the line's ink, deskewed frame
    baseline_y: float | None  # y of the baseline in the deskewed frame
    letter_height_px: float | None = None  # median height of the line's letters

    @property
    def reading_box(self) -> BBox:
        """The box reading order places the line by: its own rows, without the reach of a
        few marks far taller than its letters. A signature or margin note in handwriting
        that touches a typed line joins it (its ink is the line's), but it stretched the
        box up over the two lines above, which were then read after this one."""
        if self.baseline_y is None or self.letter_height_px is None:
            return self.bbox
        y0 = max(self.bbox.y0, int(self.baseline_y - _READING_ASCENT * self.letter_height_px))
        y1 = min(self.bbox.y1, int(self.baseline_y + _READING_DESCENT * self.letter_height_px))
        return self.bbox if y1 <= y0 else BBox(self.bbox.x0, y0, self.bbox.x1, y1)


# A line's own rows, in letter heights from its baseline: capitals, ascenders, accents and
# quotes above (the letters measured are mostly x-height), descenders and commas below.
_READING_ASCENT = 2.0
_READING_DESCENT = 1.0


@dataclass(frozen=True)
class Layout:
    """Line regions of one page in the deskewed frame (not yet in reading order)."""

    scale_px: float  # typical character height; 0.0 on a blank page
    lines: tuple[TextLine, ...]  # sorted top to bottom
    labels: np.ndarray  # int32 HxW connected-component labels of the binary page
    line_of_label: np.ndarray  # int32 per label: index into lines, or -1 (not text)
    components: np.ndarray  # int64 (labels, 5) x, y, width, height, area per label (0 = paper)
    # Narrow whitespace strips between text columns found from the characters (see
    # find_separators); reading order takes them as gutters however narrow they are.
    separators: tuple[BBox, ...] = ()
    # Not text: photographs and figures (solid or crowded with grain), and printed rules.
    pictures: tuple[BBox, ...] = ()
    rules: tuple[BBox, ...] = ()

    @property
    def boxes(self) -> list[BBox]:
        return [line.bbox for line in self.lines]

    @property
    def reading_boxes(self) -> list[BBox]:
        return [line.reading_box for line in self.lines]


# Component classes.
_SMALL, _CHAR, _TALL, _RULE, _BIG, _PICTURE = 0, 1, 2, 3, 4, 5
# Upper over lower quartile of a line's letter heights above which the line is not text.
_MAX_HEIGHT_SPREAD = 1.9


def segment(binarized: Binarized, params: SegmentParams = SegmentParams()) -> Layout:
    """Find the text lines of a binarized page; raise SegmentationError when it cannot."""
    binary = binarized.binary
    labels, stats = label_components(binary, params.max_marks_per_mp)
    comps = stats[1:].astype(np.int64)  # drop the background label 0
    scale = estimate_scale(comps, binary.shape)
    if scale is None:
        _check_blank(comps, binary.shape, params)
        return _empty(labels, stats)
    kind = classify(comps, scale)
    step = max(1, int(scale / 6.0))  # the small image has about 6 px per character height
    if not params.min_scale_px <= scale <= params.max_scale_px:
        # Dust on a blank page has a tiny "scale" too, but does not chain into words.
        chars = np.flatnonzero(kind == _CHAR)
        frags = _smear_fragments(comps, chars, scale * params.word_gap, step, binary.shape)
        if not _chains_like_text(frags):
            _check_blank(comps, binary.shape, params)
            return _empty(labels, stats)
        message = (
            f"text scale {scale:.1f} px is outside {params.min_scale_px:g}..{params.max_scale_px:g}"
            " px: the page is noise or its resolution is far from 150-600 dpi"
        )
        if scale < params.min_scale_px:
            raise TextTooSmallError(message, float(scale))
        raise SegmentationError(message)
    # Display letters (a bold title) are solid and big, but they stand in a row, and they
    # are strokes, where a photograph's dark shapes are blobs.
    blobs = _solid_blobs(labels, comps, kind)
    title = _display_lines(comps, kind, scale, np.full(len(comps), -1), blobs=blobs) >= 0
    kind, solid = _drop_inside_pictures(comps, kind, labels, step, scale, title)
    kind, grain = _drop_texture(comps, kind, binary, labels, scale, params)
    kind = _drop_hatching(labels, comps, kind, scale)
    pictures = _merge_boxes([*solid, *grain])
    # Body characters: glyphs of about the text's size, and taller ones that stand in one
    # row. Marks that bridge rows (two glyphs of stacked lines that touch, a drop cap) never
    # chain, or their middle band would merge whole paragraphs into one "line".
    chars = _body_characters(comps, kind, scale, step, binary.shape, params)
    separators = (
        _paper_only(find_separators(comps[chars], scale, step, binary.shape), binarized.gray)
        if params.columns != 1
        else []
    )
    frag_of_char = _smear_fragments(
        comps, chars, scale * params.word_gap, step, binary.shape, separators
    )
    if not _chains_like_text(frag_of_char) and not title.any():
        _check_blank(comps, binary.shape, params, pictures)  # dust or marks on a blank page
        return replace(_empty(labels, stats), pictures=tuple(pictures))
    frag_boxes = _union_boxes(comps[chars], frag_of_char)
    keep = _real_fragments(comps[chars], frag_of_char, len(frag_boxes), scale)
    frag_boxes, frag_of_char, keep = _join_stacked_pieces(frag_boxes, frag_of_char, keep, scale)
    frag_boxes, frag_of_char = _renumber(frag_boxes, frag_of_char, keep)
    # The stretches of page that a dark photograph parts: its light patches' grain is never
    # one line with the text beside it.
    patches = _page_patches(binarized)

    # Phrases: the fragments of a row closer than a wide word gap (a title's words). Column
    # gutters come from the phrases of three or more characters: words and lines, not the
    # pieces of a stamp or the single letters a typewriter's wide spacing leaves alone.
    phrase_of_char = _merge_rows(
        comps[chars],
        frag_of_char,
        kind[chars],
        scale,
        separators,
        max_gap_px=params.fragment_gap * scale,
        parted=patches,
    )
    phrase_boxes = _union_boxes(comps[chars], phrase_of_char)
    wordy = np.bincount(phrase_of_char[phrase_of_char >= 0], minlength=len(phrase_boxes)) >= 3
    gutter_boxes = _paper_only(
        find_gutters(
            [BBox(*map(int, b)) for b in phrase_boxes[wordy]],
            columns=params.columns,
            separators=separators,
            params=params.order,
        ),
        binarized.gray,
    )
    # Lines: the phrases of a row, however far apart, unless a gutter runs between them.
    # Then once more over the lines: a piece of faded letters (their tops, the rest gone)
    # stands within the rows of its whole line, not always within those of the phrase
    # beside it; on faded carbon copies such pieces came out as lines of their own.
    line_of_char = phrase_of_char
    for _ in range(2):
        line_of_char = _merge_rows(
            comps[chars],
            line_of_char,
            kind[chars],
            scale,
            [*gutter_boxes, *separators],
            columns_apart=params.columns != 1,
            parted=patches,
        )
    line_of_comp = np.full(len(comps), -1, np.int64)
    line_of_comp[chars] = line_of_char
    line_of_comp = _drop_blob_lines(comps, line_of_comp, scale)
    line_of_comp = _drop_marks_in_outlines(comps, kind, line_of_comp, float(binary.size))
    line_of_comp = _drop_unlike_text(comps, line_of_comp, scale)
    line_of_comp = _drop_lines_in_dark_pictures(comps, line_of_comp, binarized)
    line_of_comp = _drop_lines_in_light_patches(comps, line_of_comp, patches, scale)
    line_of_comp = _drop_lines_in_picture_boxes(
        comps,
        line_of_comp,
        _merge_boxes(
            [*pictures, *enclosed_boxes(binarized.page_mask_work == 0, binarized.work_factor)]
        ),
    )

    # Tall marks that reach into the body lines: one line's tall glyph joins it; glyphs of
    # two stacked lines that touch are cut apart between them.
    labels, comps, kind, line_of_comp = _claim_tall_marks(
        labels, comps, kind, line_of_comp, scale, params.max_body_height
    )
    # What is left and too tall for the body chains at its own size: display type.
    blobs = np.concatenate([blobs, np.zeros(len(comps) - len(blobs), bool)])  # + cut pieces
    display = _display_lines(comps, kind, scale, line_of_comp, blobs=blobs)
    if (display >= 0).any():  # display lines are numbered after the body lines
        first = int(line_of_comp.max()) + 1
        line_of_comp = np.where(display >= 0, first + display, line_of_comp)
    if not (line_of_comp >= 0).any():  # dust, marks or a photograph on blank paper
        _check_blank(comps, binary.shape, params, pictures)
        return replace(_empty(labels, _with_paper(comps, binary.shape)), pictures=tuple(pictures))

    # Everything else that could be text joins the line it belongs to: dots, commas,
    # quotes, dashes, accents, and the characters of fragments too small to stand alone.
    # Again from the grown lines while letter-sized pieces join: a faded letter breaks into
    # pieces, and the pieces of a line's faded first letters ("F" of "Folks" with its "o"
    # gone) stand further from its first whole letter than a mark may; once the nearer
    # pieces joined, the next ones are within reach. Specks never pull in more specks:
    # a speck joins in a later round only over what the line has grown by (a faded last
    # word's "i" dot), never beyond it.
    chained = _union_boxes(comps, line_of_comp)
    for round_ in range(params.attach_rounds):
        line_boxes = chained if round_ == 0 else _union_boxes(comps, line_of_comp)
        baselines = _baselines(comps, line_of_comp, kind, len(line_boxes), scale)
        attachable = (kind <= _TALL) if round_ == 0 else (kind <= _CHAR)
        loose = np.flatnonzero(attachable & (line_of_comp < 0))
        found = _attach(comps[loose], line_boxes, baselines, scale, pieces=round_ > 0)
        if round_ > 0:  # later rounds only reach out beyond the chained lines' ends
            centre_x = comps[loose, 0] + comps[loose, 2] / 2.0
            box = chained[np.maximum(found, 0)]
            grown = line_boxes[np.maximum(found, 0)]
            beyond = (centre_x < box[:, 0]) | (centre_x >= box[:, 2])
            over_grown = (centre_x >= grown[:, 0]) & (centre_x < grown[:, 2])
            found = np.where(beyond & ((kind[loose] == _CHAR) | over_grown), found, -1)
        line_of_comp[loose] = found
        if not (found >= 0).any():
            break
    # Once more now that the rounds have found a line's faded letters: the pieces that
    # chained into a line of their own beyond them ("1706," after "somet" + faded "hing").
    line_of_comp = _join_piece_lines(comps, line_of_comp, kind, scale, [*gutter_boxes, *separators])
    # Rows of marks alone (a receipt's dashed rule, dot leaders) are lines of their own.
    marks = np.flatnonzero((kind == _SMALL) & (line_of_comp < 0))
    rows = _mark_rows(comps, marks, scale, step, binary.shape)
    line_of_comp[marks] = np.where(rows >= 0, rows + line_of_comp.max() + 1, -1)
    line_boxes = _union_boxes(comps, line_of_comp)
    baselines = _baselines(comps, line_of_comp, kind, len(line_boxes), scale)
    letter_heights = _letter_heights(comps, line_of_comp, kind, len(line_boxes), scale)

    # Lines top to bottom; renumber the per-component assignment to match.
    order = np.lexsort((line_boxes[:, 0], line_boxes[:, 1])).astype(np.int64)
    rank = np.empty(len(line_boxes), np.int64)
    rank[order] = np.arange(len(line_boxes))
    line_of_comp = np.where(line_of_comp >= 0, rank[np.maximum(line_of_comp, 0)], -1)
    lines = tuple(
        TextLine(BBox(*map(int, line_boxes[i])), baselines[i], letter_heights[i])
        for i in np.asarray(order, int)
    )
    line_of_label = np.concatenate([[-1], line_of_comp]).astype(np.int32)
    rules = np.flatnonzero(kind == _RULE)
    return Layout(
        float(scale),
        lines,
        labels,
        line_of_label,
        _with_paper(comps, binary.shape),
        tuple(separators),
        tuple(pictures),
        tuple(BBox(int(x), int(y), int(x + w), int(y + h)) for x, y, w, h, _ in comps[rules]),
    )


def _merge_boxes(boxes: Sequence[BBox]) -> list[BBox]:
    """The boxes with every overlapping pair replaced by their union, until none overlap."""
    merged = list(boxes)
    changed = True
    while changed:
        changed = False
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                if merged[i].intersection_area(merged[j]) > 0:
                    merged[i] = merged[i].union(merged.pop(j))
                    changed = True
                    break
            if changed:
                break
    return sorted(merged, key=lambda b: (b.y0, b.x0))


def _with_paper(comps: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Per-label stats with row 0, the paper, in front of the components' rows."""
    paper = np.array([[0, 0, shape[1], shape[0], shape[0] * shape[1] - comps[:, 4].sum()]])
    return np.concatenate([paper, comps]).astype(np.int64)


def label_components(
    binary: np.ndarray, max_per_megapixel: float = float("inf")
) -> tuple[np.ndarray, np.ndarray]:
    """8-connected labels (int32 HxW) and per-label stats (x, y, width, height, area; row 0
    is the paper) of a bool ink image. More components than max_per_megapixel is noise,
    said at once."""
    count, labels = components.label(binary)
    per_mp = (count - 1) / max(binary.size / 1e6, 1e-6)
    if per_mp > max_per_megapixel:
        raise SegmentationError(
            f"the page looks like noise, not text: {per_mp:.0f} separate marks per megapixel"
        )
    return labels, components.measure(binary, labels, count, centroids=False).stats


def estimate_scale(comps: np.ndarray, shape: tuple[int, int]) -> float | None:
    """Typical character height in pixels, or None when there is nothing like text.

    Only components with neighbours count: letters stand in rows next to letters of about
    their size, while specks, dust and stamp fragments mostly stand alone, however many
    there are. Of those, the median height (weighted by height, so that punctuation weighs
    little) is refined within a band around it.
    """
    h_img, w_img = shape
    w, h, area = comps[:, 2], comps[:, 3], comps[:, 4]
    plausible = np.flatnonzero(
        (h >= 3)
        & (area >= 4)
        & (h < h_img / 6)
        & (w < w_img / 6)
        & (w <= 8 * h)  # not a horizontal rule
        & (h <= 15 * w)  # not a vertical rule
    )
    if len(plausible) < 3:
        return None
    plausible = plausible[_has_neighbours(comps[plausible], shape)]
    heights = h[plausible].astype(np.float64)
    if len(heights) < 3:
        return None
    first = _weighted_median(heights, heights)
    band = heights[(heights >= 0.4 * first) & (heights <= 2.5 * first)]
    return float(np.median(band)) if len(band) else float(first)


def _has_neighbours(comps: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """True for components that touch another one when each is widened by its own height
    on both sides and its vertical middle half is kept (a coarse grid, painted at once)."""
    step = max(1, min(shape) // 600)
    gh, gw = shape[0] // step + 2, shape[1] // step + 2
    x, y, w, h = (comps[:, i].astype(np.float64) for i in range(4))
    x0 = np.floor((x - h) / step).clip(0, gw - 1).astype(np.int64)
    x1 = np.ceil((x + w + h) / step).clip(1, gw - 1).astype(np.int64)
    y0 = np.floor((y + 0.25 * h) / step).clip(0, gh - 1).astype(np.int64)
    y1 = np.maximum(np.ceil((y + 0.75 * h) / step), y0 + 1).clip(1, gh - 1).astype(np.int64)
    cover = _paint(gh, gw, x0, y0, x1, y1)
    _, groups = cv2.connectedComponents(cover, connectivity=4)
    cy = ((y + 0.5 * h) / step).astype(np.int64).clip(0, gh - 1)
    cx = ((x + 0.5 * w) / step).astype(np.int64).clip(0, gw - 1)
    group = groups[cy, cx]
    sizes = np.bincount(group)
    return sizes[group] >= 3


def _paint(
    gh: int, gw: int, x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray
) -> np.ndarray:
    """uint8 mask of the union of rectangles [x0, x1) x [y0, y1), via a difference array
    summed by OpenCV's integral image (five times numpy's two cumsums; every partial sum is
    a count of overlapping rectangles, exact in float32)."""
    # The four corners of every rectangle counted in one bincount over the flat grid
    # (four times faster than np.add.at on two-dimensional indices).
    w = gw + 1
    corners = np.concatenate([y0 * w + x0, y0 * w + x1, y1 * w + x0, y1 * w + x1])
    signs = np.repeat(np.array([1.0, -1.0, -1.0, 1.0]), len(x0))
    counts = np.bincount(corners, weights=signs, minlength=(gh + 1) * w)
    diff = counts.astype(np.float32).reshape(gh + 1, w)
    return (cv2.integral(diff, sdepth=cv2.CV_32F)[1 : gh + 1, 1 : gw + 1] > 0.5).astype(np.uint8)


def classify(comps: np.ndarray, scale: float) -> np.ndarray:
    """Class of each component: small, char, tall, rule, big or (a solid block) picture, in
    units of the scale."""
    w, h = comps[:, 2].astype(np.float64), comps[:, 3].astype(np.float64)
    kind = np.full(len(comps), _CHAR, np.int8)
    kind[(h < 0.35 * scale) & (w < 1.5 * scale)] = _SMALL
    # Headings in type twice the body size reach 3 scales; two lines stuck together by a
    # descender 4 or 5 (attached later, not chained); pictures, stamps and frames more.
    kind[(h > 3.5 * scale)] = _TALL
    kind[(h > 6.0 * scale) | ((h > 3.0 * scale) & (w > 10.0 * scale))] = _BIG
    rule = ((w > 6 * scale) & (h < 0.6 * scale)) | ((h > 4 * scale) & (w < 0.6 * scale))
    kind[rule] = _RULE
    # Letters are strokes: a solid block of a letter's size or more (a piece of a dark
    # photograph, a redaction bar) is none.
    solid = comps[:, 4] >= 0.85 * w * h
    kind[(kind == _CHAR) & solid & (np.minimum(w, h) >= 1.2 * scale)] = _PICTURE
    return kind


def _drop_unlike_text(comps: np.ndarray, line_of_comp: np.ndarray, scale: float) -> np.ndarray:
    """Drop "lines" whose marks have no common size: letters come in few heights (x-height,
    ascender, capital), so the middle half of a line's letter heights spans a factor of
    about 1.4; blobs of noise or of a picture that happen to chain span much more. Mixed
    sizes on one page are normal, so this is asked of each line, never of the page. The
    quartiles are weighted by ink, so that the pieces of letters broken by faded typing
    count for the ink they have, not as letters of their own. A line that passes without
    its few marks far taller than its typical letter (a piece of a photograph beside it, a
    signature's stroke across it) keeps its letters and lets those marks go.
    A line whose carbon faded more than its neighbours' (capitals whole, the small letters
    in pieces of half their height) spans more, but it is the page's lines' height, and
    its tallest letters are theirs: such a line is kept (on typed carbon copies whole lines
    were lost)."""
    valid = np.flatnonzero(line_of_comp >= 0)
    if len(valid) == 0:
        return line_of_comp
    heights = comps[valid, 3].astype(np.float64)
    letters = heights > 0.55 * scale  # not quotes, commas and stops
    members = valid[letters]
    lines = line_of_comp[members]
    heights = heights[letters]
    ink = comps[members, 4].astype(np.float64)
    order = np.lexsort((heights, lines))
    lines, heights, ink, members = lines[order], heights[order], ink[order], members[order]
    n_lines = int(line_of_comp.max()) + 1
    starts = np.searchsorted(lines, np.arange(n_lines))
    ends = np.searchsorted(lines, np.arange(n_lines), side="right")
    judged = np.flatnonzero(ends - starts >= 8)
    quartiles = {
        int(i): _ink_quartiles(heights[starts[i] : ends[i]], ink[starts[i] : ends[i]])
        for i in judged
    }
    unlike = [
        int(i) for i in judged if quartiles[int(i)][1] > _MAX_HEIGHT_SPREAD * quartiles[int(i)][0]
    ]
    if not unlike:
        return line_of_comp
    boxes = _union_boxes(comps, line_of_comp)
    box_heights = (boxes[:, 3] - boxes[:, 1]).astype(np.float64)
    like = sorted(set(quartiles) - set(unlike))
    typical = (
        (float(np.median(box_heights[like])), float(np.median([quartiles[i][1] for i in like])))
        if like
        else None
    )
    bad = np.zeros(n_lines, bool)
    strays: list[np.ndarray] = []
    for i in unlike:
        if typical is not None and _like_neighbours(box_heights[i], quartiles[i][1], *typical):
            continue
        part = slice(starts[i], ends[i])
        # Sorted by height: the marks above the spread's limit over the typical letter.
        tall = np.searchsorted(
            heights[part],
            _MAX_HEIGHT_SPREAD * heights[part][(ends[i] - starts[i]) // 2],
            side="right",
        )
        rest = slice(starts[i], starts[i] + tall)
        if (
            tall >= 8
            and 4 * (ends[i] - starts[i] - tall) <= ends[i] - starts[i]
            and _like_text(heights[rest], ink[rest])
        ):
            strays.append(members[starts[i] + tall : ends[i]])
        else:
            bad[i] = True
    if not bad.any() and not strays:
        return line_of_comp
    out = line_of_comp.copy()
    out[valid[bad[line_of_comp[valid]]]] = -1
    for marks in strays:
        out[marks] = -1
    return _dense(out)


def _like_neighbours(
    box_height: float, tall_letters: float, typical_box: float, typical_tall: float
) -> bool:
    """Whether a line's height and its tallest letters' (upper quartile) are those of the
    page's lines of text, within a fifth."""
    return bool(
        0.8 * typical_box <= box_height <= 1.25 * typical_box
        and 0.8 * typical_tall <= tall_letters <= 1.25 * typical_tall
    )


def _ink_quartiles(heights: np.ndarray, ink: np.ndarray) -> tuple[float, float]:
    """Lower and upper quartile of letter heights (sorted), weighted by ink."""
    cumulative = np.cumsum(ink)
    q25, q75 = heights[np.searchsorted(cumulative, np.array([0.25, 0.75]) * cumulative[-1])]
    return float(q25), float(q75)


def _like_text(heights: np.ndarray, ink: np.ndarray) -> bool:
    """Whether letter heights (sorted) span what letters span (see _drop_unlike_text)."""
    q25, q75 = _ink_quartiles(heights, ink)
    return q75 <= _MAX_HEIGHT_SPREAD * q25


def _drop_lines(line_of_comp: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """line_of_comp without the lines `bad` flags (one flag per line), the rest numbered
    densely again; the same array when none is flagged."""
    if not bad.any():
        return line_of_comp
    dropped = (line_of_comp >= 0) & bad[np.maximum(line_of_comp, 0)]
    return _dense(np.where(dropped, -1, line_of_comp))


def _drop_lines_in_dark_pictures(
    comps: np.ndarray, line_of_comp: np.ndarray, binarized: Binarized
) -> np.ndarray:
    """Drop "lines" that binarization's outside-the-page surrounds: the light parts of a
    large dark photograph set aside as not the page (more than half of the line's box,
    widened by its height on every side, lies outside). A line of text beside a scanner
    margin has the margin on one side only."""
    valid = line_of_comp >= 0
    if not valid.any():
        return line_of_comp
    boxes = _union_boxes(comps, line_of_comp)
    w_img, h_img = binarized.size
    height = boxes[:, 3] - boxes[:, 1]
    x0 = np.clip(boxes[:, 0] - height, 0, w_img)
    x1 = np.clip(boxes[:, 2] + height, 0, w_img)
    y0 = np.clip(boxes[:, 1] - height, 0, h_img)
    y1 = np.clip(boxes[:, 3] + height, 0, h_img)
    dark = binarized.outside_counts(np.stack([x0, y0, x1, y1], axis=1))
    return _drop_lines(line_of_comp, dark > 0.5 * np.maximum((x1 - x0) * (y1 - y0), 1))


def _drop_lines_in_picture_boxes(
    comps: np.ndarray, line_of_comp: np.ndarray, pictures: Sequence[BBox], share: float = 0.75
) -> np.ndarray:
    """Drop "lines" that lie (`share` of their box or more) inside the box of a picture:
    the grain of a halftone photograph between the parts that were found crowded or dark
    (at 150 dpi such a photograph came out as four overlapping parts, and a fifth of the
    "lines" found were its grain at their edges). Overlapping parts are one picture."""
    valid = line_of_comp >= 0
    if not valid.any() or not pictures:
        return line_of_comp
    boxes = _union_boxes(comps, line_of_comp)
    area = np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1)
    inside = np.zeros(len(boxes), bool)
    for p in pictures:
        w = np.clip(np.minimum(boxes[:, 2], p.x1) - np.maximum(boxes[:, 0], p.x0), 0, None)
        h = np.clip(np.minimum(boxes[:, 3], p.y1) - np.maximum(boxes[:, 1], p.y0), 0, None)
        inside |= w * h >= share * area
    return _drop_lines(line_of_comp, inside)


class _Patches(NamedTuple):
    """The stretches of page, apart where binarization set large dark things aside."""

    labels: np.ndarray  # int32, deskewed frame at working resolution; 0 = not the page
    light: np.ndarray  # bool per label: a small patch of page, or not the page (label 0)
    factor: int  # working resolution: this many frame pixels a cell
    outside: np.ndarray  # int32 integral image of the cells that are not the page

    def at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The label of the cell each frame position (x, y) falls in."""
        rows = (np.asarray(y) // self.factor).astype(np.int64).clip(0, self.labels.shape[0] - 1)
        cols = (np.asarray(x) // self.factor).astype(np.int64).clip(0, self.labels.shape[1] - 1)
        return self.labels[rows, cols]

    def parts(self, x0: float, x1: float, y0: float, y1: float, width_px: float) -> bool:
        """Whether not-the-page crosses the frame box [x0, x1) x [y0, y1) from top to bottom
        over `width_px` or more (at working resolution)."""
        rows, cols = self.labels.shape
        f = self.factor
        cx0, cx1 = min(cols, int(x0) // f), min(cols, -(-int(x1) // f))
        cy0, cy1 = min(rows, int(y0) // f), min(rows, max(int(y0) // f + 1, -(-int(y1) // f)))
        if cx1 - cx0 < width_px / f:
            return False
        t = self.outside
        per_column = np.diff(t[cy1, cx0 : cx1 + 1] - t[cy0, cx0 : cx1 + 1])
        return bool(np.count_nonzero(per_column == cy1 - cy0) >= width_px / f)


def _page_patches(
    binarized: Binarized, max_patch: float = 0.25, max_strip: float = 0.02
) -> _Patches | None:
    """The page's stretches, those under `max_patch` of the largest one marked light: the
    light parts of a large dark photograph (a shirt, a face) that it encloses, alone or
    with the image's edges. None when nothing is outside the page.

    A strip set aside (a pleading paper's rules from edge to edge, a fold's shadow: at most
    `max_strip` of the image's short side across, four times as long) parts no stretch:
    the line numbers left of a pleading paper's double rule are the page's, not a
    photograph's light patch."""
    if binarized.outside_work is None or not binarized.outside_work.any():
        return None
    page = binarized.page_mask_work > 0
    labels, stats, _ = components.label_components(
        page | _strips(~page, max_strip * min(page.shape)), centroids=False
    )
    area = stats[:, 4].astype(np.float64)
    area[0] = 0.0  # not the page
    outside = cv2.integral((~page).view(np.uint8), sdepth=cv2.CV_32S)
    return _Patches(labels, area < max_patch * area.max(), binarized.work_factor, outside)


def _strips(mask: np.ndarray, max_across: float) -> np.ndarray:
    """bool: the parts of `mask` at most `max_across` cells across and four times as long."""
    labels, stats, _ = components.label_components(mask, centroids=False)
    across = np.minimum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    along = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    strip = (across <= max_across) & (along >= 4 * across)
    strip[0] = False
    return strip[labels]


def _drop_lines_in_light_patches(
    comps: np.ndarray,
    line_of_comp: np.ndarray,
    patches: _Patches | None,
    scale: float,
    min_letters: int = 4,
) -> np.ndarray:
    """Drop "lines" in the light parts of a large dark photograph (see _page_patches) that
    hold most of the line's ink: the grain there chains into "lines" of a letter or three.
    A line with `min_letters` marks of a letter's height or more (a label in a box on the
    photograph) stays, and so does a stretch of page that a photograph across the page cuts
    off (a large patch)."""
    valid = np.flatnonzero(line_of_comp >= 0)
    if len(valid) == 0 or patches is None:
        return line_of_comp
    mine = comps[valid]
    lines = line_of_comp[valid]
    n_lines = int(lines.max()) + 1
    light = patches.light[patches.at(mine[:, 0] + mine[:, 2] // 2, mine[:, 1] + mine[:, 3] // 2)]
    ink = np.bincount(lines, weights=mine[:, 4], minlength=n_lines)
    ink_in_light = np.bincount(lines, weights=mine[:, 4] * light, minlength=n_lines)
    letter = (mine[:, 3] >= 0.6 * scale) & (mine[:, 3] <= 1.6 * scale)
    letters = np.bincount(lines, weights=letter, minlength=n_lines)
    return _drop_lines(line_of_comp, (ink_in_light > 0.5 * ink) & (letters < min_letters))


def _check_blank(
    comps: np.ndarray,
    shape: tuple[int, int],
    params: SegmentParams,
    pictures: Sequence[BBox] = (),
) -> None:
    """No lines were found: fine for a blank page (a few specks, a frame, a stamp, a
    photograph on part of it), an error for a page full of ink or of marks that do not
    form text."""
    pixels = float(shape[0] * shape[1])
    inside = np.zeros(len(comps), bool)
    covered = 0
    for p in pictures:
        inside |= (
            (comps[:, 0] >= p.x0)
            & (comps[:, 1] >= p.y0)
            & (comps[:, 0] + comps[:, 2] <= p.x1)
            & (comps[:, 1] + comps[:, 3] <= p.y1)
        )
        covered += p.area
    if covered > 0.9 * pixels:  # a page of grain, blotches or a photograph: no text on it
        inside[:] = False
    outside = comps[~inside]
    ink = float(outside[:, 4].sum()) / pixels
    if ink > params.max_blank_ink:
        raise SegmentationError(
            f"no text lines found although {ink:.0%} of the page is ink: noise or a picture"
        )
    marks_per_mp = np.count_nonzero(outside[:, 3] >= 3) / (pixels / 1e6)
    if marks_per_mp > params.max_blank_marks_per_mp:
        raise SegmentationError(
            f"no text lines found among {marks_per_mp:.0f} marks per megapixel:"
            " the page looks like noise"
        )


def _chains_like_text(frag_of_char: np.ndarray) -> bool:
    """Characters of text sit in rows of several; specks on a blank page mostly do not."""
    if len(frag_of_char) == 0:
        return False
    sizes = np.bincount(frag_of_char)
    in_words = int(sizes[sizes >= 3].sum())
    return in_words >= max(3, 0.25 * len(frag_of_char))


def _drop_texture(
    comps: np.ndarray,
    kind: np.ndarray,
    binary: np.ndarray,
    labels: np.ndarray,
    scale: float,
    params: SegmentParams,
) -> tuple[np.ndarray, list[BBox]]:
    """Components in cells crowded like no text is (halftone, photo grain) are not text:
    text has a few components per 2x2-scale cell, a picture's grain has many. Returns the
    kinds and the boxes of the pictures found (crowded areas of four cells or more).

    Faded or broken typing is crowded too (one letter in three pieces), so an area whose
    ink stands in rows of text (bands a text line high with paper between them) stays."""
    small = np.flatnonzero((kind == _SMALL) | (kind == _CHAR))
    if len(small) < 200:
        return kind, []
    cell = int(2 * scale) + 1
    cx = (comps[small, 0] + comps[small, 2] // 2) // cell
    cy = (comps[small, 1] + comps[small, 3] // 2) // cell
    counts = np.zeros((int(cy.max()) + 1, int(cx.max()) + 1), np.int32)
    np.add.at(counts, (cy, cx), 1)
    crowded = (counts > params.max_components_per_cell).astype(np.uint8)
    if not crowded.any():
        return kind, []
    out = kind.copy()
    joined = cv2.morphologyEx(crowded, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    n_areas, area_of_cell, area_stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    area = area_of_cell[cy, cx]
    in_crowded = crowded[cy, cx] > 0
    pad = 0.5 * scale
    # Per label: a mark of a letter's size that is no hatching stroke.
    letters = np.concatenate([[False], (kind == _CHAR) & ~_thin_slanted(comps, scale)])
    centre_x = comps[:, 0] + comps[:, 2] / 2.0
    centre_y = comps[:, 1] + comps[:, 3] / 2.0
    pictures = []
    for a in range(1, n_areas):
        members = small[(area == a) & in_crowded]
        if len(members) == 0:
            continue
        x0 = int(max(0, comps[members, 0].min() - pad))
        y0 = int(max(0, comps[members, 1].min() - pad))
        x1 = int(min(binary.shape[1], (comps[members, 0] + comps[members, 2]).max() + pad))
        y1 = int(min(binary.shape[0], (comps[members, 1] + comps[members, 3]).max() + pad))
        reach = int(1.5 * scale)  # the paper above and below a single line of text
        strip = (slice(max(0, y0 - reach), y1 + reach), slice(x0, x1))
        if _text_rows(binary[strip].sum(axis=1), scale) >= (2 if y1 - y0 > 3 * scale else 1):
            continue
        # Words on a shaded band (a table header's hatching, scanned into grain): the
        # shading hides their row, their letters alone show it, and only the grain goes.
        # Such a band is a few lines high; a photograph is taller, and its blobs can pass
        # for a row of letters.
        letters[members + 1] = False
        if y1 - y0 <= 10 * scale and _text_rows(letters[labels[strip]].sum(axis=1), scale):
            out[members] = _PICTURE
            continue
        if area_stats[a, cv2.CC_STAT_AREA] < 4:
            out[members] = _PICTURE  # a crowded spot: its grain, not what stands near it
            continue
        # A photograph is a rectangle; its rim is less crowded than its inside.
        inside = (centre_x >= x0) & (centre_x < x1) & (centre_y >= y0) & (centre_y < y1)
        out[inside & (out != _RULE) & (out != _BIG)] = _PICTURE
        pictures.append(BBox(x0, y0, x1, y1))
    return out, pictures


def _drop_hatching(
    labels: np.ndarray, comps: np.ndarray, kind: np.ndarray, scale: float, min_run: int = 8
) -> np.ndarray:
    """Shading drawn as hatching (a table header's diagonal lines) is not text: a patch of
    `min_run` or more thin slanted strokes, their boxes overlapping, all slanting one way,
    whose lines stand at one pitch (the shading's edge cuts some short; they still lie on
    the pattern's lines). Text has no such run of thin slanted strokes (a letter's ink fills
    a quarter of its box or more; slashes stand alone). Returns the kinds with those
    strokes made _PICTURE: never chained, attached or kept in a line image."""
    candidates = np.flatnonzero(_thin_slanted(comps, scale) & (kind != _RULE))
    if len(candidates) < min_run:
        return kind
    rising = _rising(labels, comps, candidates)
    out = kind.copy()
    for slant in (True, False):
        strokes = candidates[rising == slant]
        if len(strokes) < min_run:
            continue
        patch = _overlapping(comps[strokes], labels.shape, scale)
        for p in np.flatnonzero(np.bincount(patch) >= min_run):
            members = strokes[patch == p]
            if _one_pitch(comps[members], slant):
                out[members] = _PICTURE
    return out


def _thin_slanted(comps: np.ndarray, scale: float) -> np.ndarray:
    """bool per component: a thin slanted stroke, as hatching is drawn: about as wide as
    tall (0.5 to 2 times), its ink under a fifth of its box (a letter's is a quarter or
    more, even a "V" or an "X"), not a speck."""
    w, h, area = (comps[:, i].astype(np.float64) for i in (2, 3, 4))
    return (area <= 0.2 * w * h) & (w >= 0.5 * h) & (w <= 2.0 * h) & (h >= 0.35 * scale)


def _rising(labels: np.ndarray, comps: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """bool per component of idx: it rises to the right ("/"), its top row's ink in the
    right half of its box; else it falls ("\\")."""
    out = np.zeros(len(idx), bool)
    for k, i in enumerate(idx.tolist()):
        x, y, w = (int(v) for v in comps[i, :3])
        xs = np.flatnonzero(labels[y, x : x + w] == i + 1)  # label i + 1: row 0 is paper
        out[k] = len(xs) > 0 and xs.mean() > (w - 1) / 2.0
    return out


def _overlapping(boxes: np.ndarray, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Group number of each box: boxes that overlap (through others) share one."""
    step = max(1, int(scale / 4.0))
    gh, gw = shape[0] // step + 2, shape[1] // step + 2
    x, y, w, h = (boxes[:, i] for i in range(4))
    cover = _paint(
        gh,
        gw,
        (x // step).clip(0, gw - 1),
        (y // step).clip(0, gh - 1),
        (-(-(x + w) // step)).clip(1, gw - 1),
        (-(-(y + h) // step)).clip(1, gh - 1),
    )
    _, groups = cv2.connectedComponents(cover, connectivity=8)
    return groups[((y + h // 2) // step).clip(0, gh - 1), ((x + w // 2) // step).clip(0, gw - 1)]


def _one_pitch(strokes: np.ndarray, rising: bool, share: float = 0.8) -> bool:
    """Whether thin slanted strokes (x, y, w, h rows) lie on parallel lines at one pitch:
    where each one's line crosses the top of the page (by the patch's typical slope), in
    order, steps of one pitch (to 1.5 px, or a tenth of it) or none (pieces of one line)
    for `share` of the steps."""
    x, y, w, h = (strokes[:, i].astype(np.float64) for i in range(4))
    run = float(np.median(w / h))  # x per y along a stroke
    crossing = np.sort(x + w + y * run if rising else x - y * run)
    steps = np.diff(crossing)
    apart = steps[steps > 1.5]
    if len(apart) < 2:
        return False
    pitch = float(np.median(apart))
    fits = (steps <= 1.5) | (np.abs(steps - pitch) <= max(1.5, 0.1 * pitch))
    return bool(fits.mean() >= share)


def _text_rows(ink_per_row: np.ndarray, scale: float) -> int:
    """How many bands of rows with ink, between 0.4 and 2.5 text scales high, stand between
    rows of (nearly) bare paper: the rows of text in a strip of the page."""
    if len(ink_per_row) == 0:
        return 0
    bare = ink_per_row <= 0.08 * max(float(np.percentile(ink_per_row, 90)), 1.0)
    edges = np.flatnonzero(np.diff(np.concatenate([[1], bare.view(np.int8), [1]])))
    starts, ends = edges[0::2], edges[1::2]  # runs of inked rows
    inner = (starts > 0) & (ends < len(ink_per_row))  # paper on both sides
    height = ends - starts
    return int(np.count_nonzero(inner & (height >= 0.4 * scale) & (height <= 2.5 * scale)))


def _drop_inside_pictures(
    comps: np.ndarray,
    kind: np.ndarray,
    labels: np.ndarray,
    step: int,
    scale: float,
    letters: np.ndarray,
) -> tuple[np.ndarray, list[BBox]]:
    """Components inside a solid big thing (a photograph; not one of the `letters` of a
    title, bool per component) are part of it, not text. Returns the kinds and the boxes
    of the solid things with what lies inside them."""
    big = np.flatnonzero((kind == _BIG) & ~letters)
    if len(big) == 0:
        return kind, []
    bbox_area = comps[big, 2] * comps[big, 3]
    solid = big[comps[big, 4] > 0.25 * bbox_area]
    if len(solid) == 0:
        return kind, []
    small_labels = labels[::step, ::step]
    is_solid = np.zeros(len(comps) + 1, np.uint8)
    is_solid[solid + 1] = 1
    mask = is_solid[small_labels]
    k = max(3, int(2 * scale / step) | 1)
    mask = cv2.morphologyEx(
        mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    )
    cx = ((comps[:, 0] + comps[:, 2] / 2) / step).astype(np.int64).clip(0, mask.shape[1] - 1)
    cy = ((comps[:, 1] + comps[:, 3] / 2) / step).astype(np.int64).clip(0, mask.shape[0] - 1)
    inside = (mask[cy, cx] > 0) & (kind != _BIG)
    out = kind.copy()
    out[inside] = _PICTURE
    stats = components.label_components(mask, centroids=False).stats
    n = len(stats)
    pictures = [
        BBox(int(x * step), int(y * step), int((x + w) * step), int((y + h) * step))
        for x, y, w, h, _ in stats[1:n]
    ]
    return out, pictures


def find_separators(
    chars: np.ndarray, scale: float, step: int, shape: tuple[int, int]
) -> list[BBox]:
    """Column separators too narrow to tell from a word gap on one line: vertical strips of
    paper with characters within 2 scales on one side and ink in a quarter of the 6 scales
    beside it on both (text, not a column of figures), in pieces at least 8 scales tall that add up
    to 20 scales (about eight lines).

    Characters are painted on the small grid and smeared vertically by about one line gap,
    so a cell stays empty only where three lines in a row leave it empty; word gaps of
    justified text rarely line up like that for eight lines (and a river that does only
    splits a line into fragments that merge again), the gutter between two columns
    does. Wider gutters are found later from the line boxes (reading_order).
    """
    if len(chars) == 0:
        return []
    # Fine across (a gutter may be a single scale wide), coarse down (lines are 2 apart).
    sx_px, sy_px = step, max(1, int(scale / 2.0))
    gh, gw = shape[0] // sy_px + 2, shape[1] // sx_px + 2
    x, y, w, h = (chars[:, i].astype(np.float64) for i in range(4))
    ink = _paint(
        gh,
        gw,
        np.floor(x / sx_px).astype(np.int64).clip(0, gw - 1),
        np.floor(y / sy_px).astype(np.int64).clip(0, gh - 1),
        np.ceil((x + w) / sx_px).astype(np.int64).clip(1, gw - 1),
        np.ceil((y + h) / sy_px).astype(np.int64).clip(1, gh - 1),
    )
    reach_y = 2 * int(np.ceil(0.7 * scale / sy_px)) + 1
    raw_ink = ink
    ink = cv2.dilate(ink, np.ones((reach_y, 1), np.uint8))
    near = max(1, int(round(2.0 * scale / sx_px)))
    left, right = _ink_beside(ink, near)
    # ... and text, not a table's digits, on both sides: ink in a quarter of 6 scales.
    wide = max(2, int(round(6.0 * scale / sx_px)))
    left_wide, right_wide = _ink_beside(ink, wide)
    squeezed = (
        (ink == 0)
        & ((left > 0) | (right > 0))  # one side may be a ragged line's short end
        & (4 * left_wide >= wide)
        & (4 * right_wide >= wide)
    ).astype(np.uint8)
    tall = max(3, int(round(20.0 * scale / sy_px)))
    piece = max(2, int(round(8.0 * scale / sy_px)))
    strips = cv2.morphologyEx(squeezed, cv2.MORPH_OPEN, np.ones((piece, 1), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(strips, connectivity=8)
    # A short last line or a paragraph break interrupts the squeeze, not the gutter: pieces
    # of one strip are joined when nothing stands in the strip between them.
    pieces = sorted(
        (int(gy), int(gy + gh_), int(gx), int(gx + gw_))
        for gx, gy, gw_, gh_, _ in stats[1:n]
        if gh_ >= piece
    )[:500]  # a page has a handful; hundreds mean noise, and joining them is quadratic
    # A river of word gaps is a cell or two wide where the lines line up; a gutter is wider,
    # and so is the paper that joins two pieces (else the gap between two letters of a
    # typewriter's word would join the pieces above and below it).
    min_width = max(1, int(np.ceil(0.6 * scale / sx_px)))
    joined: list[list[int]] = []  # y0, y1, x0, x1 and the widest piece's width
    for y0, y1, x0, x1 in pieces:
        for other in joined:
            lo, hi = max(x0, other[2]), min(x1, other[3])
            if lo >= hi or y0 < other[1]:
                continue
            clear = np.asarray(raw_ink[other[1] : y0, lo:hi].any(axis=0)) == 0
            if _longest_run(clear) >= max(1, min_width // 2):
                # The strip is what the pieces have in common: never the ink beside one.
                other[:] = [other[0], y1, lo, hi, max(other[4], x1 - x0)]
                break
        else:
            joined.append([y0, y1, x0, x1, x1 - x0])
    found = [
        BBox(x0 * sx_px, y0 * sy_px, x1 * sx_px, y1 * sy_px)
        for y0, y1, x0, x1, widest in joined
        if y1 - y0 >= tall and widest >= min_width
    ]
    return _without_rivers(found, MIN_COLUMN_SCALES * scale)


# A gutter is paper. In binarize's gray (0 = the text's black, 255 = paper; ink below 128)
# faint ink is darker than FAINT_INK_TONE: the broken strokes of faded type. Strips with
# more than MAX_FAINT_INK of it are word gaps of a faded fixed-pitch page, one above another
# (5-15% of their pixels on a carbon copy); the gutters of the 52 pages measured hold at
# most 2% (specks, a stray mark), and so do those of noisy scans (noise sigma 14 levels).
# At 180 the strokes of a carbon faded to a third were lighter than that, and a strip of
# them parted a carbon copy's 19 lines into 39 pieces (2 of 24 pages, bench_layout's seeds).
FAINT_INK_TONE = 215
MAX_FAINT_INK = 0.04


def _paper_only(strips: list[BBox], gray: np.ndarray) -> list[BBox]:
    """The strips (gutters, separators) that are paper, not faint ink."""
    kept = []
    for strip in strips:
        area = gray[strip.y0 : strip.y1, strip.x0 : strip.x1]
        if area.size == 0 or np.count_nonzero(area < FAINT_INK_TONE) <= MAX_FAINT_INK * area.size:
            kept.append(strip)
    return kept


# In scales: the narrowest column of text that narrow separators may part (about ten
# characters); the closest two separators of the pages measured stand 35 scales apart.
MIN_COLUMN_SCALES = 12.0


def _without_rivers(strips: list[BBox], min_column_px: float) -> list[BBox]:
    """The strips that leave room for a column of text on each side: none, where any two
    stand closer than that.

    On a fixed-pitch page every character has its cell, so word gaps stand one above the
    other, and where faded letters break into pieces the breaks do too: such a page showed
    fifteen strips a few characters apart, which parted its 19 lines into 211 pieces. A
    gutter has columns on both sides, so two strips closer than a column's width are word
    gaps; and a page that has such rivers has more of them, some farther apart (one ran
    through twelve lines of a carbon copy, 17 scales from the next), so all narrow strips
    on it go. Gutters of a real column layout there are wide enough for reading_order to
    find them from the line boxes.
    """

    def close(a: BBox, b: BBox) -> bool:
        overlap = a.y0 < b.y1 and b.y0 < a.y1
        return overlap and abs((a.x0 + a.x1) - (b.x0 + b.x1)) / 2 < min_column_px

    rivers = any(close(a, b) for i, a in enumerate(strips) for b in strips[i + 1 :])
    return [] if rivers else list(strips)


def _ink_beside(ink: np.ndarray, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """Per cell of a 0/1 grid, the ink in the `reach` cells left of it and in the `reach`
    cells right of it (fewer at the edges), from running sums along the rows."""
    height, width = ink.shape
    cum = np.zeros((height, width + 1), np.int32)
    np.cumsum(ink, axis=1, out=cum[:, 1:])
    # Running sums clamped at the edges as shifted slices (a gather per cell cost more):
    # padded[:, reach + k] is cum[:, k], columns beyond either end repeat the end's sum.
    padded = cv2.copyMakeBorder(cum, 0, 0, reach, reach, cv2.BORDER_REPLICATE)
    left = cum[:, :width] - padded[:, :width]
    right = padded[:, 2 * reach + 1 : 2 * reach + 1 + width] - cum[:, 1 : width + 1]
    return left, right


def _longest_run(flags: np.ndarray) -> int:
    """Length of the longest run of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flags.view(np.int8), [0]])))
    return int((edges[1::2] - edges[0::2]).max()) if len(edges) else 0


def _smear_fragments(
    comps: np.ndarray,
    chars: np.ndarray,
    gap_px: float,
    step: int,
    shape: tuple[int, int],
    separators: Sequence[BBox] = (),
) -> np.ndarray:
    """Line fragment index of each character component (via the smeared middle bands)."""
    if len(chars) == 0:
        return np.zeros(0, np.int64)
    h_img, w_img = shape
    gh, gw = h_img // step + 2, w_img // step + 2
    x, y, w, h = (comps[chars, i].astype(np.float64) for i in range(4))
    half_gap = 0.5 * gap_px
    x0 = np.floor((x - half_gap) / step).clip(0, gw - 1).astype(np.int64)
    x1 = np.ceil((x + w + half_gap) / step).clip(1, gw - 1).astype(np.int64)
    y0 = np.floor((y + 0.3 * h) / step).clip(0, gh - 1).astype(np.int64)
    y1 = np.maximum(np.ceil((y + 0.7 * h) / step), y0 + 1).clip(1, gh - 1).astype(np.int64)
    cover = _paint(gh, gw, x0, y0, x1, y1)
    for sep in separators:  # never chain across a column separator
        cover[sep.y0 // step : -(-sep.y1 // step), sep.x0 // step : -(-sep.x1 // step)] = 0
    _, frag_labels = cv2.connectedComponents(cover, connectivity=4)
    cy = ((y + 0.5 * h) / step).astype(np.int64).clip(0, gh - 1)
    cx = ((x + 0.5 * w) / step).astype(np.int64).clip(0, gw - 1)
    frag = frag_labels[cy, cx].astype(np.int64) - 1
    # A character whose centre a separator cut away is a fragment of its own, never one
    # with every other such character down the page.
    alone = np.flatnonzero(frag < 0)
    frag[alone] = frag.max() + 1 + np.arange(len(alone))
    # Renumber densely.
    _, dense = np.unique(frag, return_inverse=True)
    return dense.reshape(-1).astype(np.int64)


def _display_lines(
    comps: np.ndarray,
    kind: np.ndarray,
    scale: float,
    line_of_comp: np.ndarray,
    max_body_height: float = SegmentParams.max_body_height,
    *,
    blobs: np.ndarray | None = None,
) -> np.ndarray:
    """Lines of display type (titles too tall for the body's lines, up to 15 body scales),
    per component, among the components no body line took and that are not `blobs`.

    Their letters are too tall to chain at the body's scale, so they chain here at their
    own: each widened by 0.4 of its height on both sides. A line needs two or more such
    letters of similar height; a drop cap, a stamp or a photograph's blobs stay out.
    """
    out = np.full(len(comps), -1, np.int64)
    w, h, area = (comps[:, i].astype(np.float64) for i in (2, 3, 4))
    fill = area / np.maximum(w * h, 1.0)
    free = (line_of_comp < 0) if blobs is None else (line_of_comp < 0) & ~blobs
    big = np.flatnonzero(
        free
        & (
            (kind == _TALL)
            | ((kind == _BIG) & (fill <= 0.7))  # bold letters; a solid picture fills more
            | ((kind == _CHAR) & (h > max_body_height * scale))  # the title's x-height letters
        )
        & (h <= 15.0 * scale)
        & (w <= 4.0 * h)
        & (fill >= 0.08)
        & (fill <= 0.7)  # bold letters fill up to 0.6 of their box
    )
    if len(big) < 3:
        return out
    cand = comps[big]
    step = max(1, int(np.median(cand[:, 3]) / 6.0))
    gh = int((cand[:, 1] + cand[:, 3]).max()) // step + 2
    gw = int((cand[:, 0] + cand[:, 2]).max() + 0.4 * cand[:, 3].max()) // step + 2
    x, y, cw, ch = (cand[:, i].astype(np.float64) for i in range(4))
    cover = _paint(
        gh,
        gw,
        np.floor((x - 0.4 * ch) / step).clip(0, gw - 1).astype(np.int64),
        np.floor((y + 0.3 * ch) / step).clip(0, gh - 1).astype(np.int64),
        np.ceil((x + cw + 0.4 * ch) / step).clip(1, gw - 1).astype(np.int64),
        np.maximum(np.ceil((y + 0.7 * ch) / step), np.floor((y + 0.3 * ch) / step) + 1)
        .clip(1, gh - 1)
        .astype(np.int64),
    )
    _, groups = cv2.connectedComponents(cover, connectivity=4)
    group = groups[
        ((y + 0.5 * ch) / step).astype(np.int64).clip(0, gh - 1),
        ((x + 0.5 * cw) / step).astype(np.int64).clip(0, gw - 1),
    ]
    sizes = np.bincount(group)
    tallest = np.zeros(len(sizes))
    shortest = np.full(len(sizes), np.inf)
    np.maximum.at(tallest, group, ch)
    np.minimum.at(shortest, group, ch)
    # Two or more letters of one size, at least one of them too tall for the body's chains;
    # three or more where some are solid (bold), which two blobs of a photograph can be.
    solid = np.zeros(len(sizes), bool)
    solid[group[fill[big] > 0.25]] = True
    good = (
        (sizes >= np.where(solid, 3, 2))
        & (tallest <= 2.0 * shortest)
        & (tallest > max_body_height * scale)
    )
    # Letters stand on a baseline; a photograph's blobs do not line up.
    bottom = y + ch
    for g in np.flatnonzero(good):
        members = group == g
        spread = np.median(np.abs(bottom[members] - np.median(bottom[members])))
        good[g] = spread <= 0.1 * np.median(ch[members])
    keep = good[group]
    if not keep.any():
        return out
    _, dense = np.unique(group[keep], return_inverse=True)
    out[big[keep]] = dense.reshape(-1)
    return out


def _body_characters(
    comps: np.ndarray,
    kind: np.ndarray,
    scale: float,
    step: int,
    shape: tuple[int, int],
    params: SegmentParams,
) -> np.ndarray:
    """Indices of the characters that chain into body lines: those up to max_body_height
    scales tall, and taller ones (a heading's capitals) whose height holds the rows of
    shorter characters' fragments at one level only; a taller mark over two rows bridges
    them."""
    short = (kind == _CHAR) & (comps[:, 3] <= params.max_body_height * scale)
    tall = np.flatnonzero((kind == _CHAR) & ~short)
    short = np.flatnonzero(short)
    if len(tall) == 0 or len(short) == 0:
        return short
    frags = _union_boxes(comps[short], _smear_fragments(comps, short, scale, step, shape))
    x, y, w, h = (comps[tall, i].astype(np.float64)[:, None] for i in range(4))
    centre = (frags[None, :, 1] + frags[None, :, 3]) / 2.0
    beside = (frags[None, :, 0] < x + w + scale) & (frags[None, :, 2] > x - scale)
    within = beside & (centre >= y) & (centre < y + h)
    lowest = np.where(within, centre, -np.inf).max(axis=1)
    highest = np.where(within, centre, np.inf).min(axis=1)
    bridges = lowest - highest >= 0.8 * scale
    return np.sort(np.concatenate([short, tall[~bridges]]))


def _solid_blobs(labels: np.ndarray, comps: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """Per component: a big shape that is no letter. A letter, however bold, is strokes of
    one width: the widest disc inside it is about as wide as its area over its outline
    (1 to 2 times that, at the joints); the dark shapes of a photograph are ragged and of
    every width (5 to 10 times)."""
    out = np.zeros(len(comps), bool)
    for c in np.flatnonzero((kind == _BIG) | (kind == _TALL)):
        x, y, w, h, area = (int(v) for v in comps[c])
        mine = (labels[y : y + h, x : x + w] == c + 1).astype(np.uint8)
        radius = float(cv2.distanceTransform(np.pad(mine, 1), cv2.DIST_L2, 3).max())
        outline = area - int(cv2.erode(mine, np.ones((3, 3), np.uint8)).sum())
        out[c] = radius > 3.5 * area / max(outline, 1)
    return out


def _claim_tall_marks(
    labels: np.ndarray,
    comps: np.ndarray,
    kind: np.ndarray,
    line_of_comp: np.ndarray,
    scale: float,
    max_body_height: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Give the tall marks that reach into body lines to those lines.

    A mark that overlaps the x-height band (from a little above the x-height to the
    baseline) of one line is that line's tall glyph. One that overlaps the bands of several
    stacked lines is their glyphs touching (a descender on the next line's capital, heavy
    typewriter ink): it is cut between each two of those lines at the row where it has the
    least ink, and each piece becomes a component of its own line, so that every line's
    mask holds its own part of the ink. Returns labels, components, kinds and lines, with
    the pieces appended."""
    tall = np.flatnonzero(
        (line_of_comp < 0)
        & ((kind == _CHAR) | (kind == _TALL))
        & (comps[:, 3] > max_body_height * scale)
    )
    if len(tall) == 0 or not (line_of_comp >= 0).any():
        return labels, comps, kind, line_of_comp
    boxes = _union_boxes(comps, line_of_comp)
    base = np.array(
        [
            b if b is not None else float(y1)
            for b, y1 in zip(
                _baselines(comps, line_of_comp, kind, len(boxes), scale), boxes[:, 3], strict=True
            )
        ]
    )
    core_top = base - 0.6 * (base - boxes[:, 1])
    core = np.maximum(base - core_top, 1.0)
    x, y, w, h = (comps[tall, i].astype(np.float64)[:, None] for i in range(4))
    overlap_y = np.minimum(y + h, base[None, :]) - np.maximum(y, core_top[None, :])
    overlap_x = (x < boxes[None, :, 2] + 0.5 * scale) & (x + w > boxes[None, :, 0] - 0.5 * scale)
    touches = overlap_x & (overlap_y >= 0.5 * core[None, :])
    comps = comps.copy()
    line_of_comp = line_of_comp.copy()
    new_comps: list[np.ndarray] = []
    new_lines: list[int] = []
    for row, c in enumerate(tall):
        hit = np.flatnonzero(touches[row])
        if len(hit) == 1:
            line_of_comp[c] = hit[0]
        elif len(hit) > 1:
            hit = hit[np.argsort(base[hit])]
            next_label = len(comps) + len(new_comps) + 1
            pieces = _cut_between_lines(
                labels, comps[c], int(c) + 1, next_label, base[hit], core_top[hit]
            )
            for k, (stats, line) in enumerate(zip(pieces, hit, strict=True)):
                if k == 0:  # the top piece keeps the label
                    comps[c] = stats
                    line_of_comp[c] = line if stats[4] > 0 else -1
                elif stats[4] > 0:
                    new_comps.append(stats)
                    new_lines.append(int(line))
    if new_comps:
        comps = np.concatenate([comps, np.array(new_comps, np.int64)])
        kind = np.concatenate([kind, np.full(len(new_comps), _CHAR, kind.dtype)])
        line_of_comp = np.concatenate([line_of_comp, np.array(new_lines, np.int64)])
    return labels, comps, kind, line_of_comp


def _cut_between_lines(
    labels: np.ndarray,
    comp: np.ndarray,
    label: int,
    next_label: int,
    bases: np.ndarray,
    core_tops: np.ndarray,
) -> list[np.ndarray]:
    """Cut one component between stacked lines (baselines `bases`, x-height tops
    `core_tops`, top to bottom) through the row of least ink between a line's baseline and
    the next line's x-height top. The top piece keeps `label`; each further piece that has
    ink gets the next free label from `next_label` on, written into `labels` in place.
    Returns each piece's stats (x, y, width, height, area; all 0 when it is empty)."""
    x, y, w, h = (int(v) for v in comp[:4])
    window = labels[y : y + h, x : x + w]
    mine = window == label
    ink_per_row = mine.sum(axis=1)
    cuts = []
    for k in range(len(bases) - 1):
        lo = int(np.clip(bases[k] - y, 0, h))
        hi = int(np.clip(core_tops[k + 1] - y, lo, h))
        cuts.append(lo + int(np.argmin(ink_per_row[lo:hi])) if hi > lo else lo)
    edges = [0, *cuts, h]
    pieces = []
    for k in range(len(edges) - 1):
        part = np.zeros_like(mine)
        part[edges[k] : edges[k + 1]] = mine[edges[k] : edges[k + 1]]
        ys, xs = np.nonzero(part)
        if len(xs) == 0:
            pieces.append(np.zeros(5, np.int64))
            continue
        if k > 0:
            window[part] = next_label
            next_label += 1
        pieces.append(
            np.array(
                [
                    x + xs.min(),
                    y + ys.min(),
                    xs.max() - xs.min() + 1,
                    ys.max() - ys.min() + 1,
                    len(xs),
                ],
                np.int64,
            )
        )
    return pieces


def _union_boxes(comps: np.ndarray, group: np.ndarray) -> np.ndarray:
    """(G, 4) boxes x0, y0, x1, y1 (exclusive) of the components of each group >= 0."""
    valid = group >= 0
    if not valid.any():
        return np.zeros((0, 4), np.int64)
    g = group[valid]
    n = int(g.max()) + 1
    c = comps[valid]
    out = np.empty((n, 4), np.int64)
    out[:, :2] = np.iinfo(np.int64).max
    out[:, 2:] = np.iinfo(np.int64).min
    np.minimum.at(out[:, 0], g, c[:, 0])
    np.minimum.at(out[:, 1], g, c[:, 1])
    np.maximum.at(out[:, 2], g, c[:, 0] + c[:, 2])
    np.maximum.at(out[:, 3], g, c[:, 1] + c[:, 3])
    return out


def _real_fragments(chars: np.ndarray, frag: np.ndarray, n_frags: int, scale: float) -> np.ndarray:
    """Fragments that look like text: a letter of the text's height, a word of three
    with an x-height letter, or a word of four or more marks (small print in a footer is
    smaller than the body's); never strokes alone (a page edge, a rule's dashes). Quotes,
    commas and stops are no line of their own: they join their line as loose marks."""
    tallest = np.zeros(n_frags, np.int64)
    widest = np.zeros(n_frags, np.int64)
    np.maximum.at(tallest, frag, chars[:, 3])
    np.maximum.at(widest, frag, chars[:, 2])
    count = np.bincount(frag, minlength=n_frags)
    wordlike = (
        ((tallest >= 0.8 * scale) & (count >= 2))
        | (tallest >= 0.9 * scale)  # a letter or a page number alone; a bold comma is less
        | ((tallest >= 0.6 * scale) & (count >= 3))
        | (count >= 4)
    )
    return wordlike & (widest >= 0.3 * scale)


def _join_stacked_pieces(
    boxes: np.ndarray, frag: np.ndarray, keep: np.ndarray, scale: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fragments not kept as text that lie one on another (columns shared, rows touching)
    and together make a letter of the text's size, with no text within a word gap of them
    in their row, become one kept fragment. A lightly typed letter or digit can come apart
    across: a page number's "3" into its bar and its bowl, each too small to be text alone,
    so the page number was never read. Beside text within a word gap, such pieces join its
    line as loose marks anyway; a tab stop away (a numbered paragraph's "5.   The") they
    stood further from it than a mark may, and were lost.

    Returns the boxes, each character's fragment and `keep`, with each joined pair in the
    upper piece's place and the lower one's left empty (not kept)."""
    index = np.flatnonzero(~keep)
    b = boxes[index].astype(np.float64)
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    # Pieces of a letter: narrower than two letters, lower than one, not specks.
    piece = (w >= 0.2 * scale) & (w <= 1.5 * scale) & (h >= 0.2 * scale) & (h < 0.9 * scale)
    index, b, w = index[piece], b[piece], w[piece]
    if len(index) < 2:
        return boxes, frag, keep
    # Pairs that share columns, found without an n x n matrix (a faded page has thousands
    # of pieces): sorted by left edge, each piece pairs with those that start inside it.
    order = np.argsort(b[:, 0], kind="stable")
    index, b, w = index[order], b[order], w[order]
    x0, y0, x1, y1 = (b[:, k] for k in range(4))
    ends = np.searchsorted(x0, x1, side="left")
    counts = np.maximum(ends - np.arange(len(b)) - 1, 0)
    first = np.repeat(np.arange(len(b)), counts)
    second = first + 1 + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    upper = np.where(y0[first] <= y0[second], first, second)
    lower = np.where(y0[first] <= y0[second], second, first)
    shared = np.minimum(x1[upper], x1[lower]) - np.maximum(x0[upper], x0[lower])
    height = np.maximum(y1[upper], y1[lower]) - y0[upper]
    width = np.maximum(x1[upper], x1[lower]) - np.minimum(x0[upper], x0[lower])
    letter = (
        (shared >= 0.5 * np.minimum(w[upper], w[lower]))
        & (y0[lower] > y0[upper])
        & (y0[lower] - y1[upper] <= max(1.0, 0.15 * scale))  # rows touching
        & (height >= 0.9 * scale)
        & (height <= 1.6 * scale)
        & (width <= 1.2 * scale)
    )
    upper, lower = upper[letter], lower[letter]
    if len(upper) == 0:
        return boxes, frag, keep
    text = boxes[keep]
    boxes, frag, keep = boxes.copy(), frag.copy(), keep.copy()
    taken = np.zeros(len(index), bool)  # a piece joins one letter only
    for u, v in zip(upper.tolist(), lower.tolist(), strict=True):
        if taken[u] or taken[v]:
            continue
        left, right = min(x0[u], x0[v]), max(x1[u], x1[v])
        top_y, bottom_y = y0[u], max(y1[u], y1[v])
        beside = (
            (np.minimum(text[:, 3], bottom_y) - np.maximum(text[:, 1], top_y))
            > 0.5 * (bottom_y - top_y)
        ) & (np.maximum(text[:, 0] - right, left - text[:, 2]) < 1.5 * scale)  # a word gap
        if beside.any():
            continue
        taken[u] = taken[v] = True
        top, bottom = index[u], index[v]
        boxes[top, :2] = np.minimum(boxes[top, :2], boxes[bottom, :2])
        boxes[top, 2:] = np.maximum(boxes[top, 2:], boxes[bottom, 2:])
        frag[frag == bottom] = top
        keep[top] = True
    return boxes, frag, keep


def _renumber(
    boxes: np.ndarray, group: np.ndarray, keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    new_index = np.cumsum(keep) - 1
    new_group = np.where(keep[group], new_index[group], -1) if len(group) else group
    return boxes[keep], new_group


def _merge_row_fragments(
    boxes: np.ndarray,
    gutters: Sequence[BBox],
    max_gap_px: float = float("inf"),
    *,
    columns_apart: bool = True,
    baselines: np.ndarray | None = None,
    parted: _Patches | None = None,
) -> np.ndarray:
    """Line index of each fragment: the fragments of one row are one line however far
    apart (two spaces after a full stop, justified text, a tab stop, a line number, a price
    at the right edge) unless a column gutter or separator runs between them. A row is
    fragments of comparable height that overlap by half the lower one's height, with
    centres less than half its height apart; a title beside small print is not one row
    with it. Where no gutter was found, a wide gap still parts two lines when one of them
    starts (or ends) at a column's margin and the other is a column's line too, not a line
    number, a "Q." or a cell (see _column_edges; not with columns_apart=False, which reads
    rows whole). With max_gap_px, only fragments closer than that (more for large type)
    merge. Fragments with not-the-page between them (a dark photograph, a book's fold:
    `parted`) across the row and a line's height wide or more never merge.
    """
    scale_px = float(np.median(boxes[:, 3] - boxes[:, 1])) if len(boxes) else 1.0
    n = len(boxes)
    parent = np.arange(n)
    starts, ends = _column_edges(boxes) if columns_apart else (np.zeros(n, bool),) * 2

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return int(i)

    # Sorted by top edge, a fragment can only share a row with those that start above its
    # bottom, so each one looks at a handful of others.
    order = np.argsort(boxes[:, 1], kind="stable").tolist()
    rows = boxes[:, :4].tolist()  # Python numbers: the loop below is scalar work
    for a_pos, a in enumerate(order):
        ax0, ay0, ax1, ay1 = rows[a]
        for b in order[a_pos + 1 :]:
            bx0, by0, bx1, by1 = rows[b]
            if by0 >= ay1:
                break
            lower = min(ay1 - ay0, by1 - by0)
            if min(ay1, by1) - max(ay0, by0) < 0.5 * lower:
                continue
            lo, hi = (ax1, bx0) if ax1 <= bx0 else (bx1, ax0)
            # A piece of faded letters (their tops, the rest gone, or a stroke a few
            # pixels tall) stands within the rows of a taller and wider box beside it,
            # off its centre and its baseline: it is that line's if it is close (two of
            # the line's heights), however much lower, up to a quarter of the line.
            taller = max(ay1 - ay0, by1 - by0)
            (sx0, sy0, sx1, sy1), (tx0, ty0, tx1, ty1) = (
                ((ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1))
                if ay1 - ay0 == lower
                else ((bx0, by0, bx1, by1), (ax0, ay0, ax1, ay1))
            )
            slack = max(1.0, 0.15 * lower)
            within = sy0 >= ty0 - slack and sy1 <= ty1 + slack and sx1 - sx0 <= tx1 - tx0
            piece = within and hi - lo <= 2.0 * taller and taller <= 4.0 * lower
            if not piece and taller > 2.5 * lower:
                continue
            # Centres close, so that a taller mark (a scrawl in the margin) that overlaps
            # two rows by half each never chains them into one line.
            if not piece and abs((ay0 + ay1) - (by0 + by1)) > lower:
                continue
            # Large type has wide word gaps: the gap limit grows with the text's height.
            if hi - lo > max_gap_px * max(1.0, 0.5 * lower / scale_px):
                continue
            y0, y1 = min(ay0, by0), max(ay1, by1)
            if any(g.x0 < hi and g.x1 > lo and g.y0 < y1 and g.y1 > y0 for g in gutters):
                continue
            # What crosses a gutter (a caption under a picture between the columns) stays
            # apart from the columns' lines beside it.
            if any(
                g.y0 < y1
                and g.y1 > y0
                and ((ax0 < g.x1 and ax1 > g.x0) or (bx0 < g.x1 and bx1 > g.x0))
                for g in gutters
            ):
                continue
            left, right = (a, b) if ax1 <= bx0 else (b, a)
            wide_gap = hi - lo > 1.2 * lower
            if wide_gap and (
                (starts[right] and _is_wide(boxes[left])) or (ends[left] and _is_wide(boxes[right]))
            ):
                continue  # a column's line beside another column's: a gutter nothing found
            # Pieces of one line stand on one baseline (a line number, a price); a scrawl
            # in the margin beside a typed line does not.
            if (
                not piece
                and baselines is not None
                and abs(baselines[a] - baselines[b]) > 0.4 * lower
            ):
                continue
            if parted is not None and parted.parts(lo, hi, max(ay0, by0), min(ay1, by1), lower):
                continue
            parent[find(int(b))] = find(int(a))
    roots = np.array([find(i) for i in range(n)], np.int64)
    roots = _join_lone_pieces(boxes, roots, baselines, gutters, scale_px, max_gap_px)
    _, dense = np.unique(roots, return_inverse=True)
    return dense.reshape(-1).astype(np.int64)


def _join_piece_lines(
    comps: np.ndarray,
    line_of_comp: np.ndarray,
    kind: np.ndarray,
    scale: float,
    gutters: Sequence[BBox],
) -> np.ndarray:
    """Each component's line, with the lines that are pieces of another line
    (_join_lone_pieces) joined to it."""
    if not (line_of_comp >= 0).any():
        return line_of_comp
    boxes = _union_boxes(comps, line_of_comp)
    bases = _baselines(comps, line_of_comp, kind, len(boxes), scale)
    heights = boxes[:, 3] - boxes[:, 1]
    joined = _join_lone_pieces(
        boxes,
        np.arange(len(boxes)),
        np.array([np.nan if b is None else b for b in bases]),
        gutters,
        float(np.median(heights)),
    )
    _, dense = np.unique(joined, return_inverse=True)
    return np.where(line_of_comp >= 0, dense.reshape(-1)[np.maximum(line_of_comp, 0)], -1)


def _join_lone_pieces(
    boxes: np.ndarray,
    roots: np.ndarray,
    baselines: np.ndarray | None,
    gutters: Sequence[BBox],
    typical_height: float,
    max_gap_px: float = float("inf"),
) -> np.ndarray:
    """Rows (`roots`, a root fragment per fragment) with each fragment that is alone in its
    row joined to the row of a fragment it is a piece of. Faded typing breaks letters into
    pieces whose boxes are off the line's centre and baseline, so the row rules above pass
    them over; on typed carbon copies they came out as lines of their own ("9", "a", "n5")
    or were lost. A piece is lower than its line and than the fragments' `typical_height`
    (three quarters or less: a line of the page is no piece of a line that a mark in the
    margin made taller), a quarter of its line's height at least and no wider than it; its
    line is a line (four of its heights wide or more, not a scrawl in the margin); and the
    piece either
    - crosses it: over it (or partly beyond its end) with half its own height in the
      line's rows (the top halves of a number's faded digits; a capital's top whose
      middle faded),
    - or stands within its rows (down to a descender's depth) beside it, a few letters
      wide (three of its heights) and four of its heights away at most, with no gutter
      between (a date's last digits after three letters' width of faded ones; a struck
      letter lower than its faded neighbours; not a caption in small capitals beside a
      column's line),
    - or, nine tenths of the line's height or less, lies over the line with three
      quarters of its height in the line's rows (a word whose bottoms faded).
    A piece beside a fragment is no further from it than `max_gap_px` either (phrases are
    what a wide word gap parts). Of several such fragments, the one it overlaps most, then
    the nearest. Only lone
    fragments: a piece in a row of its own line stays there, and chaining it to a second
    line would make the two one."""
    heights, widths = boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]
    # Only what can be a piece (not as high as the typical fragment) and what can be its
    # line (wide) are compared: a halftone's grain makes thousands of lone fragments.
    lone = np.flatnonzero(
        (np.bincount(roots, minlength=len(roots))[roots] == 1) & (heights <= 0.9 * typical_height)
    )
    lines = np.flatnonzero(widths >= 4 * heights)
    if len(lone) == 0 or len(lines) == 0:
        return roots
    x0, y0, x1, y1 = (boxes[lines, i].astype(np.float64)[None, :] for i in range(4))
    height = y1 - y0
    base = (
        y1
        if baselines is None
        else np.where(np.isnan(baselines[lines]), y1[0], baselines[lines])[None, :]
    )
    out = roots.copy()
    for start in range(0, len(lone), 256):  # bounded memory on pages full of pieces
        part = lone[start : start + 256]
        px0, py0, px1, py1 = (boxes[part, i].astype(np.float64)[:, None] for i in range(4))
        piece_height = py1 - py0
        down = np.minimum(y1, py1) - np.maximum(y0, py0)
        across = np.minimum(x1, px1) - np.maximum(x0, px0)
        gap = np.maximum(-across, 0.0)
        slack = np.maximum(1.0, 0.15 * piece_height)
        crossing = (across > 0) & (down >= 0.5 * piece_height)
        descender = base + 0.35 * (base - y0)  # as deep as a descender may reach
        beside = (
            (across <= 0)
            & (px1 - px0 <= 3.0 * height)  # a few letters, no caption in small type
            & (py0 >= y0 - slack)
            & (py1 <= np.maximum(y1 + slack, descender))
            & (gap <= np.minimum(4.0 * height, max_gap_px))
        )
        for g in gutters:
            lo, hi = np.minimum(x1, px1), np.maximum(x0, px0)  # the gap between them
            beside &= ~((g.x0 < hi) & (g.x1 > lo) & (g.y0 < y1) & (g.y1 > y0) & (gap > 0))
        # A word over the line, three quarters of it in the line's rows, is the line's
        # even nearly as high as it (its bottoms faded, so its baseline is off).
        inside = (across >= px1 - px0) & (down >= 0.75 * piece_height)
        piece_of = (
            (
                ((crossing | beside) & (piece_height <= 0.75 * np.minimum(height, typical_height)))
                | (inside & (piece_height <= 0.9 * np.minimum(height, typical_height)))
            )
            & (height <= 4.0 * piece_height)
            & (px1 - px0 <= x1 - x0)
            & (lines[None, :] != part[:, None])  # not a piece of itself
        )
        score = np.where(piece_of, down / piece_height - 0.01 * gap / height, -np.inf)
        best = score.argmax(axis=1)
        found = np.isfinite(score[np.arange(len(part)), best])
        out[part[found]] = roots[lines[best[found]]]
    # A piece's line may itself have been a lone piece that joined another line.
    return out[out]


def _merge_rows(
    comps: np.ndarray,
    group: np.ndarray,
    kind: np.ndarray,
    scale: float,
    gutters: Sequence[BBox],
    *,
    max_gap_px: float = float("inf"),
    columns_apart: bool = True,
    parted: _Patches | None = None,
) -> np.ndarray:
    """Each component's row: its group (a fragment, a phrase; -1 for none, which stays)
    merged with the other groups of its row by _merge_row_fragments, on the groups' boxes
    and baselines."""
    boxes = _union_boxes(comps, group)
    bases = _baselines(comps, group, kind, len(boxes), scale)
    row_of_group = _merge_row_fragments(
        boxes,
        gutters,
        max_gap_px,
        columns_apart=columns_apart,
        baselines=np.array([np.nan if b is None else b for b in bases]),
        parted=parted,
    )
    return np.where(group >= 0, row_of_group[np.maximum(group, 0)], -1)


def _is_wide(box: np.ndarray) -> bool:
    """A line of a text column, not a line number, a marker or a cell: 4 heights or more."""
    return bool(box[2] - box[0] >= 4 * (box[3] - box[1]))


def _column_edges(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per fragment: whether its left edge is a column's left margin, and whether its right
    edge is a column's (justified) right margin: shared, within half its height, by three
    or more other fragments within 6 of its heights above or below (the next few lines),
    that are lines of a text column (8 heights wide or more). A caption between two columns
    hides the gutter from the projections, but not the margins of the columns' lines beside
    it; on a typewritten page a sentence after two spaces starts in the same character
    column as another line's now and then, but not in most of the lines around it."""
    n = len(boxes)
    if n == 0:
        return np.zeros(0, bool), np.zeros(0, bool)
    height = np.maximum(boxes[:, 3] - boxes[:, 1], 1)
    centre = (boxes[:, 1] + boxes[:, 3]) / 2.0
    wide = np.flatnonzero(boxes[:, 2] - boxes[:, 0] >= 8 * height)
    starts, ends = np.zeros(n, bool), np.zeros(n, bool)
    if len(wide) < 3:
        return starts, ends
    for i in range(0, n, 1024):  # bounded memory
        part = slice(i, min(n, i + 1024))
        h = height[part, None]
        near = np.abs(centre[part, None] - centre[None, wide]) <= 6 * h
        near &= np.arange(i, part.stop)[:, None] != wide[None, :]
        same_x0 = np.abs(boxes[part, 0, None] - boxes[None, wide, 0]) <= 0.5 * h
        same_x1 = np.abs(boxes[part, 2, None] - boxes[None, wide, 2]) <= 0.5 * h
        starts[part] = (near & same_x0).sum(axis=1) >= 3
        ends[part] = (near & same_x1).sum(axis=1) >= 3
    return starts, ends


def _drop_blob_lines(comps: np.ndarray, line_of_comp: np.ndarray, scale: float) -> np.ndarray:
    """Lines that are bits of a picture or dirt, not text: up to three solid, roundish blobs
    (glyphs are strokes: their ink fills well under 55% of their box unless they are as thin
    as an "l"), or a single mark that is not glyph-sized. A page number still passes."""
    valid = np.flatnonzero(line_of_comp >= 0)
    if len(valid) == 0:
        return line_of_comp
    lines = line_of_comp[valid]
    w, h, area = (comps[valid, i].astype(np.float64) for i in (2, 3, 4))
    blob = (area > 0.55 * w * h) & (w >= 0.5 * h)
    odd_size = (h < 0.8 * scale) | (h > 2.5 * scale) | (w > 2.0 * scale)
    n_lines = int(lines.max()) + 1
    members = np.bincount(lines, minlength=n_lines)
    blobs = np.bincount(lines, weights=blob, minlength=n_lines)
    odd = np.bincount(lines, weights=odd_size | blob, minlength=n_lines)
    return _drop_lines(
        line_of_comp, ((members <= 3) & (blobs == members)) | ((members == 1) & (odd == 1))
    )


def _drop_marks_in_outlines(
    comps: np.ndarray, kind: np.ndarray, line_of_comp: np.ndarray, page_area: float
) -> np.ndarray:
    """ "Lines" of one or two marks inside a stamp, frame or picture are pieces of it (the
    broken inner ring of a rubber stamp); words inside a stamp have more letters."""
    # A frame around the whole card is not a stamp: only outlines smaller than an eighth
    # of the page count.
    big = np.flatnonzero((kind == _BIG) & (comps[:, 2] * comps[:, 3] < page_area / 8.0))
    valid = np.flatnonzero(line_of_comp >= 0)
    if len(big) == 0 or len(valid) == 0:
        return line_of_comp
    lines = line_of_comp[valid]
    n_lines = int(lines.max()) + 1
    members = np.bincount(lines, minlength=n_lines)
    boxes = _union_boxes(comps, line_of_comp)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2.0
    cy = (boxes[:, 1] + boxes[:, 3]) / 2.0
    bx0, by0 = comps[big, 0], comps[big, 1]
    bx1, by1 = bx0 + comps[big, 2], by0 + comps[big, 3]
    inside = (
        (cx[:, None] >= bx0) & (cx[:, None] < bx1) & (cy[:, None] >= by0) & (cy[:, None] < by1)
    ).any(axis=1)
    return _drop_lines(line_of_comp, (members <= 2) & inside)


def _dense(group: np.ndarray) -> np.ndarray:
    """Renumber the groups >= 0 as 0, 1, 2, ... in order; -1 stays -1."""
    kept = np.unique(group[group >= 0])
    index = np.full(int(group.max()) + 2 if len(group) else 1, -1, np.int64)
    index[kept] = np.arange(len(kept))
    return np.where(group >= 0, index[np.maximum(group, 0)], -1).astype(np.int64)


def _attach(
    loose: np.ndarray,
    line_boxes: np.ndarray,
    baselines: Sequence[float | None],
    scale: float,
    *,
    pieces: bool = False,
) -> np.ndarray:
    """Line of each loose component (dot, comma, quote, dash, accent, tall glyph), or -1.

    Every mark near a line belongs to it (the OCRopus idea of spreading line labels to all
    components), so that no full stop or "Q." marker falls out of its line's image. A
    mark is near a line when it lies over the line's box, from a little above it (the dot
    of an i in a line without capitals) down to the baseline or across it (a comma; wholly
    below the baseline there are only descenders, which their letters hold, and dust), or
    when it stands where punctuation stands (on the baseline, across the x-height, or
    hanging from the capital height) within 1.2 line heights of the line's ends (a space
    before a typed full stop), or after them 2 for a letter or a dash, and before them 2
    for a typed dash.
    Of several such lines, the mark goes to the one whose x-height band (from 0.6 of the
    ascender height above the baseline down to it) is nearest, with the space below a
    baseline counted three times as far as the space above the band, because descenders
    are that much shorter than ascenders. Specks smaller than a tenth of the text scale
    across are dust, never a mark. With `pieces`, the marks are pieces of faded letters, and
    one a quarter of the line's height or more reaches as far as a letter does.
    """
    out = np.full(len(loose), -1, np.int64)
    if len(loose) == 0 or len(line_boxes) == 0:
        return out
    lx0, ly0, lx1, ly1 = (line_boxes[:, i].astype(np.float64) for i in range(4))
    height = np.maximum(ly1 - ly0, 1.0)
    base = np.array([b if b is not None else y1 for b, y1 in zip(baselines, ly1, strict=True)])
    core_top = base - 0.6 * (base - ly0)
    big_enough = loose[:, 4] >= max(2.0, (0.1 * scale) ** 2)
    for start in range(0, len(loose), 2048):  # bounded memory on pages full of specks
        part = loose[start : start + 2048]
        cx = (part[:, 0] + part[:, 2] / 2.0)[:, None]
        cy = (part[:, 1] + part[:, 3] / 2.0)[:, None]
        top, bottom = part[:, 1][:, None], (part[:, 1] + part[:, 3])[:, None]
        # Beyond a line's ends only punctuation's places count: on the baseline (stops,
        # commas), across the x-height (dashes) or hanging from the capital height
        # (quotes); dust is elsewhere. A letter or a dash reaches twice as far as a dot:
        # a typewriter's "TO -" and "W. C. l." have wide gaps, and dust is dots.
        punctuation = (
            ((bottom >= base - 0.4 * height) & (bottom <= base + 0.35 * height))
            | ((top >= ly0 - 0.15 * height) & (top <= core_top))
            | ((cy >= core_top) & (cy <= base))
        )
        w, h = part[:, 2][:, None], part[:, 3][:, None]
        dash = (w >= 2 * h) & (w >= 0.3 * height)
        # A faded letter's piece (a quarter of the line's height or more: not a footnote's
        # letter beside a title) reaches as far as a letter.
        letter = (h >= 0.5 * height) | (pieces & (h >= 0.25 * height))
        reach = np.where(letter | dash, 2.0, 1.2) * height  # after the line's end
        # A scrawl in the left margin is no opening quote; a typed dash before a page
        # number ("- 3 -") stands as far off as the one after it. Typed: straight and
        # level (it fills its box), shorter than the line is high, across the x-height;
        # a pen's or pencil's stroke in the margin is slanted, long or elsewhere.
        typed_dash = (
            dash
            & (w <= height)
            & (part[:, 4][:, None] >= 0.5 * w * h)
            & (cy >= core_top)
            & (cy <= base)
        )
        reach_before = np.where(typed_dash, 2.0, 1.2) * height
        over = (
            (cx >= lx0)
            & (cx < lx1)
            & (bottom >= ly0 - 0.1 * height)
            & (top <= base - 0.05 * height)
            & (cy < ly1 + 0.15 * height)
        )
        beyond = (
            ((cx >= lx0 - reach_before) & (cx < lx0)) | ((cx >= lx1) & (cx < lx1 + reach))
        ) & punctuation
        near = over | beyond
        below = np.maximum(cy - base, 0.0) / (0.3 * height)
        above = np.maximum(core_top - cy, 0.0) / (0.9 * height)
        beside = np.maximum(np.maximum(lx0 - cx, cx - lx1), 0.0) / reach
        dist = np.where(near, below + above + 0.25 * beside, np.inf)
        best = dist.argmin(axis=1)
        found = np.isfinite(dist[np.arange(len(part)), best]) & big_enough[start : start + 2048]
        out[start : start + len(part)] = np.where(found, best, -1)
    return out


def _mark_rows(
    comps: np.ndarray, marks: np.ndarray, scale: float, step: int, shape: tuple[int, int]
) -> np.ndarray:
    """Row index of each of these marks, or -1: rows of five or more marks of one size
    (within a factor of two), less than 1.2 scales apart and on one baseline: dashes, dots,
    stars, not dust. A speck of dust beside a long row (ten marks or more, four to each
    speck) stays out of it and leaves it a row; a photograph's grain has specks of many
    sizes, and a few alike among them are no row."""
    out = np.full(len(marks), -1, np.int64)
    big_enough = comps[marks, 4] >= max(2.0, (0.1 * scale) ** 2)
    marks, index = marks[big_enough], np.flatnonzero(big_enough)
    if len(marks) < 5:
        return out
    frag = _smear_fragments(comps, marks, 1.2 * scale, step, shape)
    n_rows = 0
    for f in np.flatnonzero(np.bincount(frag) >= 5):
        members = np.flatnonzero(frag == f)
        w, h = comps[marks[members], 2], comps[marks[members], 3]
        bottom = comps[marks[members], 1] + h
        # A speck beside the row is unlike the typical mark (a factor of two off its size,
        # or off its baseline); what is left must be a row by itself.
        tolerance = max(2.0, 0.2 * scale)
        alike = (
            (w <= 2 * np.median(w))
            & (2 * w >= np.median(w))
            & (h <= 2 * np.median(h))
            & (2 * h >= np.median(h))
            & (np.abs(bottom - np.median(bottom)) <= tolerance)
        )
        w, h, bottom = w[alike], h[alike], bottom[alike]
        odd = len(members) - len(w)
        if (
            len(w) >= (10 if odd else 5)
            and len(w) >= 4 * odd
            and w.max() <= 2 * max(w.min(), 1)
            # Marks two or three pixels high: a pixel of noise on one and a pixel lost from
            # another is a factor of two and a half, and still one row of one mark.
            and np.ptp(h) <= max(h.min(), tolerance)
            and np.ptp(bottom) <= tolerance
        ):
            out[index[members[alike]]] = n_rows
            n_rows += 1
    return out


def _baselines(
    comps: np.ndarray, line_of_comp: np.ndarray, kind: np.ndarray, n_lines: int, scale: float
) -> list[float | None]:
    """Median bottom of each line's letters, weighted by their height squared: descenders
    are a minority in any script with a baseline, so the median bottom is the baseline;
    the weights keep the strokes of quotes, which hang from the capital height, from
    outvoting the letters of a short word ('"As".'). Marks under a third of the text
    scale tall do not count."""
    letters = _letters(comps, line_of_comp, kind, scale)
    bottoms = comps[letters, 1] + comps[letters, 3]
    weights = comps[letters, 3] ** 2
    return _medians_per_line(bottoms, weights, line_of_comp[letters], n_lines)


def _letter_heights(
    comps: np.ndarray, line_of_comp: np.ndarray, kind: np.ndarray, n_lines: int, scale: float
) -> list[float | None]:
    """Median height of each line's letters (the marks _baselines counts): an x-height or
    a little more, whatever else joined the line. None for a line whose letters hold less
    than half its ink: display type, whose few such marks are specks and pieces."""
    letters = _letters(comps, line_of_comp, kind, scale)
    heights = comps[letters, 3]
    medians = _medians_per_line(heights, np.ones_like(heights), line_of_comp[letters], n_lines)
    in_line = line_of_comp >= 0
    ink = np.bincount(line_of_comp[in_line], comps[in_line, 4], minlength=n_lines)
    letter_ink = np.bincount(line_of_comp[letters], comps[letters, 4], minlength=n_lines)
    return [m if 2 * letter_ink[i] >= ink[i] else None for i, m in enumerate(medians)]


def _letters(
    comps: np.ndarray, line_of_comp: np.ndarray, kind: np.ndarray, scale: float
) -> np.ndarray:
    """Indices of the marks of lines that are letters: of body size, a third of the text
    scale tall or more."""
    return np.flatnonzero((kind == _CHAR) & (line_of_comp >= 0) & (comps[:, 3] >= scale / 3.0))


def _medians_per_line(
    values: np.ndarray, weights: np.ndarray, lines: np.ndarray, n_lines: int
) -> list[float | None]:
    """Each line's weighted median of `values` (None for a line without any), all at once:
    sorted by line then value, a line's values are consecutive, and the running sum of the
    (whole-number) weights is exact."""
    out: list[float | None] = [None] * n_lines
    if not len(values):
        return out
    values = values.astype(np.float64)
    order = np.lexsort((values, lines))
    lines, values, weights = lines[order], values[order], weights[order].astype(np.float64)
    starts = np.searchsorted(lines, np.arange(n_lines))
    ends = np.searchsorted(lines, np.arange(n_lines), side="right")
    cum = np.cumsum(weights)
    before = np.where(starts > 0, cum[np.maximum(starts - 1, 0)], 0.0)
    total = cum[np.maximum(ends - 1, 0)] - before
    median = values[np.minimum(np.searchsorted(cum, before + total / 2.0), len(cum) - 1)]
    for i in np.flatnonzero(ends > starts):
        out[i] = float(median[i])
    return out


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, cum[-1] / 2.0)])


def _empty(labels: np.ndarray, stats: np.ndarray) -> Layout:
    return Layout(0.0, (), labels, np.full(len(stats), -1, np.int32), stats.astype(np.int64))
