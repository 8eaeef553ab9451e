"""Greedy CTC decoding with the metadata users asked OCRopus for: per-character confidence,
position and close alternatives.

Input is a (steps, classes) matrix of posteriors (rows sum to 1, class 0 = blank). A character
is a run of steps whose best class is the same non-blank label; runs separated by blanks or
by another label are separate characters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scandex.ocr.codec import Codec

# A runner-up is reported when its posterior at the character's peak reaches this much.
ALTERNATIVE_MIN_PROB = 0.05
MAX_ALTERNATIVES = 3


@dataclass(frozen=True)
class DecodedChar:
    text: str
    confidence: float  # the label's peak posterior over its run, 0..1
    start_step: int  # first step of the run
    end_step: int  # one past the last step of the run
    x0_step: float  # the character's extent in steps: halfway to its neighbours' runs
    x1_step: float
    alternatives: tuple[tuple[str, float], ...] = ()


def _runs(best: np.ndarray) -> list[tuple[int, int, int]]:
    """(label, start, end) of each run of equal non-blank labels."""
    runs = []
    steps = best.shape[0]
    start = 0
    while start < steps:
        label = int(best[start])
        end = start + 1
        while end < steps and best[end] == label:
            end += 1
        if label != 0:
            runs.append((label, start, end))
        start = end
    return runs


def greedy_decode(probs: np.ndarray, codec: Codec) -> list[DecodedChar]:
    """Decode one line's posteriors (steps x classes) into characters."""
    if probs.ndim != 2 or probs.shape[0] == 0:
        return []
    best = np.argmax(probs, axis=1)
    runs = _runs(best)
    if not runs:
        return []
    # Typical distance between character centres, for the outer edges of the first and last.
    centres = [(s + e) / 2.0 for _, s, e in runs]
    spacing = float(np.median(np.diff(centres))) if len(centres) > 1 else 2.0
    chars = []
    for i, (label, start, end) in enumerate(runs):
        segment = probs[start:end, label]
        peak = start + int(np.argmax(segment))
        confidence = float(segment.max())
        row = probs[peak]
        order = np.argsort(row)[::-1]
        alternatives = tuple(
            (codec.char(int(k)), float(row[k]))
            for k in order[: MAX_ALTERNATIVES + 2]
            if k not in (0, label) and row[k] >= ALTERNATIVE_MIN_PROB
        )[:MAX_ALTERNATIVES]
        x0 = (runs[i - 1][2] + start) / 2.0 if i > 0 else max(0.0, start - spacing / 2.0)
        x1 = (end + runs[i + 1][1]) / 2.0 if i + 1 < len(runs) else end + spacing / 2.0
        chars.append(
            DecodedChar(
                codec.char(label), confidence, start, end, x0, min(x1, probs.shape[0]), alternatives
            )
        )
    return chars


def decode_text(probs: np.ndarray, codec: Codec) -> str:
    return "".join(c.text for c in greedy_decode(probs, codec))
