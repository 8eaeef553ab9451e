"""Rows of one repeated mark counted from their ink: a receipt's or a typed page's rule of
hyphens, a row of "=", a dot leader.

CTC reads such a row well but counts it badly: every mark looks like every other, and the
network drops one here and there (the shipped model read 25 to 29 of a receipt's 30 hyphens,
each with five and a half steps of its own, so there was room for all). The marks themselves
say how many there are: each is a separate stroke in its own columns, at a regular pitch. Where
a decoded run of one mark covers more such strokes than it has characters, the run is replaced
by one mark per stroke. Anything less regular (marks that touch, as typed underscores do,
broken or speckled strokes) is left as the network read it.

Dashes and "=" are bars, told apart by their ink where a network mixes them up: a model read
a receipt's heavy hyphens as "--================--=---------", a typist's "--" as "–-" and a
printed en dash as "–-". Where a decoded run mixes bar marks, the strokes under it say what
it is: each stroke two bars, a row of "="; one bar each, that many hyphens; a single stroke,
one dash, the longest the network read there. Hyphens and underscores are both one bar and
differ only in where it sits, which a row that is all marks does not show (it is normalized
around its own bars): a row of bars all at one height that the network read as both is the
one it read more often.

A dash standing alone between spaces is read by its length beside the same line's in-word
hyphens (`spaced_dashes_by_length`): an en dash in print, a hyphen on a typewriter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from scandex.ocr.ctc import DecodedChar, indexed_text
from scandex.ocr.normalize import true_runs

# Marks that are typed or printed in rows. Letters and digits repeat too, but never in rows
# long enough to be miscounted, and a row of them is better left to the network.
ROW_MARKS = frozenset("-=._*~")
# Marks made of bars, shortest dash first; their ink differs in bar count, length and height.
_DASHES = "-–—"
_BAR_MARKS = frozenset(_DASHES + "=_")
_BARS_CLASS = "[" + re.escape("".join(sorted(_BAR_MARKS))) + "]"
_OTHER_CLASS = "[" + re.escape("".join(sorted(ROW_MARKS - _BAR_MARKS))) + "]"
_RUN_PATTERNS: dict[int, re.Pattern[str]] = {}


@dataclass(frozen=True)
class MarkRowParams:
    min_run: int = 3  # decoded marks in a row before the row is recounted
    ink_threshold: float = 0.5  # normalized ink (paper 0, ink 1) that counts as a stroke
    min_stroke_px: int = 2  # column runs narrower than this are specks, not marks
    width_spread: float = 2.0  # widest stroke / narrowest stroke of a regular row, at most
    pitch_spread: float = 0.35  # each gap between stroke centres within this share of the median
    max_growth: float = 2.0  # a recount never more than doubles the row
    max_bar_height: float = 0.2  # a bar's rows, as a share of the line image's height
    min_bar_width: float = 0.5  # a bar spans this share of its stroke's columns; less, a speck
    # A spaced dash this many times as long as the line's in-word hyphens is an en dash; at
    # most `same_dash` times, a hyphen. Print: an en dash's ink is 1.6-1.9 hyphens; a
    # typewriter has one hyphen key for both.
    en_dash: float = 1.4
    same_dash: float = 1.2
    em_dash: float = 2.5  # from here on a dash may be an em dash: left as read


def ink_strokes(image: np.ndarray, params: MarkRowParams = MarkRowParams()) -> np.ndarray:
    """(n, 2) start and end columns (end exclusive) of the runs of columns that hold ink, in a
    normalized line image (ink 1, paper 0). The two bars of an "=" share their columns, so
    they are one stroke."""
    inked = np.asarray((image >= params.ink_threshold).any(axis=0))
    runs = np.array(true_runs(inked), np.int64)
    runs = runs.reshape(-1, 2)
    return runs[runs[:, 1] - runs[:, 0] >= params.min_stroke_px]


def _is_regular(strokes: np.ndarray, params: MarkRowParams) -> bool:
    """Strokes of about one width at about one pitch: a row of one mark, not letters."""
    widths = strokes[:, 1] - strokes[:, 0]
    if widths.max() > params.width_spread * widths.min():
        return False
    gaps = np.diff(strokes.mean(axis=1))
    if not len(gaps):
        return True
    pitch = float(np.median(gaps))
    return bool(np.all(np.abs(gaps - pitch) <= params.pitch_spread * pitch))


def _bars(image: np.ndarray, stroke: np.ndarray, params: MarkRowParams) -> list[tuple[int, int]]:
    """The rows (start, end) of each thin bar, one above another, that the stroke's columns
    hold ("-" one, "=" two); none where any of its ink is taller than a bar (a letter). Ink
    that spans less than a bar's width is a speck (a scanned receipt's dirt under one of its
    hyphens was read "_") and is passed over."""
    ink = image[:, stroke[0] : stroke[1]] >= params.ink_threshold
    min_width = params.min_bar_width * (stroke[1] - stroke[0])
    bars = [
        (start, end)
        for start, end in true_runs(np.asarray(ink.any(axis=1)))
        if ink[start:end].any(axis=0).sum() >= min_width
    ]
    tallest = max((end - start for start, end in bars), default=0)
    return bars if tallest <= params.max_bar_height * image.shape[0] else []


def _mark_runs(chars: list[DecodedChar], min_run: int) -> list[tuple[int, int]]:
    """(first, last + 1) of every run of at least `min_run` equal row marks, or of two bar
    marks or more in any mix."""
    # A regular expression finds the runs far faster than a loop over every character of
    # every line.
    text = indexed_text(chars)
    pattern = _RUN_PATTERNS.setdefault(
        min_run,
        re.compile(rf"{_BARS_CLASS}{{2,}}|({_OTHER_CLASS})\1{{{min_run - 1},}}"),
    )
    return [match.span() for match in pattern.finditer(text)]


def _row_mark(
    run: list[DecodedChar], strokes: np.ndarray, image: np.ndarray, params: MarkRowParams
) -> str | None:
    """The mark to read once per stroke of a decoded run of marks, or None to keep the
    network's reading. A run of one mark is recounted only where the network dropped marks;
    a mix of bar marks is read again as the strokes' bars show."""
    read = {c.text for c in run}
    if len(read) == 1:
        if len(run) < params.min_run or not len(run) < len(strokes) <= params.max_growth * len(run):
            return None
        return run[0].text if _is_regular(strokes, params) else None
    if not 0 < len(strokes) <= params.max_growth * len(run) or not _is_regular(strokes, params):
        return None
    bars = [_bars(image, stroke, params) for stroke in strokes]
    counts = {len(stroke_bars) for stroke_bars in bars}
    if counts == {2}:
        return "="
    if counts != {1}:
        return None
    if "_" in read:
        middles = [start + end for ((start, end),) in bars]  # twice the middle row, in integers
        if len(strokes) < max(2, len(run)) or max(middles) - min(middles) > 4:
            return None
        hyphens = sum(c.text in _DASHES for c in run)
        return "-" if hyphens >= sum(c.text == "_" for c in run) else "_"
    if len(strokes) == 1:
        return max(read, key=lambda mark: _DASHES.find(mark))
    return "-" if len(strokes) >= len(run) else None


def _recounted(
    run: list[DecodedChar], mark: str, strokes: np.ndarray, px_per_step: float
) -> list[DecodedChar]:
    """One `mark` per stroke, each placed on its stroke, with the run's weakest confidence."""
    centres = strokes.mean(axis=1) / px_per_step
    bounds = np.concatenate([[run[0].x0_step], (centres[1:] + centres[:-1]) / 2, [run[-1].x1_step]])
    confidence = min(c.confidence for c in run)
    return [
        replace(
            run[0],
            text=mark,
            confidence=confidence,
            start_step=int(centre),
            end_step=int(centre) + 1,
            x0_step=float(bounds[k]),
            x1_step=float(bounds[k + 1]),
            alternatives=(),
        )
        for k, centre in enumerate(centres)
    ]


def _strokes_within(
    strokes: np.ndarray, x0_step: float, x1_step: float, px_per_step: float
) -> np.ndarray:
    """The strokes whose centres lie under the decoded steps x0_step..x1_step."""
    centres = strokes.mean(axis=1)
    return strokes[(centres >= x0_step * px_per_step) & (centres < x1_step * px_per_step)]


def recount_mark_rows(
    chars: list[DecodedChar],
    image: np.ndarray,
    px_per_step: float,
    params: MarkRowParams = MarkRowParams(),
) -> list[DecodedChar]:
    """`chars` (a greedy reading of the normalized line `image`) with each run of one repeated
    mark given as many marks as its stretch of the image has regular strokes, and each run
    that mixes bar marks read as its strokes' bars show."""
    runs = _mark_runs(chars, params.min_run)
    if not runs:
        return chars
    strokes = ink_strokes(image, params)
    out: list[DecodedChar] = []
    done = 0
    for first, last in runs:
        run = chars[first:last]
        inside = _strokes_within(strokes, run[0].x0_step, run[-1].x1_step, px_per_step)
        mark = _row_mark(run, inside, image, params)
        if mark is None:
            continue
        out.extend(chars[done:first])
        out.extend(_recounted(run, mark, inside, px_per_step))
        done = last
    out.extend(chars[done:])
    return out


def _single_bar_width(
    char: DecodedChar,
    strokes: np.ndarray,
    image: np.ndarray,
    px_per_step: float,
    params: MarkRowParams,
) -> int | None:
    """The width of the one bar under a decoded mark, or None where its stretch of the image
    holds anything else (no stroke, several, or a stroke taller than a bar)."""
    inside = _strokes_within(strokes, char.x0_step, char.x1_step, px_per_step)
    if len(inside) != 1 or len(_bars(image, inside[0], params)) != 1:
        return None
    return int(inside[0][1] - inside[0][0])


def spaced_dashes_by_length(
    chars: list[DecodedChar],
    image: np.ndarray,
    px_per_step: float,
    params: MarkRowParams = MarkRowParams(),
) -> list[DecodedChar]:
    """`chars` with each dash that stands between spaces read as a hyphen or an en dash as its
    length beside the same line's in-word hyphens shows, where the line has such hyphens.

    A printed spaced en dash is only a little longer than a hyphen, and the models that
    learned typed pages (where a typist's spaced hyphen is a hyphen) read it as one (v8
    missed 22 dashes of the synthetic pages, 16 with this). On its own a dash's length says
    nothing (a typewriter's hyphen is as long as a printed en dash), but beside the hyphens
    of the same line, in the same face at the same scale, it does.
    """
    text = [c.text for c in chars]

    def between(i: int, test: Callable[[str], bool]) -> bool:
        return 0 < i < len(chars) - 1 and test(text[i - 1]) and test(text[i + 1])

    hyphens = [i for i, t in enumerate(text) if t == "-" and between(i, str.isalpha)]
    spaced = [i for i, t in enumerate(text) if t in "-–" and between(i, str.isspace)]
    if not hyphens or not spaced:
        return chars
    strokes = ink_strokes(image, params)
    measured = [_single_bar_width(chars[i], strokes, image, px_per_step, params) for i in hyphens]
    widths = [w for w in measured if w is not None]
    if not widths:
        return chars
    hyphen = float(np.median(widths))
    out = list(chars)
    for i in spaced:
        width = _single_bar_width(chars[i], strokes, image, px_per_step, params)
        if width is None:
            continue
        ratio = width / hyphen
        if params.en_dash <= ratio < params.em_dash:
            mark = "–"
        elif ratio <= params.same_dash:
            mark = "-"
        else:
            continue
        if mark != text[i]:
            out[i] = replace(chars[i], text=mark, alternatives=())
    return out
