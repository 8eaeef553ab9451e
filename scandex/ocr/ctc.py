"""Greedy CTC decoding with the metadata users asked OCRopus for: per-character confidence,
position and close alternatives.

Input is a (steps, classes) matrix of posteriors (rows sum to 1, class 0 = blank). A character
is a run of steps whose best class is the same non-blank label; runs separated by blanks or
by another label are separate characters.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scandex.ocr.codec import Codec
from scandex.ocr.normalize import quantile

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


def _runs(best: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, ends, labels) of every run of equal labels, blank runs included."""
    change = np.flatnonzero(best[1:] != best[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(best)]])
    return starts, ends, best[starts]


# Marks of one shape that the network may split between two classes: an apostrophe whose
# first steps read curly and the next straight came out as two ("won’'t", and "autarchy”""
# for one closing quote). Two of them with no blank between are never two marks: a typed
# '' or ’’ has a blank between its marks like any repeated character.
LOOK_ALIKE_MARKS = ("'’‘", '"“”')


@functools.lru_cache(maxsize=8)
def _look_alike_groups(alphabet: str) -> np.ndarray:
    """Per class of a codec's alphabet: the index of its group in LOOK_ALIKE_MARKS, or -1."""
    groups = np.full(len(alphabet) + 1, -1, np.int64)
    for g, marks in enumerate(LOOK_ALIKE_MARKS):
        for mark in marks:
            if mark in alphabet:
                groups[alphabet.index(mark) + 1] = g
    return groups


def merge_look_alikes(best: np.ndarray, probs: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """`best` (each step's best class) with the look-alike marks taken as one: a step whose
    marks of one group together outweigh its best class reads the likeliest of them (an
    apostrophe at 0.34 straight and 0.18 curly beside a blank at 0.45 is an apostrophe:
    "I’ve" was read "Ive"), and every unbroken stretch of marks of one group is given one
    class, the one with most posterior over the stretch."""
    best = best.copy()
    steps = np.arange(len(best))
    for g in range(int(groups.max()) + 1):
        members = np.flatnonzero(groups == g)
        mass = probs[:, members]
        outweighs = (mass.sum(axis=1) > probs[steps, best]) & (groups[best] != g)
        best[outweighs] = members[np.argmax(mass[outweighs], axis=1)]
    group = groups[best]
    split = np.flatnonzero((best[1:] != best[:-1]) & (group[1:] == group[:-1]) & (group[1:] >= 0))
    for step in (split + 1).tolist():
        start = step - 1
        while start > 0 and group[start - 1] == group[step]:
            start -= 1
        end = step + 1
        while end < len(best) and group[end] == group[step]:
            end += 1
        classes = np.unique(best[start:end])
        best[start:end] = classes[np.argmax(probs[start:end][:, classes].sum(axis=0))]
    return best


# Between two letters, an apostrophe is read where the apostrophes' posterior reaches this
# much, blank or not (see apostrophes_between_letters).
APOSTROPHE_IN_WORD_PROB = 0.35


@functools.lru_cache(maxsize=8)
def _letter_classes(alphabet: str) -> tuple[np.ndarray, np.ndarray]:
    """Per class of a codec's alphabet whether it is a letter, and the apostrophes' classes."""
    letters = np.array([False] + [ch.isalpha() for ch in alphabet])
    return letters, np.flatnonzero(_look_alike_groups(alphabet) == 0)  # "'’‘"


def apostrophes_between_letters(
    best: np.ndarray, probs: np.ndarray, letters: np.ndarray, apostrophes: np.ndarray
) -> np.ndarray:
    """`best` with an apostrophe read in a blank stretch between two letters where the
    apostrophes' posterior reaches APOSTROPHE_IN_WORD_PROB at one of its steps (the likeliest
    step of the stretch, the likeliest apostrophe there).

    A typeset apostrophe sits tight between its letters, its frames shared with theirs; the
    network gave "I've" 0.42 apostrophe against 0.58 blank and the word was read "Ive".
    Inside a word nothing else looks like an apostrophe; a word without one shows none."""
    if len(apostrophes) == 0:
        return best
    steps = np.arange(len(best))
    mass = probs[:, apostrophes].sum(axis=1)
    candidate = (best == 0) & (mass >= APOSTROPHE_IN_WORD_PROB)
    if not candidate.any():
        return best
    # The nearest character read before and after each step.
    before = np.maximum.accumulate(np.where(best != 0, steps, -1))
    after = np.minimum.accumulate(np.where(best != 0, steps, len(best))[::-1])[::-1]
    best = best.copy()
    for step in np.flatnonzero(candidate).tolist():
        left, right = before[step], after[step]
        if left < 0 or right >= len(best) or not (letters[best[left]] and letters[best[right]]):
            continue
        stretch = slice(left + 1, right)
        if step != left + 1 + int(np.argmax(mass[stretch])):
            continue  # one apostrophe a stretch, at its likeliest step
        best[step] = apostrophes[int(np.argmax(probs[step, apostrophes]))]
    return best


def greedy_decode(probs: np.ndarray, codec: Codec) -> list[DecodedChar]:
    """Decode one line's posteriors (steps x classes) into characters."""
    if probs.ndim != 2 or probs.shape[0] == 0:
        return []
    steps = probs.shape[0]
    best = merge_look_alikes(np.argmax(probs, axis=1), probs, _look_alike_groups(codec.alphabet))
    best = apostrophes_between_letters(best, probs, *_letter_classes(codec.alphabet))
    starts, ends, labels = _runs(best)
    # Each run's peak (its first step of highest posterior), found for all runs at once: a
    # run's label is every one of its steps' best class.
    best_prob = probs[np.arange(steps), best]
    run_max = np.maximum.reduceat(best_prob, starts)
    at_max = best_prob == np.repeat(run_max, ends - starts)
    peaks = np.minimum.reduceat(np.where(at_max, np.arange(steps), steps), starts)
    chars_only = labels != 0
    if not chars_only.any():
        return []
    starts, ends, labels = starts[chars_only], ends[chars_only], labels[chars_only]
    peaks, run_max = peaks[chars_only], run_max[chars_only]
    # Each character's other readings: its likeliest classes but the blank and its own, at
    # ALTERNATIVE_MIN_PROB or more. Most characters have none, so only the others' classes
    # are ranked (ranking and listing them for every character cost a third of the decoding).
    others = probs[peaks]
    others[:, 0] = 0.0
    others[np.arange(len(labels)), labels] = 0.0
    with_alternatives = np.flatnonzero((others >= ALTERNATIVE_MIN_PROB).any(axis=1))
    ranked = np.argsort(others[with_alternatives], axis=1)[:, ::-1][:, :MAX_ALTERNATIVES]
    alternatives_of = {
        i: tuple(
            (codec.char(k), float(others[i, k]))
            for k in row
            if others[i, k] >= ALTERNATIVE_MIN_PROB
        )
        for i, row in zip(with_alternatives.tolist(), ranked.tolist(), strict=True)
    }
    # Typical distance between character centres, for the outer edges of the first and last
    # (the median by partial sorting: np.median cost a tenth of the decoding).
    centres = (starts + ends) / 2.0
    spacing = quantile(np.diff(centres), 0.5) if len(centres) > 1 else 2.0
    runs = list(zip(labels.tolist(), starts.tolist(), ends.tolist(), strict=True))
    chars = []
    for i, (label, start, end) in enumerate(runs):
        alternatives = alternatives_of.get(i, ())
        x0 = (runs[i - 1][2] + start) / 2.0 if i > 0 else max(0.0, start - spacing / 2.0)
        x1 = (end + runs[i + 1][1]) / 2.0 if i + 1 < len(runs) else end + spacing / 2.0
        chars.append(
            DecodedChar(
                codec.char(label), float(run_max[i]), start, end, x0, min(x1, steps), alternatives
            )
        )
    return chars


def indexed_text(chars: Sequence[DecodedChar]) -> str:
    """The characters' text with one character per decoded character (a symbol of several
    code points, never a mark or a digit, stands as one NUL), so the text's indices are the
    characters': rules that search the text with regular expressions change the characters
    found."""
    return "".join(c.text if len(c.text) == 1 else "\0" for c in chars)


def decode_text(probs: np.ndarray, codec: Codec) -> str:
    return "".join(c.text for c in greedy_decode(probs, codec))


# -- scoring given readings ------------------------------------------------------------------
# Log posteriors below this count as impossible; keeps -inf arithmetic out of the loops.
_LOG_FLOOR = -1e4


def _extended(labels: Sequence[int]) -> np.ndarray:
    """The CTC label sequence with blanks around and between the labels: b l1 b l2 ... b."""
    out = np.zeros(2 * len(labels) + 1, np.int64)
    out[1::2] = labels
    return out


def _skip_allowed(extended: np.ndarray) -> np.ndarray:
    """Where a path may jump two states: onto a label that differs from the previous label."""
    allowed = np.zeros(extended.shape[0], bool)
    allowed[2:] = (extended[2:] != 0) & (extended[2:] != extended[:-2])
    return allowed


def ctc_log_likelihood(log_probs: np.ndarray, labels: Sequence[int]) -> float:
    """log P(labels | posteriors) summed over every CTC alignment (the forward algorithm).

    `log_probs` is (steps, classes) of log posteriors; -inf when no alignment fits. Runs in
    the probability domain, rescaled every step (cheaper than log-sum-exp, as exact).
    """
    steps = log_probs.shape[0]
    ext = _extended(labels)
    if steps == 0 or len(labels) > steps:
        return float("-inf")
    emissions = np.exp(log_probs[:, ext])  # (steps, states)
    skip = _skip_allowed(ext).astype(np.float64)
    alpha = np.zeros(ext.shape[0] + 2)  # two leading zeros stand for "no state" at s-1, s-2
    alpha[2] = emissions[0, 0]
    if ext.shape[0] > 1:
        alpha[3] = emissions[0, 1]
    log_scale = 0.0
    for t in range(1, steps):
        current = alpha[2:] + alpha[1:-1] + skip * alpha[:-2]
        alpha[2:] = current * emissions[t]
        total = alpha.sum()
        if total <= 0.0:
            return float("-inf")
        alpha /= total
        log_scale += np.log(total)
    final = alpha[-1] + (alpha[-2] if ext.shape[0] > 1 else 0.0)
    return float(np.log(final) + log_scale) if final > 0.0 else float("-inf")


def ctc_align(log_probs: np.ndarray, labels: Sequence[int]) -> list[tuple[int, int]] | None:
    """The most likely alignment (Viterbi): each label's (start, end) steps; None if none fits."""
    steps = log_probs.shape[0]
    ext = _extended(labels)
    states = ext.shape[0]
    if steps == 0 or not labels or len(labels) > steps:
        return None
    emissions = np.maximum(log_probs[:, ext], _LOG_FLOOR)
    skip = _skip_allowed(ext)
    score = np.full(states, -np.inf)
    score[0] = emissions[0, 0]
    score[1] = emissions[0, 1]
    back = np.zeros((steps, states), np.int8)  # 0 stay, 1 from s-1, 2 from s-2
    for t in range(1, steps):
        options = np.stack(
            [
                score,
                np.concatenate([[-np.inf], score[:-1]]),
                np.where(skip, np.concatenate([[-np.inf, -np.inf], score[:-2]]), -np.inf),
            ]
        )
        back[t] = np.argmax(options, axis=0)
        score = options[back[t], np.arange(states)] + emissions[t]
    state = states - 1 if score[-1] >= score[-2] else states - 2
    if not np.isfinite(score[state]):
        return None
    path = np.zeros(steps, np.int64)
    for t in range(steps - 1, -1, -1):
        path[t] = state
        state -= int(back[t, state])
    spans: list[tuple[int, int]] = []
    for k in range(len(labels)):
        at = np.flatnonzero(path == 2 * k + 1)
        spans.append((int(at[0]), int(at[-1]) + 1))
    return spans
