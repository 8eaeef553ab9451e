"""Word-level voting among several readings of one line (ROVER, Fiscus 1997).

The recognizer reads a doubtful line again with its image moved by a column or two: the
network pools four columns into one output step, so a moved image is cut into steps
elsewhere and its errors fall elsewhere (on the held-out degraded lines each moved reading
alone reads about as well as the first, the best of them per line would have a third of
its errors fewer, and the word-by-word vote takes 7-20% off). Pure functions on the words'
texts; the recognizer assembles the chosen words.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from difflib import SequenceMatcher


def vote_words(
    readings: Sequence[Sequence[str]],
    confidences: Sequence[Sequence[float]],
    listed: Sequence[Sequence[bool]] | None = None,
) -> list[tuple[int, int]]:
    """The words of the voted line, each as (reading index, word index).

    The backbone is the reading that shares the most words with the others. Every other
    reading is aligned with it word by word; where a word of the backbone is matched one
    to one, each reading votes for its own word, and the text with the most votes wins (a
    tie keeps the backbone's); of the readings with the winning text, the one surest of it
    (the mean of its characters' `confidences`) supplies the word. A word that some
    readings' word lists know (`listed`) wins over readings no list knows, however many:
    a moved reading whose line held a second misread word skipped the lists' accent check
    ("ausriistung" read twice against "ausrüstung"). Words that a majority of the readings
    hold between two backbone words are put in; where the readings split or merge words
    differently, the backbone's words stand.
    """
    closeness = [0.0] * len(readings)
    for a in range(len(readings)):
        for b in range(a + 1, len(readings)):
            ratio = SequenceMatcher(None, readings[a], readings[b], autojunk=False).ratio()
            closeness[a] += ratio
            closeness[b] += ratio
    backbone = max(range(len(readings)), key=lambda r: closeness[r])
    base = readings[backbone]
    slots: list[list[tuple[int, int]]] = [[(backbone, k)] for k in range(len(base))]
    inserted: list[Counter[tuple[str, ...]]] = [Counter() for _ in range(len(base) + 1)]
    where_inserted: dict[tuple[int, tuple[str, ...]], tuple[int, int, int]] = {}
    for r, words in enumerate(readings):
        if r == backbone:
            continue
        matcher = SequenceMatcher(None, list(base), list(words), autojunk=False)
        for op, a0, a1, b0, b1 in matcher.get_opcodes():
            if op == "equal" or (op == "replace" and a1 - a0 == b1 - b0):
                for k in range(a1 - a0):
                    slots[a0 + k].append((r, b0 + k))
            elif op == "insert":
                run = tuple(words[b0:b1])
                inserted[a0][run] += 1
                where_inserted.setdefault((a0, run), (r, b0, b1))
    out: list[tuple[int, int]] = []
    for k in range(len(base) + 1):
        if inserted[k]:
            run, votes = inserted[k].most_common(1)[0]
            if votes > len(readings) / 2:
                r, b0, b1 = where_inserted[(k, run)]
                out.extend((r, i) for i in range(b0, b1))
        if k < len(base):
            candidates = slots[k]
            if listed is not None and any(listed[r][i] for r, i in candidates):
                candidates = [(r, i) for r, i in candidates if listed[r][i]]
            out.append(_slot_winner(candidates, readings, confidences))
    return out


def _slot_winner(
    candidates: list[tuple[int, int]],
    readings: Sequence[Sequence[str]],
    confidences: Sequence[Sequence[float]],
) -> tuple[int, int]:
    """The candidate (the backbone's first) whose text most readings hold, surest first."""
    votes = Counter(readings[r][i] for r, i in candidates)
    backbone_text = readings[candidates[0][0]][candidates[0][1]]
    top = max(votes.values())
    winner = backbone_text if votes[backbone_text] == top else votes.most_common(1)[0][0]
    return max(
        (c for c in candidates if readings[c[0]][c[1]] == winner),
        key=lambda c: confidences[c[0]][c[1]],
    )
