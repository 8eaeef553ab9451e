"""Shared pieces of the accuracy and speed benchmarks: text comparison, metrics, tables.

Comparison rules (the same for every engine, applied to reference and hypothesis alike):
Unicode NFC, scandex's one spelling (ligatures expanded, odd spaces and hyphens made plain),
typographic quotes folded to ASCII (“ ” „ `` '' -> " and ‘ ’ ‚ ` -> '; UW-III ground truth
writes curly quotes as `` and ''), runs of whitespace collapsed to one space.

UNLV ground truth marks a character it could not represent with `~` (sometimes several in a
row for one character). A run of `~` in a reference is one wildcard: it matches any single
hypothesis character at no cost and counts as one reference character. Words containing it
are left out of the bag-of-words measure.

Pages are scored with an order-free bag of words; lines, which have one reading order, with
an ordered word edit distance (`word_errors`, on `align_words`), and word confidences against
that alignment with `expected_calibration_error`.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WILDCARD = "\x00"  # what a run of `~` in UNLV ground truth becomes
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "‚": "'", "`": "'"})
_PUNCT_EDGES = "\"'.,;:!?()[]{}<>«»-–—…*/\\|"


# Texts of synthetic lines: the first 2000 lines of scandex.training.text.TextSource(20261125)
# as it was before commit 3330788, frozen so that tuning the training text (it changed there)
# no longer changes what the benchmarks read; the figures of earlier runs stay comparable.
FROZEN_TEXTS = os.path.join(REPO, "benchmarks", "synthetic_texts.txt")


def frozen_texts() -> list[str]:
    """The benchmarks' synthetic line texts (FROZEN_TEXTS), in order."""
    with open(FROZEN_TEXTS, encoding="utf-8") as texts:
        return texts.read().splitlines()


def single_thread_environment() -> None:
    """Ask every native library we load (and every child process) for one thread, and keep
    freed memory as scandex's OCR workers do (scandex.memory).

    Call before importing numpy, OpenCV or onnxruntime."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_THREAD_LIMIT"):
        os.environ[name] = "1"
    sys.path.insert(0, REPO)
    from scandex.memory import keep_freed_memory

    keep_freed_memory()


def comparable(text: str, *, unlv_tildes: bool = False) -> str:
    """One spelling for comparing OCR output with ground truth (see the module docstring)."""
    from scandex.ocr.codec import normalize_text

    text = unicodedata.normalize("NFC", text)
    text = text.replace("``", '"').replace("''", '"').translate(_QUOTES)
    text = normalize_text(text)  # NFC, ligatures, plain spaces, collapsed whitespace
    if unlv_tildes:
        text = re.sub("~+", WILDCARD, text)
    return text


def edit_distance(reference: str, hypothesis: str) -> int:
    """Levenshtein distance; WILDCARD in the reference matches any one hypothesis character.

    Bit-parallel (Myers 1999, in Hyyrö's formulation) on Python integers, so whole pages
    (thousands of characters each way) take milliseconds instead of a quadratic loop."""
    m = len(reference)
    if m == 0:
        return len(hypothesis)
    wild = 0
    match: dict[str, int] = {}
    for i, ch in enumerate(reference):
        if ch == WILDCARD:
            wild |= 1 << i
        else:
            match[ch] = match.get(ch, 0) | (1 << i)
    mask = (1 << m) - 1
    last = 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for ch in hypothesis:
        eq = match.get(ch, 0) | wild
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | ~(xh | pv)
        mh = pv & xh
        if ph & last:
            score += 1
        elif mh & last:
            score -= 1
        ph = (ph << 1) | 1
        mh <<= 1
        pv = (mh | ~(xv | ph)) & mask
        mv = ph & xv & mask
    return score


@dataclass(frozen=True)
class Score:
    """Character and bag-of-words counts, summed over items; rates derive from them."""

    char_errors: int = 0
    ref_chars: int = 0
    words_missed: int = 0
    ref_words: int = 0

    def __add__(self, other: Score) -> Score:
        return Score(
            self.char_errors + other.char_errors,
            self.ref_chars + other.ref_chars,
            self.words_missed + other.words_missed,
            self.ref_words + other.ref_words,
        )

    @property
    def cer(self) -> float:
        return self.char_errors / max(1, self.ref_chars)

    @property
    def wer(self) -> float:
        return self.words_missed / max(1, self.ref_words)


def bag_of_words(text: str) -> Counter[str]:
    """Words for the order-free measure: whitespace-separated tokens with punctuation trimmed
    from both ends, case kept; tokens that are only punctuation or hold a wildcard drop out."""
    words = (token.strip(_PUNCT_EDGES) for token in text.split())
    return Counter(w for w in words if w and WILDCARD not in w)


def score(reference: str, hypothesis: str) -> Score:
    """Compare two texts already put through `comparable`.

    Order-free word error rate = 1 - matched / reference words, where matched is the size of
    the multiset intersection of the two bags of words (a reference word counts as found at
    most as often as the hypothesis has it). Extra hypothesis words cost nothing here; CER,
    which is order-dependent, charges them."""
    ref_bag, hyp_bag = bag_of_words(reference), bag_of_words(hypothesis)
    matched = sum((ref_bag & hyp_bag).values())
    ref_words = sum(ref_bag.values())
    return Score(
        edit_distance(reference, hypothesis), len(reference), ref_words - matched, ref_words
    )


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain-text table, numbers right-aligned; floats must be pre-formatted by the caller."""
    cells = [[str(c) for c in header]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        parts = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  " + "  ".join(parts).rstrip())
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def pct(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.2f}%"


def reproduce_command() -> str:
    return " ".join(shlex.quote(a) for a in [os.path.relpath(sys.executable, REPO), *sys.argv])


# -- words -----------------------------------------------------------------------------------


def align_words(
    reference: Sequence[str], hypothesis: Sequence[str]
) -> list[tuple[int | None, int | None]]:
    """A minimum-edit alignment of two word sequences: (reference index, hypothesis index)
    pairs, None on the side a word is missing from (insertion or deletion).

    A plain dynamic programme: lines have tens of words, so quadratic is microseconds, and
    the project has no edit-distance library to lean on. Among equally cheap alignments the
    trace prefers pairing identical words, so a word is never counted wrong by a tie."""
    rows, cols = len(reference), len(hypothesis)
    cost = [[0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(rows + 1):
        cost[i][0] = i
    for j in range(cols + 1):
        cost[0][j] = j
    for i in range(1, rows + 1):
        for j in range(1, cols + 1):
            pair = cost[i - 1][j - 1] + (reference[i - 1] != hypothesis[j - 1])
            cost[i][j] = min(pair, cost[i - 1][j] + 1, cost[i][j - 1] + 1)
    pairs: list[tuple[int | None, int | None]] = []
    i, j = rows, cols
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + (reference[i - 1] != hypothesis[j - 1]):
            i, j = i - 1, j - 1
            pairs.append((i, j))
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            i -= 1
            pairs.append((i, None))
        else:
            j -= 1
            pairs.append((None, j))
    return pairs[::-1]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word edit distance, reference words) of two texts already put through `comparable`.

    Words are the whitespace-separated tokens, punctuation and case kept: "word," against
    "word" is one substitution. This is the ordered word error rate of a line recognizer,
    not the order-free bag of words that `score` uses for pages."""
    ref_words, hyp_words = reference.split(), hypothesis.split()
    pairs = align_words(ref_words, hyp_words)
    errors = sum(r is None or h is None or ref_words[r] != hyp_words[h] for r, h in pairs)
    return errors, len(ref_words)


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float:
    """Σ over equal-width confidence bins of (share of items) × |accuracy − mean confidence|.

    0 means a confidence of 0.8 is right 80% of the time; items at exactly 1.0 fall in the
    top bin."""
    if not confidences:
        return float("nan")
    gap = [0.0] * bins  # Σ (correct − confidence) per bin
    for confidence, right in zip(confidences, correct, strict=True):
        k = min(bins - 1, max(0, int(confidence * bins)))
        gap[k] += float(right) - confidence
    return sum(abs(g) for g in gap) / len(confidences)


# -- processes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessStat:
    parent: int
    cpu_seconds: float  # user + system so far
    rss_bytes: int


def process_table() -> dict[int, ProcessStat]:
    """Every process's parent, CPU time and resident memory, from /proc (Linux)."""
    ticks, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                # After the command name in parentheses (which may hold spaces): state, ppid, ...
                fields = f.read().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / ticks
            table[int(entry)] = ProcessStat(int(fields[1]), cpu, int(fields[21]) * page)
        except (OSError, IndexError, ValueError):
            continue  # gone while we looked
    return table


def process_tree(table: dict[int, ProcessStat], roots: Sequence[int]) -> list[ProcessStat]:
    """The processes `roots` and all their descendants that are in `table`."""
    children: dict[int, list[int]] = {}
    for pid, stat in table.items():
        children.setdefault(stat.parent, []).append(pid)
    found, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        if pid in table:
            found.append(table[pid])
        todo.extend(children.get(pid, []))
    return found
