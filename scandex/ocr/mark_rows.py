"""Rows of one repeated mark counted from their ink: a receipt's or a typed page's rule of
hyphens, a row of "=", a dot leader.

CTC reads such a row well but counts it badly: every mark looks like every other, and the
network drops one here and there (the shipped model read 25 to 29 of a receipt's 30 hyphens,
each with five and a half steps of its own, so there was room for all). The marks themselves
say how many there are: each is a separate stroke in its own columns, at a regular pitch. Where
a decoded run of one mark covers more such strokes than it has characters, the run is replaced
by one mark per stroke. Anything less regular (marks that touch, as typed underscores do,
broken or speckled strokes) is left as the network read it.

A row of hyphens and one of "=" share their columns and differ only in how many bars each
stroke stacks, and a network can mix them up within one row (a model read a receipt's heavy
hyphens as "--================--=---------"). Where a decoded run mixes the two, the strokes'
bars say which mark the whole row is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from scandex.ocr.ctc import DecodedChar
from scandex.ocr.normalize import true_runs

# Marks that are typed or printed in rows. Letters and digits repeat too, but never in rows
# long enough to be miscounted, and a row of them is better left to the network.
ROW_MARKS = frozenset("-=._*~")
# Marks told apart by the bars each stroke stacks, the only difference in their ink.
_MARK_OF_BARS = {1: "-", 2: "="}
_BARRED_CLASS = "[" + re.escape("".join(sorted(_MARK_OF_BARS.values()))) + "]"
_OTHER_CLASS = "[" + re.escape("".join(sorted(ROW_MARKS - set(_MARK_OF_BARS.values())))) + "]"
_RUN_PATTERNS: dict[int, re.Pattern[str]] = {}


@dataclass(frozen=True)
class MarkRowParams:
    min_run: int = 3  # decoded marks in a row before the row is recounted
    ink_threshold: float = 0.5  # normalized ink (paper 0, ink 1) that counts as a stroke
    min_stroke_px: int = 2  # column runs narrower than this are specks, not marks
    width_spread: float = 2.0  # widest stroke / narrowest stroke of a regular row, at most
    pitch_spread: float = 0.35  # each gap between stroke centres within this share of the median
    max_growth: float = 2.0  # a recount never more than doubles the row


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
    pitch = float(np.median(gaps))
    return bool(np.all(np.abs(gaps - pitch) <= params.pitch_spread * pitch))


def _bars(image: np.ndarray, stroke: np.ndarray, params: MarkRowParams) -> int:
    """How many bars, one above another, the stroke's columns hold ("-" 1, "=" 2)."""
    inked_rows = (image[:, stroke[0] : stroke[1]] >= params.ink_threshold).any(axis=1)
    return len(true_runs(np.asarray(inked_rows)))


def _mark_runs(chars: list[DecodedChar], min_run: int) -> list[tuple[int, int]]:
    """(first, last + 1) of every run of at least `min_run` equal row marks, or of hyphens
    and "=" in any mix."""
    # One character of text per decoded character (a symbol of several code points, never a
    # mark, stands as one NUL), so the text's indices are the characters'; a regular
    # expression finds the runs far faster than a loop over every character of every line.
    text = "".join(c.text if len(c.text) == 1 else "\0" for c in chars)
    pattern = _RUN_PATTERNS.setdefault(
        min_run,
        re.compile(rf"{_BARRED_CLASS}{{{min_run},}}|({_OTHER_CLASS})\1{{{min_run - 1},}}"),
    )
    return [match.span() for match in pattern.finditer(text)]


def _row_mark(
    run: list[DecodedChar], strokes: np.ndarray, image: np.ndarray, params: MarkRowParams
) -> str | None:
    """The mark to read once per stroke of a decoded run of marks, or None to keep the
    network's reading. A run of one mark is recounted only where the network dropped marks;
    a mix of hyphens and "=" is one mark throughout, the one every stroke's bars show."""
    mixed = len({c.text for c in run}) > 1
    fewest = len(run) if mixed else len(run) + 1
    if not fewest <= len(strokes) <= params.max_growth * len(run):
        return None
    if not _is_regular(strokes, params):
        return None
    if not mixed:
        return run[0].text
    bars = {_bars(image, stroke, params) for stroke in strokes}
    return _MARK_OF_BARS.get(bars.pop()) if len(bars) == 1 else None


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


def recount_mark_rows(
    chars: list[DecodedChar],
    image: np.ndarray,
    px_per_step: float,
    params: MarkRowParams = MarkRowParams(),
) -> list[DecodedChar]:
    """`chars` (a greedy reading of the normalized line `image`) with each run of one repeated
    mark given as many marks as its stretch of the image has regular strokes, and each run
    that mixes hyphens and "=" read as the one mark its strokes' bars show."""
    runs = _mark_runs(chars, params.min_run)
    if not runs:
        return chars
    strokes = ink_strokes(image, params)
    centres = strokes.mean(axis=1)
    out: list[DecodedChar] = []
    done = 0
    for first, last in runs:
        run = chars[first:last]
        inside = strokes[
            (centres >= run[0].x0_step * px_per_step) & (centres < run[-1].x1_step * px_per_step)
        ]
        mark = _row_mark(run, inside, image, params)
        if mark is None:
            continue
        out.extend(chars[done:first])
        out.extend(_recounted(run, mark, inside, px_per_step))
        done = last
    out.extend(chars[done:])
    return out
