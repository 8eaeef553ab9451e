"""Word lists with frequencies, for lexicon-aware decoding.

The shipped lists (scandex/lexicons/LANG.tsv.gz) hold lower-cased alphabetic words with their
Zipf frequency (log10 of occurrences per billion words). Users add their own words (names,
places, the jargon of their archive) in a plain text file, one word per line.
"""

from __future__ import annotations

import bisect
import gzip
import itertools
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path

from scandex.errors import ScandexError
from scandex.lexicons import DEFAULT_LANGUAGES, available_languages

# A user's word is as likely as a fairly common word (about "harbour" in English).
USER_WORD_ZIPF = 4.0


@dataclass(frozen=True)
class Lexicon:
    """Sorted lower-case words (for prefix tests) and each word's Zipf frequency."""

    words: tuple[str, ...]
    zipf: dict[str, float]

    def frequency(self, word: str) -> float | None:
        """Zipf frequency of `word` (any case), None when it is not in the lexicon."""
        return self.zipf.get(word.lower())

    def has_prefix(self, prefix: str) -> bool:
        """Whether some word starts with `prefix` (lower case)."""
        i = bisect.bisect_left(self.words, prefix)
        return i < len(self.words) and self.words[i].startswith(prefix)

    def __contains__(self, word: str) -> bool:
        return word.lower() in self.zipf

    def __len__(self) -> int:
        return len(self.words)

    def accented_forms(self, word: str) -> tuple[str, ...]:
        """The listed words (lower case) that are `word` (any case) with other accents or
        none, most frequent first; `word` itself is not among them."""
        lower = word.lower()
        return tuple(w for w in self._by_unaccented.get(without_accents(lower), ()) if w != lower)

    @cached_property
    def _by_unaccented(self) -> dict[str, tuple[str, ...]]:
        # Only words that carry an accent are filed: a word without one is its own key.
        forms: dict[str, list[str]] = {}
        for word in self.words:
            if not word.isascii():
                bare = without_accents(word)
                if bare != word:
                    forms.setdefault(bare, []).append(word)
        for bare, accented in forms.items():
            if bare in self.zipf:
                accented.append(bare)
            accented.sort(key=lambda w: -self.zipf[w])
        return {bare: tuple(accented) for bare, accented in forms.items()}


class _BareLetters(dict[int, str]):
    """str.translate's table from a letter to itself without accents, filled as letters come
    (NFD per word cost a third of a second for the four lists' accented words)."""

    def __missing__(self, code: int) -> str:
        decomposed = unicodedata.normalize("NFD", chr(code))
        bare = "".join(c for c in decomposed if not unicodedata.combining(c))
        self[code] = bare if len(bare) == 1 else chr(code)
        return self[code]


_BARE_LETTERS = _BareLetters()


def without_accents(word: str) -> str:
    """`word` with its letters' accents taken off (é -> e, ü -> u; ß, æ and ø stay), one letter
    for one letter. Search folds words further (ligatures apart, ß as ss: indexer.query.fold);
    here the letters must stay where they are, to count the ones an accent changes."""
    return word if word.isascii() else word.translate(_BARE_LETTERS)


def _keeping_highest(entries: Iterable[tuple[str, float]]) -> Lexicon:
    """A lexicon from (lower-case word, zipf) pairs; a word listed twice keeps its higher
    frequency."""
    zipf: dict[str, float] = {}
    for word, value in entries:
        if value > zipf.get(word, -math.inf):
            zipf[word] = value
    return Lexicon(tuple(sorted(zipf)), zipf)


def make_lexicon(entries: Iterable[tuple[str, float]]) -> Lexicon:
    """A lexicon from (word, zipf) pairs, words in any case; a word listed twice keeps its
    higher frequency."""
    stripped = ((word.strip().lower(), value) for word, value in entries)
    return _keeping_highest((word, value) for word, value in stripped if word)


def _read_shipped(language: str) -> list[tuple[str, float]]:
    resource = resources.files("scandex.lexicons").joinpath(f"{language}.tsv.gz")
    if not resource.is_file():
        raise ScandexError(
            f"no word list for language {language!r} (available: "
            f"{', '.join(available_languages())}); fix ocr.languages in the configuration"
        )
    entries = []
    for row in gzip.decompress(resource.read_bytes()).decode("utf-8").splitlines():
        word, _, value = row.partition("\t")
        entries.append((word, float(value)))
    return entries


def read_user_words(path: Path) -> list[tuple[str, float]]:
    """One word per line (blank lines and lines starting with # are skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScandexError(f"{path}: cannot read the word list: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ScandexError(f"{path}: the word list is not UTF-8 text") from None
    words = (line.strip() for line in text.splitlines())
    return [(word, USER_WORD_ZIPF) for word in words if word and not word.startswith("#")]


def merge_lexicons(parts: Iterable[Lexicon]) -> Lexicon:
    """One lexicon of several; a word in more than one keeps its highest frequency, at a
    third of the cost of building it from their entries again (their words are lower case
    already)."""
    return _keeping_highest(itertools.chain.from_iterable(part.zipf.items() for part in parts))


@lru_cache(maxsize=32)
def load_lexicon(languages: tuple[str, ...], user_words: Path | None = None) -> Lexicon:
    """The shipped lists of `languages` merged, plus the user's words; loaded once per process,
    and each language's list read once whatever it is merged with (a page in two languages
    waited 0.65 s for its merged list where merging the loaded ones takes 0.2 s)."""
    if len(languages) == 1 and user_words is None:
        return make_lexicon(_read_shipped(languages[0]))
    parts = [_shipped(language) for language in languages]
    if user_words is not None:
        parts.append(make_lexicon(read_user_words(user_words)))
    return merge_lexicons(parts)


# Each word of a page votes for the language in whose list it is most frequent; a page uses
# the lists of the languages with at least this share of its words (and always the first).
# On the project's English pages and line sets each other language gets at most 6% (names,
# and English words that French lists hold with a lower frequency); a French page gives
# English 10%; a page of English and French sentences gives 53% and 40%.
LANGUAGE_SHARE = 0.15

_LETTER_RUNS = re.compile(r"[^\W\d_]+")


def choose_languages(
    text: str, languages: tuple[str, ...], share: float = LANGUAGE_SHARE
) -> tuple[str, ...]:
    """The languages of `languages` (shipped lists) that a page's text, as first read, is
    written in, in the order given: each word counts for the language whose list has it
    most frequent (the first of equals); chosen are the language with most words and each
    with at least `share` of them; the first language for a page without listed words.

    A word list of every language at once would put words of the wrong language within
    reach of every misread word (measured: the English dev lines 0.35 -> 0.37% CER and
    1.29 -> 1.41% with the four lists), while the English list alone reads French lines at
    nearly twice the CER of the French list.
    """
    words = _words(text)
    if len(languages) < 2 or not words:
        return languages[:1]
    votes = _language_votes(words, languages)
    top = _most_voted(votes)
    if votes[top] == 0:
        return languages[:1]
    return tuple(
        language
        for language in languages
        if language == top or votes[language] >= share * len(words)
    )


# A line of at least this many words is checked against the list of its own language; a
# shorter one (a name, "Dear Sir,") says too little about its language and takes its page's.
LINE_LANGUAGE_WORDS = 3


def line_languages(
    text: str, languages: tuple[str, ...], page_languages: tuple[str, ...]
) -> tuple[str, ...]:
    """The language of `languages` most of a line's words are in (the first of equals), or
    `page_languages` for a line of fewer than LINE_LANGUAGE_WORDS words or none listed.

    A page's choice reads a French sentence on an English page with the English list alone;
    this reads it with the French one. One language, not the page's mix: merged lists for
    every mix the lines of a page may have would cost up to 80 MB more per worker, and
    adding a second list to lines measured no better (2026-12-03)."""
    words = _words(text)
    if len(languages) < 2 or len(words) < LINE_LANGUAGE_WORDS:
        return page_languages
    votes = _language_votes(words, languages)
    top = _most_voted(votes)
    return (top,) if votes[top] else page_languages


def _words(text: str) -> list[str]:
    return [w.lower() for w in _LETTER_RUNS.findall(text)]


def _language_votes(words: list[str], languages: tuple[str, ...]) -> dict[str, int]:
    """How many of `words` each language's list has most frequent (the first of equals)."""
    lists = {language: _shipped(language).zipf for language in languages}
    votes = dict.fromkeys(languages, 0)
    for word in words:
        language = max(languages, key=lambda lang: lists[lang].get(word, -1.0))  # first of equals
        if word in lists[language]:
            votes[language] += 1
    return votes


def _most_voted(votes: dict[str, int]) -> str:
    return max(votes, key=votes.__getitem__)  # the first of equals, in the order given


def _shipped(language: str) -> Lexicon:
    # Always the same arguments: lru_cache keys load_lexicon(x) and load_lexicon(x, None) apart.
    return load_lexicon((language,), None)


@dataclass(frozen=True)
class PageLexicon:
    """Word lists of several languages: each line of a page (of a `Recognizer.recognize`
    call) is decoded with the list of its own language (`line_languages`), a short line
    with those of its page's languages (`choose_languages`); each with the user's words."""

    languages: tuple[str, ...]
    user_words: Path | None = None

    def for_lines(self, texts: Sequence[str]) -> list[Lexicon]:
        """The lexicon of each line of a page whose first reading (greedy decoding) is
        `texts`, one per line."""
        page = choose_languages("\n".join(texts), self.languages)
        return [
            load_lexicon(line_languages(text, self.languages, page), self.user_words)
            for text in texts
        ]


@dataclass(frozen=True)
class LexiconParams:
    """Which words lexicon-aware decoding knows (the [ocr] lexicon settings)."""

    enabled: bool = True
    languages: tuple[str, ...] = DEFAULT_LANGUAGES  # the word lists a page may use
    user_words: Path | None = None  # the user's own words, one per line

    def load(self) -> Lexicon | PageLexicon | None:
        """The lexicon (a choice per line among several languages), or None when lexicon
        decoding is off."""
        if not self.enabled or (not self.languages and self.user_words is None):
            return None
        if len(self.languages) > 1:
            # Loaded now, so a missing list is an error at start, not at the first page.
            for language in self.languages:
                load_lexicon((language,), self.user_words)  # reads the shipped list too
            return PageLexicon(self.languages, self.user_words)
        return load_lexicon(self.languages, self.user_words)
