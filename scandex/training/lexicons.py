"""Build the word lists shipped in scandex/lexicons from wordfreq (training extra).

    python -m scandex.training.lexicons [--words 80000] [LANG ...]

Each file is gzip'd UTF-8 text, one `word<TAB>zipf` per line, most frequent first: the word
lower-cased as wordfreq gives it, and its Zipf frequency (log10 of occurrences per billion
words). Only alphabetic words are kept; the recognizer's lexicon decoding never touches
tokens with digits, so numbers are not needed.
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

DEFAULT_LANGUAGES = ("en", "fr", "de", "es")
LEXICON_DIR = Path(__file__).resolve().parent.parent / "lexicons"


def word_list(language: str, words: int) -> list[tuple[str, float]]:
    import wordfreq

    out = []
    for word in wordfreq.top_n_list(language, words):
        if word.isalpha():
            out.append((word, round(wordfreq.zipf_frequency(word, language), 2)))
    return out


def write_lexicon(entries: list[tuple[str, float]], path: Path) -> None:
    text = "\n".join(f"{word}\t{zipf:.2f}" for word, zipf in entries) + "\n"
    # mtime=0: the same words give the same bytes, so a rebuild shows no diff.
    path.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("languages", nargs="*", default=list(DEFAULT_LANGUAGES))
    parser.add_argument("--words", type=int, default=80_000)
    args = parser.parse_args()
    for language in args.languages:
        entries = word_list(language, args.words)
        path = LEXICON_DIR / f"{language}.tsv.gz"
        write_lexicon(entries, path)
        print(f"{path}: {len(entries)} words, {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
