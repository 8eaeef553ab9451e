"""Reading order of text-line boxes: columns left to right, each top to bottom, rows kept whole.

The rule, on boxes alone (deskewed frame, any units), plus optional column separators that
segmentation found in the pixels:

1. Lines wider than `spanning_fraction` of the text width (headings, full-width paragraphs)
   cannot belong to one column of a multi-column layout; they cut the page into sections.
2. In a section, a gap in the x-projection of its lines is a column gutter when at least
   `min_column_lines` rows stand on each side, the rows on both sides are wide compared
   to the gap (or wide outright), and those on at least one side are text (filled with
   words, not cells with gaps). Line numbers, Q. and A. markers, prices beside their
   items and a right-aligned date also leave gaps, but their rows are short next to the
   gap, or there is only one of them, so they stay rows; a table's own columns are cells
   on both sides; a column beside a table is split from it. A gap on a known separator
   counts however narrow.
3. A section with gutters is read column by column, each column split again the same way.
   One without may hold columns that a few lines cross (a caption under a picture, a
   title under the columns): those are read before or after the columns. Else it is cut
   at the row gap that leaves the most lines in a part with gutters.
4. Everything else is read in rows: top to bottom, fragments of one row left to right.

This differs from OCRopus's partial order (which reads a right-aligned date after the text
below it and tables column by column) in deciding *whether* a gap is a column gutter before
ordering, instead of treating every horizontally separated line as another column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from scandex.page import BBox


@dataclass(frozen=True)
class OrderParams:
    # A line wider than this fraction of the text width spans columns (heading, body text).
    spanning_fraction: float = 0.55
    # A column gutter needs this many lines on each side ...
    min_column_lines: int = 4
    # ... whose median width is at least this many times the gutter's width,
    column_width_ratio: float = 2.5
    # ... and the gutter itself is at least this many median line heights wide.
    min_gutter_lines_height: float = 1.0
    # ... or at least this many median line heights wide (about 25 characters).
    min_column_width_lines: float = 12.0
    # ... and the rows of one side at least this much covered by its lines (text; a
    # table's rows are cells with wide gaps between them).
    min_text_fill: float = 0.8
    # At most this fraction of a section's lines may cross its gutters (captions, headings
    # over some of the columns); they are read before or after those columns.
    max_crossing_fraction: float = 0.1
    # A section without gutters is tried cut at this many of its widest row gaps.
    max_cuts_tried: int = 60
    # Two boxes are on one row when their vertical overlap is at least this fraction of the
    # lower one's height.
    row_overlap: float = 0.5


@dataclass(frozen=True)
class ReadingBlock:
    """Lines read together: one column of a section, or a run of full-width lines and rows."""

    lines: tuple[int, ...]  # indices into the boxes, in reading order
    is_column: bool


def reading_order(
    boxes: Sequence[BBox], *, columns: int | None = None, params: OrderParams = OrderParams()
) -> list[int]:
    """A permutation of range(len(boxes)): the order in which a person reads these lines.

    columns: force this many columns in every multi-line section (1: never split columns).
    """
    return [
        i for block in reading_blocks(boxes, columns=columns, params=params) for i in block.lines
    ]


def reading_blocks(
    boxes: Sequence[BBox],
    *,
    columns: int | None = None,
    separators: Sequence[BBox] = (),
    params: OrderParams = OrderParams(),
) -> list[ReadingBlock]:
    """The lines grouped into blocks (columns and runs of rows), blocks in reading order."""
    return blocks_and_gutters(boxes, columns=columns, separators=separators, params=params)[0]


def find_gutters(
    boxes: Sequence[BBox],
    *,
    columns: int | None = None,
    separators: Sequence[BBox] = (),
    params: OrderParams = OrderParams(),
) -> list[BBox]:
    """The column gutters reading_blocks uses, as boxes spanning their section's lines."""
    return blocks_and_gutters(boxes, columns=columns, separators=separators, params=params)[1]


def blocks_and_gutters(
    boxes: Sequence[BBox],
    *,
    columns: int | None = None,
    separators: Sequence[BBox] = (),
    params: OrderParams = OrderParams(),
) -> tuple[list[ReadingBlock], list[BBox]]:
    """reading_blocks and find_gutters of the same boxes, found once."""
    if not boxes:
        return [], []
    arr = _as_array(boxes)
    blocks: list[ReadingBlock] = []
    free: list[int] = []  # rows waiting to become one non-column block
    found: list[tuple[float, float, float, float]] = []

    def flush_free() -> None:
        if free:
            blocks.append(ReadingBlock(tuple(_rows_order(arr, free, params)), False))
            free.clear()

    gutters_of = _GutterFinder(arr, columns, separators, params)
    for part, is_column in _blocks(arr, gutters_of, gutters_out=found):
        if not is_column:
            free.extend(part)
            continue
        flush_free()
        blocks.append(ReadingBlock(tuple(_rows_order(arr, part, params)), True))
    flush_free()
    gutters = [BBox(int(gx0), int(y0), int(gx1), int(y1)) for gx0, y0, gx1, y1 in found]
    return blocks, gutters


@dataclass
class _GutterFinder:
    """_section_gutters of the page's lines, each set of lines (in one order) worked out
    once: the search for a cut tries the same upper and lower parts again at every level
    it recurses into (a part above a cut is also the part above it within a larger part)."""

    arr: np.ndarray
    columns: int | None
    separators: Sequence[BBox]
    params: OrderParams
    _known: dict[tuple[int, ...], list[tuple[float, float]]] = field(default_factory=dict)

    def __call__(self, idx: list[int]) -> list[tuple[float, float]]:
        key = tuple(idx)
        if key not in self._known:
            self._known[key] = _section_gutters(
                self.arr, idx, self.columns, self.separators, self.params
            )
        return self._known[key]


def _blocks(
    arr: np.ndarray,
    gutters_of: _GutterFinder,
    gutters_out: list[tuple[float, float, float, float]],
) -> list[tuple[list[int], bool]]:
    """The page as runs of lines in reading order, each flagged when it is a column."""
    out: list[tuple[list[int], bool]] = []
    for section, spanning in _sections(arr, gutters_of.params):
        if spanning:
            out.append((section, False))
        else:
            out.extend(_split(arr, section, gutters_of, gutters_out, 0))
    return out


def _split(
    arr: np.ndarray,
    idx: list[int],
    gutters_of: _GutterFinder,
    gutters_out: list[tuple[float, float, float, float]],
    depth: int,
) -> list[tuple[list[int], bool]]:
    """Lines read by columns where they have gutters, each column split again the same way.

    A run without gutters may still hold columns that a few lines cross (a caption under a
    picture, a title under the columns): those are read before or after the columns. Else
    it may hold columns above or below something else: it is cut at the row gap that
    leaves the most lines in a part with gutters."""
    if depth >= 8 or len(idx) < 2:
        return [(idx, False)]
    params = gutters_of.params
    gutters = gutters_of(idx)
    if gutters:
        return _columns(arr, idx, gutters, gutters_of, gutters_out, depth)
    if len(idx) >= 2 * params.min_column_lines:
        crossers = _crossers(arr, idx, gutters_of)
        if crossers:
            rest = [i for i in idx if i not in crossers]
            gutters = gutters_of(rest)
            # A line of a column that only pokes into a narrow gutter (a speck before it,
            # a ragged start) is read in its column, not after the columns.
            line_height = _median(arr[idx, 3] - arr[idx, 1])
            strays = [i for i in crossers if _pokes_in(arr[i], gutters, line_height)]
            crossers = {i for i in crossers if i not in strays}
            top = arr[rest, 1].min()
            before = [i for i in idx if i in crossers and arr[i, 3] <= top]
            after = [i for i in idx if i in crossers and arr[i, 3] > top]
            inner = _columns(arr, rest + strays, gutters, gutters_of, gutters_out, depth)
            return (
                ([(before, False)] if before else []) + inner + ([(after, False)] if after else [])
            )
        # Of the widest row gaps, cut at the one that leaves the most lines in a part with
        # gutters: the title under the columns is cut off, not a paragraph break.
        best: tuple[int, list[int], list[int]] | None = None
        members = np.array(idx)
        bottoms = arr[members, 3]
        for cut in _row_gaps(arr, idx)[: params.max_cuts_tried]:
            upper = members[bottoms <= cut].tolist()
            lower = members[bottoms > cut].tolist()
            # A part no larger than the best gain so far cannot beat it: not looked at.
            least = max(2 * params.min_column_lines, best[0] + 1 if best else 0)
            gain = max(
                len(part) if len(part) >= least and gutters_of(part) else 0
                for part in (upper, lower)
            )
            if gain and (best is None or gain > best[0]):
                best = (gain, upper, lower)
        if best is not None:
            _, upper, lower = best
            return _split(arr, upper, gutters_of, gutters_out, depth + 1) + _split(
                arr, lower, gutters_of, gutters_out, depth + 1
            )
    return [(idx, False)]


def _columns(
    arr: np.ndarray,
    idx: list[int],
    gutters: list[tuple[float, float]],
    gutters_of: _GutterFinder,
    gutters_out: list[tuple[float, float, float, float]],
    depth: int,
) -> list[tuple[list[int], bool]]:
    """The lines read column by column between these gutters, each column split again."""
    y0, y1 = float(arr[idx, 1].min()), float(arr[idx, 3].max())
    gutters_out.extend((gx0, y0, gx1, y1) for gx0, gx1 in gutters)
    out: list[tuple[list[int], bool]] = []
    for column in _split_columns(arr, idx, gutters):
        if column:
            inner = _split(arr, column, gutters_of, gutters_out, depth + 1)
            out.extend((part, True) for part, _ in inner)
    return out


def _pokes_in(box: np.ndarray, gutters: list[tuple[float, float]], line_height: float) -> bool:
    """Whether a line that crosses gutters reaches into each from the column its middle is
    in by a line height at most: a speck before a line, a ragged start. A caption under a
    picture or a heading over two columns reaches in, or across, much further."""
    x0, x1 = box[0], box[2]
    middle = (x0 + x1) / 2.0
    return all(
        (gx1 - x0 if middle > (gx0 + gx1) / 2.0 else x1 - gx0) <= line_height
        for gx0, gx1 in gutters
        if x0 < gx1 and x1 > gx0
    )


def _crossers(arr: np.ndarray, idx: list[int], gutters_of: _GutterFinder) -> set[int]:
    """The few lines (a caption under a picture between two columns, a heading over two of
    three) whose removal lets the rest show column gutters; empty when there are none.

    Candidates are the lines over the x positions that the fewest lines cover, at most
    `max_crossing_fraction` of the lines; of those that reveal gutters, the smallest set."""
    params = gutters_of.params
    limit = max(3, int(params.max_crossing_fraction * len(idx)))
    members = np.array(idx)
    lefts, rights = arr[members, 0], arr[members, 2]
    x0, x1 = lefts.min(), rights.max()
    line_height = _median(arr[idx, 3] - arr[idx, 1])
    bins = 200
    width = max(x1 - x0, 1.0) / bins
    lo = ((arr[idx, 0] - x0) / width).astype(int).clip(0, bins - 1)
    hi = np.ceil((arr[idx, 2] - x0) / width).astype(int).clip(1, bins)
    diff = np.zeros(bins + 1, int)
    np.add.at(diff, lo, 1)
    np.add.at(diff, hi, -1)
    cover = np.cumsum(diff)[:bins]
    best: set[int] = set()
    tried: set[frozenset[int]] = set()
    for b in np.argsort(cover, kind="stable"):
        if cover[b] == 0 or cover[b] > limit:
            continue
        centre = x0 + (b + 0.5) * width
        crossing = (lefts <= centre) & (centre < rights)
        over = frozenset(members[crossing].tolist())
        if over in tried or (best and len(over) >= len(best)):
            continue
        # Lines that start at the section's left edge belong to its first column (the wide
        # top lines of a column that narrows beside a picture), they do not cross over it.
        flush_left = int(np.count_nonzero(crossing & (lefts - x0 < line_height)))
        if 2 * flush_left > len(over):
            continue
        tried.add(over)
        rest = members[~crossing].tolist()
        if len(rest) >= 2 * params.min_column_lines and gutters_of(rest):
            best = set(over)
        if len(tried) >= 12:
            break
    return best


def _row_gaps(arr: np.ndarray, idx: list[int]) -> list[float]:
    """y positions between rows that no line crosses, widest gap first."""
    reach, y0 = _uncovered(arr[idx, 1], arr[idx, 3])
    widest = np.argsort(reach - y0, kind="stable")  # gaps are negative widths here
    return ((reach[widest] + y0[widest]) / 2.0).tolist()


def _uncovered(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The inner intervals that none of the intervals [starts, ends] covers, in order: the
    end of what lies before each, and the start of what comes after it."""
    order = np.lexsort((ends, starts))
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)
    gap = np.flatnonzero(starts[1:] > reach[:-1])
    return reach[gap], starts[gap + 1]


def _as_array(boxes: Sequence[BBox]) -> np.ndarray:
    """(N, 4) float array x0, y0, x1, y1 with x1 >= x0 and y1 >= y0."""
    arr = np.array([[b.x0, b.y0, b.x1, b.y1] for b in boxes], dtype=np.float64).reshape(-1, 4)
    arr[:, 2] = np.maximum(arr[:, 2], arr[:, 0])
    arr[:, 3] = np.maximum(arr[:, 3], arr[:, 1])
    return arr


def _top_first(box: np.ndarray) -> tuple[float, ...]:
    """Sort key on the box alone (never the input position), top edge first."""
    return (box[1], box[0], box[3], box[2])


def _left_first(box: np.ndarray) -> tuple[float, ...]:
    return (box[0], box[1], box[2], box[3])


def _sections(arr: np.ndarray, params: OrderParams) -> list[tuple[list[int], bool]]:
    """Runs of lines between spanning lines, top to bottom; each spanning line is its own run."""
    widths = arr[:, 2] - arr[:, 0]
    text_width = arr[:, 2].max() - arr[:, 0].min()
    spanning = widths > params.spanning_fraction * text_width
    order = sorted(range(len(arr)), key=lambda i: (*_top_first(arr[i]), i))
    sections: list[tuple[list[int], bool]] = []
    current: list[int] = []
    for i in order:
        if spanning[i] and len(arr) > 1:
            if current:
                sections.append((current, False))
                current = []
            sections.append(([i], True))
        else:
            current.append(i)
    if current:
        sections.append((current, False))
    return sections


def _projection_gaps(boxes: np.ndarray) -> list[tuple[float, float]]:
    """Inner x-intervals covered by none of these boxes, left to right."""
    gx0, gx1 = _uncovered(boxes[:, 0], boxes[:, 2])
    return list(zip(gx0.tolist(), gx1.tolist(), strict=True))


def _section_gutters(
    arr: np.ndarray,
    idx: list[int],
    columns: int | None,
    separators: Sequence[BBox],
    params: OrderParams,
) -> list[tuple[float, float]]:
    if len(idx) < 2 or columns == 1:
        return []
    boxes = arr[idx]
    gaps = _projection_gaps(boxes)
    if columns is not None:
        widest = sorted(gaps, key=lambda g: g[1] - g[0], reverse=True)[: columns - 1]
        return sorted(widest)
    heights = boxes[:, 3] - boxes[:, 1]
    line_height = _median(heights)
    gutters = []
    for gx0, gx1 in gaps:
        width = gx1 - gx0
        if width < params.min_gutter_lines_height * line_height and not _on_separator(
            boxes, gx0, gx1, separators
        ):
            continue
        # Each side's lines up to the next gap at least as wide as this one (a narrower gap
        # is a word gap, a table's cell gap or a narrower gutter further on).
        left_limit = max((g1 for g0, g1 in gaps if g1 <= gx0 and g1 - g0 >= width), default=-np.inf)
        right_limit = min((g0 for g0, g1 in gaps if g0 >= gx1 and g1 - g0 >= width), default=np.inf)
        left = boxes[(boxes[:, 2] <= gx0) & (boxes[:, 0] >= left_limit)]
        right = boxes[(boxes[:, 0] >= gx1) & (boxes[:, 2] <= right_limit)]
        left_rows = _row_spans(left, line_height)
        right_rows = _row_spans(right, line_height)
        # Rows counted in lines of the section's height: a title in display type as tall as
        # five lines of the small print beside it is a column of its own.
        left_lines = np.maximum(left_rows[:, 3] / max(line_height, 1e-9), 1.0).sum()
        right_lines = np.maximum(right_rows[:, 3] / max(line_height, 1e-9), 1.0).sum()
        if min(left_lines, right_lines) < params.min_column_lines:
            continue
        # The gap as the rows see it, from the typical right end on the left to the typical
        # start on the right: one long line beside a table narrows the projection gap but
        # not this.
        typical = _median(right_rows[:, 0]) - _median(left_rows[:, 1])
        need = params.column_width_ratio * max(width, typical)
        wide = params.min_column_width_lines * line_height
        # A side is wide when its rows are wide compared to the gap, or wide outright (a
        # two-page spread has a wide gap between its inner columns); line numbers, Q. and
        # A. markers and prices beside their text are not. At least one side must be text
        # (its rows filled with words, where a table's rows are cells with gaps between):
        # a column beside a table is split from it, a table's own columns are not.
        left_extent = _median(left_rows[:, 1] - left_rows[:, 0])
        right_extent = _median(right_rows[:, 1] - right_rows[:, 0])
        if min(left_extent, right_extent) < min(need, wide):
            continue
        text_side = max(_median(left_rows[:, 2]), _median(right_rows[:, 2]))
        if text_side >= params.min_text_fill:
            gutters.append((gx0, gx1))
    return gutters


def _median(values: np.ndarray) -> float:
    """np.median without its overhead, which dominates on the few values of a section."""
    ordered = np.sort(values, axis=None)
    n = len(ordered)
    return float(ordered[n // 2]) if n % 2 else float(ordered[n // 2 - 1] + ordered[n // 2]) / 2.0


def _row_spans(boxes: np.ndarray, line_height: float) -> np.ndarray:
    """(rows, 4): x0, x1, the share of x1 - x0 that boxes cover, and the height, for each
    row these boxes stand in (in order of their centres, a new row where the next centre is
    more than half a line lower)."""
    if len(boxes) == 0:
        return np.zeros((0, 4))
    centre = (boxes[:, 1] + boxes[:, 3]) / 2.0
    order = np.argsort(centre, kind="stable")
    boxes, centre = boxes[order], centre[order]
    starts = np.flatnonzero(np.concatenate([[True], np.diff(centre) > 0.5 * line_height]))
    x0 = np.minimum.reduceat(boxes[:, 0], starts)
    x1 = np.maximum.reduceat(boxes[:, 2], starts)
    covered = np.add.reduceat(boxes[:, 2] - boxes[:, 0], starts)
    height = np.maximum.reduceat(boxes[:, 3], starts) - np.minimum.reduceat(boxes[:, 1], starts)
    fill = np.minimum(1.0, covered / np.maximum(x1 - x0, 1e-9))
    return np.stack([x0, x1, fill, height], axis=1)


def _on_separator(boxes: np.ndarray, gx0: float, gx1: float, separators: Sequence[BBox]) -> bool:
    """Whether the gap [gx0, gx1] of these lines lies on a known column separator."""
    y0, y1 = boxes[:, 1].min(), boxes[:, 3].max()
    return any(s.x0 < gx1 + 1 and s.x1 > gx0 - 1 and s.y0 < y1 and s.y1 > y0 for s in separators)


def _split_columns(
    arr: np.ndarray, idx: list[int], gutters: list[tuple[float, float]]
) -> list[list[int]]:
    """Lines of a section per column, columns left to right, by their centre's x."""
    cuts = [(g0 + g1) / 2.0 for g0, g1 in gutters]
    columns: list[list[int]] = [[] for _ in range(len(cuts) + 1)]
    for i in idx:
        cx = (arr[i, 0] + arr[i, 2]) / 2.0
        columns[int(np.searchsorted(cuts, cx))].append(i)
    return columns


def _rows_order(arr: np.ndarray, idx: list[int], params: OrderParams) -> list[int]:
    """Top to bottom by rows; boxes of one row (overlapping vertically) left to right. A box
    twice as tall as the typical one (a scrawl in the margin, a drop cap) is a row of its
    own: the lines beside it are rows of their own too, not one row read across."""
    order = sorted(idx, key=lambda i: (*_top_first(arr[i]), i))
    heights = arr[idx, 3] - arr[idx, 1]
    tall = 2.0 * _median(heights) if len(idx) else 0.0
    rows: list[list[int]] = []
    band = (0.0, 0.0)
    for i in order:
        y0, y1 = arr[i, 1], arr[i, 3]
        if rows and max(y1 - y0, band[1] - band[0]) <= tall:
            overlap = min(y1, band[1]) - max(y0, band[0])
            shorter = min(y1 - y0, band[1] - band[0])
            if overlap > 0 and overlap >= params.row_overlap * shorter:
                rows[-1].append(i)
                continue
        rows.append([i])
        band = (y0, y1)
    return [i for row in rows for i in sorted(row, key=lambda j: (*_left_first(arr[j]), j))]
