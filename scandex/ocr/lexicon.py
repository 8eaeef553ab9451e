"""Word lists with frequencies, for lexicon-aware decoding.

The shipped lists (scandex/lexicons/LANG.tsv.gz) hold lower-cased alphabetic words with their
Zipf frequency (log10 of occurrences per billion words). Users add their own words (names,
places, the jargon of their archive) in a plain text file, one word per line.
"""

from __future__ import annotations

import bisect
import gzip
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from scandex.errors import ScandexError
from scandex.lexicons import available_languages

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


def make_lexicon(entries: Iterable[tuple[str, float]]) -> Lexicon:
    """A lexicon from (word, zipf) pairs; a word listed twice keeps its higher frequency."""
    zipf: dict[str, float] = {}
    for word, value in entries:
        key = word.strip().lower()
        if key:
            zipf[key] = max(value, zipf.get(key, value))
    return Lexicon(tuple(sorted(zipf)), zipf)


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


@lru_cache(maxsize=8)
def load_lexicon(languages: tuple[str, ...], user_words: Path | None = None) -> Lexicon:
    """The shipped lists of `languages` merged, plus the user's words; loaded once per process."""
    entries = [entry for language in languages for entry in _read_shipped(language)]
    if user_words is not None:
        entries += read_user_words(user_words)
    return make_lexicon(entries)


@dataclass(frozen=True)
class LexiconParams:
    """Which words lexicon-aware decoding knows (the [ocr] lexicon settings)."""

    enabled: bool = True
    languages: tuple[str, ...] = ("en",)
    user_words: Path | None = None  # the user's own words, one per line

    def load(self) -> Lexicon | None:
        """The lexicon, or None when lexicon decoding is off."""
        if not self.enabled or (not self.languages and self.user_words is None):
            return None
        return load_lexicon(self.languages, self.user_words)
