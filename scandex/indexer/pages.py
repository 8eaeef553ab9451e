"""What every index backend stores for a page, and how a match maps back onto words.

A page is stored as its lines in reading order, each `[text, [x0, y0, x1, y1], words]`, a
word being `[text, x0, y0, x1, y1]` plus, when it has other readings, a list of them. The
text an index searches is the token stream of those lines (`line_tokens`), so a match found
by any backend maps onto words and boxes the same way (`hit_lines`): Whoosh and PostgreSQL
answer with the same lines and boxes.
"""

from __future__ import annotations

from collections.abc import Container, Iterator, Sequence
from typing import Any

from scandex.indexer import HitLine, HitWord
from scandex.indexer.query import index_tokens, match_positions, word_tokens
from scandex.page import BBox, Page, Word

# [text, [x0, y0, x1, y1], [[word, x0, y0, x1, y1, (alternatives)], ...]] per line
StoredLines = list[Any]


def stored_lines(page: Page) -> StoredLines:
    """The page's lines as stored (plain lists, ready for JSON)."""
    return [
        [
            line.text or " ".join(word.text for word in line.words),
            line.bbox.as_list(),
            [_stored_word(word) for word in line.words],
        ]
        for line in page.lines
    ]


def _stored_word(word: Word) -> list[Any]:
    stored: list[Any] = [word.text, *word.bbox.as_list()]
    if word.alternatives:
        stored.append(list(word.alternatives))
    return stored


def line_tokens(lines: Sequence[Any]) -> Iterator[tuple[str, int, int]]:
    """(token, line index, word index) in reading order; word index -1 for lines without words.

    The index text is built from exactly this stream, so any index match maps onto words.
    Words' other readings, then the words hyphenated at lines' ends joined whole (on both
    their parts), come after the page's text, so they are found as words without putting
    gaps into the phrases of the text itself.
    """
    for line_index, (text, _bbox, words) in enumerate(lines):
        if words:
            for word_index, word in enumerate(words):
                for token in word_tokens(word[0]):
                    yield token, line_index, word_index
        else:
            for token in index_tokens(text):
                yield token, line_index, -1
    for line_index, (_text, _bbox, words) in enumerate(lines):
        for word_index, word in enumerate(words):
            for alternative in word[5] if len(word) > 5 else ():
                for token in word_tokens(alternative):
                    yield token, line_index, word_index
    for joined, *parts in hyphenated_words(lines):
        for token in word_tokens(joined):
            for line_index, word_index in parts:
                yield token, line_index, word_index


def hyphenated_words(
    lines: Sequence[Any],
) -> Iterator[tuple[str, tuple[int, int], tuple[int, int]]]:
    """(whole word, (line, word) of its first part, (line, word) of its second) for each word
    hyphenated at a line's end: "emigra-" then "tion." is "emigration.". A typed page
    breaks several words a page so, and each was unsearchable by itself. The next line in
    reading order must go on in lower case; a compound broken at its own hyphen ("well-",
    "known") joins too, which only adds a token no one searches for.
    """
    for line_index in range(len(lines) - 1):
        words, following = lines[line_index][2], lines[line_index + 1][2]
        if not words or not following:
            continue
        first, second = words[-1][0], following[0][0]
        if (
            len(first) >= 3
            and first.endswith("-")
            and first[-2].isalpha()
            and second[:1].isalpha()
            and second[:1].islower()
        ):
            yield first[:-1] + second, (line_index, len(words) - 1), (line_index + 1, 0)


def hit_lines(lines: Sequence[Any], patterns: list[list[Container[str]]]) -> tuple[HitLine, ...]:
    """The lines holding a match of `patterns` (see query.match_positions), hit words marked."""
    stream = list(line_tokens(lines))
    marked = match_positions([token for token, _, _ in stream], patterns)
    words_by_line: dict[int, list[int]] = {}
    for position in sorted(marked):
        _, line_index, word_index = stream[position]
        hit_words = words_by_line.setdefault(line_index, [])
        if word_index >= 0 and word_index not in hit_words:
            hit_words.append(word_index)
    result = []
    for line_index in sorted(words_by_line):
        text, bbox, words = lines[line_index]
        marked_words = tuple(
            HitWord(words[i][0], BBox(*words[i][1:5])) for i in words_by_line[line_index]
        )
        result.append(HitLine(text, BBox(*bbox), marked_words))
    return tuple(result)


def every_line(lines: Sequence[Any]) -> tuple[HitLine, ...]:
    """All stored lines with all of their words (Index.pages)."""
    return tuple(
        HitLine(text, BBox(*bbox), tuple(HitWord(w[0], BBox(*w[1:5])) for w in words))
        for text, bbox, words in lines
    )
