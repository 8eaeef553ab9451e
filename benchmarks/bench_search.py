"""Search latency over a large generated index (not a test).

    .venv/bin/python benchmarks/bench_search.py --pages 10000 --index /tmp/bench-index

Generates documents with a Zipf-like vocabulary (plus dates, numbers and OCR-style misreadings),
builds the index once (kept in --index for later runs), then times each kind of query through
the same `Index.search` the CLI uses: a long-lived reader (a daemon or service) and a fresh
open per query (what one `scandex search` process pays, minus interpreter start-up). Prints
the median and 95th percentile per kind, in milliseconds.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from scandex.indexer import open_index
from scandex.indexer.query import parse_query
from scandex.indexer.whoosh_index import Expansions, WhooshIndex, build_and_swap, to_whoosh
from scandex.page import BBox, Block, Document, Line, Page, Word

LINES_PER_PAGE = 30
WORDS_PER_LINE = 9
MONTHS = "January February March April May June July August September October November December"


def vocabulary(rng: random.Random, size: int) -> list[str]:
    consonants, vowels = "bcdfghklmnprstvwz", "aeiou"
    words = set(MONTHS.split())
    while len(words) < size:
        syllables = rng.choice((1, 2, 2, 3, 3, 4))
        words.add("".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(syllables)))
    return sorted(words)


def misread(word: str, rng: random.Random) -> str:
    """An OCR-style slip: one letter replaced by a look-alike."""
    swaps = {"u": "n", "n": "u", "e": "c", "l": "1", "o": "0", "m": "rn", "a": "o"}
    spots = [i for i, ch in enumerate(word) if ch in swaps]
    if not spots:
        return word
    i = rng.choice(spots)
    return word[:i] + swaps[word[i]] + word[i + 1 :]


def generate(pages: int, seed: int = 7) -> Iterator[tuple[Document, str | None]]:
    rng = random.Random(seed)
    words = vocabulary(rng, 20_000)
    # Zipf: a few very common words, a long tail of rare ones.
    cumulative = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(words))))
    made = 0
    number = 0
    while made < pages:
        count = min(rng.choice((1, 1, 1, 2, 3, 4)), pages - made)
        year = 1900 + number % 120
        path = f"/bench/scans/{year}/box{number % 37:02d}/scan{number:06d}.png"
        doc_pages = []
        for page_number in range(1, count + 1):
            lines = []
            for row in range(LINES_PER_PAGE):
                tokens = rng.choices(words, cum_weights=cumulative, k=WORDS_PER_LINE)
                if rng.random() < 0.1:
                    tokens[rng.randrange(len(tokens))] = f"{rng.choice(MONTHS.split())}"
                    tokens.append(f"{rng.randint(1, 28)},")
                    tokens.append(f"{year}.")
                tokens = [misread(t, rng) if rng.random() < 0.03 else t for t in tokens]
                top, x, line_words = 150 + 60 * row, 120, []
                for token in tokens:
                    box = BBox(x, top, x + 22 * len(token), top + 44)
                    line_words.append(Word(token, box, 0.9))
                    x += 22 * len(token) + 22
                bbox = BBox.union_all(w.bbox for w in line_words)
                lines.append(Line(bbox, " ".join(tokens), 0.9, tuple(line_words)))
            area = BBox.union_all(line.bbox for line in lines)
            doc_pages.append(Page(page_number, 2480, 3508, blocks=(Block(area, tuple(lines)),)))
        yield Document(path, tuple(doc_pages)), None
        made += count
        number += 1


def queries(rng: random.Random) -> dict[str, list[tuple[str, dict[str, object]]]]:
    words = vocabulary(random.Random(7), 20_000)  # the same vocabulary as the documents
    common = ["august", "january", words[0], words[1], words[5]]
    rare = [rng.choice(words[5000:]) for _ in range(20)]
    return {
        "common word": [(w, {}) for w in common],
        "rare word": [(w, {}) for w in rare],
        "two words (AND)": [(f"{a} {b}", {}) for a, b in zip(rare, common * 4, strict=False)],
        "phrase": [(f'"{m} {d}"', {}) for m in MONTHS.split()[:6] for d in (5, 12)],
        "prefix": [(w[:3] + "*", {}) for w in rare[:10]],
        "boolean": [
            (f"({a} OR {b}) NOT {c}", {}) for a, b, c in zip(common, common[1:], rare, strict=False)
        ],
        "fuzzy word~": [(misread(w, rng) + "~", {}) for w in rare[:10]],
        "--fuzzy 2 words": [
            (f"{misread(a, rng)} {b}", {"fuzzy": True})
            for a, b in zip(rare, common * 4, strict=False)
        ][:10],
        "path filter": [(w, {"path_prefix": "/bench/scans/1950/"}) for w in common],
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def ranking_only(index: WhooshIndex, query: str, **options: Any) -> int:
    """The peer: the same parsed query ranked by Whoosh alone, no stored lines or boxes read."""
    searcher = index._current_searcher()
    node = parse_query(query, fuzzy=bool(options.get("fuzzy")))
    wanted = to_whoosh(node, Expansions(searcher.reader()))
    prefix = options.get("path_prefix")
    only = WhooshIndex._path_filter(prefix) if prefix else None
    return len([hit.score for hit in searcher.search(wanted, limit=10, filter=only)])


def timed_ms(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return (time.perf_counter() - start) * 1000


def cold_search(directory: Path, query: str, **options: Any) -> None:
    fresh = open_index(directory, writable=False)
    fresh.search(query, **options)
    fresh.close()


def row(kind: str, count: str, hits: str, *series: list[float]) -> str:
    cells = "".join(
        f"  {statistics.median(values):>9.1f} {percentile(values, 0.95):>7.1f}" for values in series
    )
    return f"{kind:<18} {count:>3} {hits:>5}{cells}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--index", type=Path, default=Path("/tmp/scandex-bench-index"))
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each query")
    parser.add_argument("--rebuild", action="store_true", help="rebuild even if --index exists")
    args = parser.parse_args()

    if args.rebuild or not args.index.exists():
        start = time.perf_counter()
        documents = build_and_swap(args.index, generate(args.pages))
        seconds = time.perf_counter() - start
        print(
            f"built {documents} documents, {args.pages} pages in {seconds:.1f} s "
            f"({args.pages / seconds:.0f} pages/s, generation included)"
        )
    index = open_index(args.index, writable=False)
    assert isinstance(index, WhooshIndex)
    stats = index.stats()
    print(
        f"index: {stats.documents} documents, {stats.pages} pages, "
        f"{stats.size_bytes / 1e6:.1f} MB on disk\n"
    )
    print(f"{'':<28}  {'search (warm)':>17}  {'open + search':>17}  {'Whoosh ranking only':>17}")
    print(f"{'query kind':<18} {'n':>3} {'hits':>5}" + "  median ms  p95 ms" * 3)
    totals: list[list[float]] = [[], [], []]
    for kind, cases in queries(random.Random(11)).items():
        series: list[list[float]] = [[], [], []]
        hits = []
        for query, options in cases:
            hits.append(len(index.search(query, **options)))  # warms caches and expansions
            for _ in range(args.repeat):
                series[0].append(timed_ms(lambda: index.search(query, **options)))  # noqa: B023
                series[2].append(timed_ms(lambda: ranking_only(index, query, **options)))  # noqa: B023
            series[1].append(timed_ms(lambda: cold_search(args.index, query, **options)))  # noqa: B023
        for total, values in zip(totals, series, strict=True):
            total += values
        print(row(kind, str(len(cases)), f"{statistics.mean(hits):.1f}", *series))
    print(row("all", "", "", *totals))
    index.close()
    print(
        "\nlimit=10 (the CLI default). search (warm): Index.search on a long-lived reader, "
        "including parsing,\nranking and the hit lines with their boxes; open + search: a fresh "
        "open_index per query (what one\n`scandex search` pays, less interpreter start-up); "
        "Whoosh ranking only: the same query through\nWhoosh without reading stored lines."
    )


if __name__ == "__main__":
    main()
