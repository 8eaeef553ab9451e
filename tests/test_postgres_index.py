"""The PostgreSQL index against a real server: the Index contract, and the same answers as
Whoosh on the same pages (same hits, same lines, same boxes; only the scores differ)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import PostgresServer, postgres_server
from test_indexer import INVOICE, LETTER, TREATY, make_doc

from scandex.cli.search import hit_to_json
from scandex.errors import QueryError, ScandexError
from scandex.indexer import (
    EmptyRebuildError,
    IndexLockedError,
    NoIndexError,
    SearchHit,
    open_index,
)
from scandex.page import BBox, Document, Word

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    with postgres_server() as started:
        yield started


@pytest.fixture
def url(server: PostgresServer) -> str:
    return server.new_database()


def open_pg(url: str, *, writable: bool):
    from scandex.indexer.postgres_index import open_postgres_index

    return open_postgres_index(url, writable=writable)


@pytest.fixture
def filled(url: str) -> Iterator[object]:
    index = open_pg(url, writable=True)
    for doc in (TREATY, LETTER, INVOICE):
        index.add(doc, hocr_path=doc.path.replace(".png", ".hocr"))
    index.commit()
    yield index
    index.close()


def answers(hits: list[SearchHit]) -> list[str]:
    """Hits as `scandex search --format json` prints them, less the score, in a fixed order."""
    return sorted(json.dumps({**hit_to_json(hit), "score": None}, sort_keys=True) for hit in hits)


# ----------------------------------------------------------------------------- parity

WORDS = (
    "treaty",
    "agreement",
    "august",
    "september",
    "signed",
    "witness",
    "geneva",
    "zurich",
    "london",
    "paris",
    "invoice",
    "francs",
    "total",
    "paid",
    "letter",
    "sir",
    "yours",
    "faithfully",
    "annex",
    "holiday",
    "receipt",
    "cafe",
    "minister",
    "embassy",
    "council",
    "report",
    "delegation",
    "archive",
    "folder",
    "box",
    "colonel",
    "general",
    "telegram",
)
SLIPS = {"u": "n", "e": "c", "l": "1", "o": "0", "m": "rn", "a": "o", "i": "l"}


def misread(word: str, rng: random.Random) -> str:
    spots = [i for i, ch in enumerate(word) if ch in SLIPS]
    if not spots:
        return word
    i = rng.choice(spots)
    return word[:i] + SLIPS[word[i]] + word[i + 1 :]


def corpus(count: int, seed: int = 3) -> list[Document]:
    """Pages of common words, dates and numbers, accents, OCR slips and other readings."""
    rng = random.Random(seed)
    docs = []
    for number in range(count):
        pages = []
        for _ in range(rng.choice((1, 1, 2))):
            lines = []
            for _ in range(rng.randint(2, 6)):
                words = [rng.choice(WORDS) for _ in range(rng.randint(3, 9))]
                words = [misread(w, rng) if rng.random() < 0.1 else w for w in words]
                if rng.random() < 0.3:
                    words += [f"{rng.randint(1, 28)},", str(rng.randint(1900, 1960)) + "."]
                if rng.random() < 0.1:
                    words.append(rng.choice(["Café", "Zürich", "naïve", "Ærø", "ﬁnal"]))
                lines.append(" ".join(words))
            pages.append(lines)
        folder = rng.choice(("1934", "1935", "misc/a_b", "misc/100%"))
        docs.append(make_doc(f"/archive/{folder}/scan{number:03d}.png", *pages))
    # A word with another reading (the lexicon replaced the recognizer's own).
    first = docs[0]
    page = first.pages[0]
    line = page.lines[0]
    word = line.words[0]
    alternative = Word(word.text, word.bbox, 0.5, alternatives=("tneaty",))
    line = type(line)(line.bbox, line.text, 0.9, (alternative, *line.words[1:]))
    block = type(page.blocks[0])(page.blocks[0].bbox, (line, *page.lines[1:]))
    docs[0] = Document(first.path, (type(page)(page.number, 2480, 3508, blocks=(block,)),))
    return docs


PARITY_QUERIES = [
    ("treaty", False, None),
    ("treaty signed", False, None),
    ('"treaty signed"', False, None),
    ('"signed treaty" OR "paid total"', False, None),
    ("trea*", False, None),
    ("g*", False, None),
    ("a?gust", False, None),
    ("*ch", False, None),
    ("gen*va", False, None),
    ("augnst~", False, None),
    ("augnst~2", False, None),
    ("tneaty", False, None),
    ("treaty", True, None),
    ('"august 5"~', False, None),
    ("witness AND NOT geneva", False, None),
    ("(london OR paris) AND (treaty OR agreement) NOT telegram", False, None),
    ("cafe zurich", False, None),
    ("naive OR aero OR final", False, None),
    ("1934", False, None),
    ("treaty", False, "/archive/1934/"),
    ("treaty", False, "/archive/misc/a_b/"),
    ("treaty", False, "/archive/misc/100%/"),
    ("colonel general", True, "/archive/1935/"),
    ("zeppelin", False, None),
]


@pytest.fixture
def both(url: str, tmp_path: Path):
    """The same corpus in Whoosh and in PostgreSQL."""
    docs = [TREATY, LETTER, INVOICE, *corpus(60)]
    whoosh = open_index(tmp_path / "index", writable=True)
    postgres = open_pg(url, writable=True)
    for index in (whoosh, postgres):
        for doc in docs:
            index.add(doc, hocr_path=doc.path + ".hocr")
        index.commit()
    reader = open_pg(url, writable=False)
    yield whoosh, reader
    reader.close()
    postgres.close()
    whoosh.close()


def test_postgres_and_whoosh_give_the_same_hits_lines_and_boxes(both) -> None:
    whoosh, postgres = both
    found_something = 0
    for query, fuzzy, prefix in PARITY_QUERIES:
        options = {"limit": 1000, "fuzzy": fuzzy, "path_prefix": prefix}
        expected = answers(whoosh.search(query, **options))
        assert answers(postgres.search(query, **options)) == expected, (query, fuzzy, prefix)
        found_something += bool(expected)
    assert found_something >= len(PARITY_QUERIES) - 2


def test_every_page_is_stored_alike(both) -> None:
    whoosh, postgres = both
    assert postgres.paths() == whoosh.paths()
    for path in sorted(whoosh.paths())[:20]:
        assert postgres.pages(path) == whoosh.pages(path)
    assert (postgres.stats().documents, postgres.stats().pages) == (
        whoosh.stats().documents,
        whoosh.stats().pages,
    )


def test_ranking_prefers_more_occurrences_and_the_exact_spelling(url: str) -> None:
    index = open_pg(url, writable=True)
    index.add(make_doc("/a/once.png", ["the treaty and more words here"]))
    index.add(make_doc("/a/thrice.png", ["treaty treaty treaty here"]))
    index.add(make_doc("/a/slip.png", ["the tneaty here"]))
    index.commit()
    assert [hit.path for hit in index.search("treaty")] == ["/a/thrice.png", "/a/once.png"]
    assert index.search("treaty~")[0].path == "/a/thrice.png"
    assert index.search("tneaty~")[0].path == "/a/slip.png"
    index.close()


# ----------------------------------------------------------------------------- the contract


def test_search_returns_the_page_line_and_word_boxes(filled) -> None:
    (hit,) = filled.search("Geneva")
    assert (hit.path, hit.page) == (TREATY.path, 1)
    line = TREATY.pages[0].lines[1]
    assert hit.lines[0].bbox == line.bbox
    assert [w.bbox for w in hit.lines[0].words] == [line.words[-1].bbox]
    assert hit.score > 0


def test_changes_are_invisible_to_readers_until_commit(filled, url: str) -> None:
    reader = open_pg(url, writable=False)
    try:
        filled.add(make_doc("/archive/new.png", ["zeppelin over the lake"]))
        filled.remove(LETTER.path)
        assert reader.search("zeppelin") == []
        assert LETTER.path in reader.paths()
        filled.commit()
        assert [hit.path for hit in reader.search("zeppelin")] == ["/archive/new.png"]
        assert LETTER.path not in reader.paths()
    finally:
        reader.close()


def test_add_replaces_every_page_and_remove_forgets(filled) -> None:
    filled.add(make_doc(TREATY.path, ["Only one page now, about a zeppelin."]))
    filled.commit()
    assert len(filled.pages(TREATY.path)) == 1
    assert filled.search("Geneva") == []
    filled.remove(TREATY.path)
    filled.remove("/never/indexed.png")
    filled.commit()
    assert TREATY.path not in filled.paths()
    assert filled.pages(TREATY.path) == []


def test_a_page_without_text_still_counts(url: str) -> None:
    index = open_pg(url, writable=True)
    index.add(Document("/a/no-pages.png", ()))
    index.add(make_doc("/a/blank.png", []))
    index.commit()
    assert (index.stats().documents, index.stats().pages) == (2, 1)
    assert index.pages("/a/blank.png")[0].lines == ()
    index.close()


def test_no_index_yet_one_writer_and_readers_cannot_write(url: str) -> None:
    with pytest.raises(NoIndexError):
        open_pg(url, writable=False)
    writer = open_pg(url, writable=True)
    try:
        with pytest.raises(IndexLockedError, match="process"):
            open_pg(url, writable=True)
        reader = open_pg(url, writable=False)
        with pytest.raises(ScandexError, match="read-only"):
            reader.add(TREATY)
        with pytest.raises(QueryError):
            reader.search('"unclosed')
        reader.close()
    finally:
        writer.close()
    open_pg(url, writable=True).close()  # the lock went with the writer's connection


def test_a_newer_schema_is_refused_with_a_remedy(url: str) -> None:
    import psycopg

    open_pg(url, writable=True).close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE scandex_schema SET version = 99")
    with pytest.raises(ScandexError, match="newer scandex"):
        open_pg(url, writable=True)
    with pytest.raises(ScandexError, match="schema 99"):
        open_pg(url, writable=False)


def test_a_commit_after_the_connection_was_cut_succeeds_on_the_next_try(filled, url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE pid != pg_backend_pid() AND datname = current_database()"
        )
    filled.add(make_doc("/archive/after.png", ["written after the cut"]))
    with pytest.raises(ScandexError, match="cannot commit"):
        filled.commit()
    filled.commit()  # the batch was kept; a new connection takes the writer lock again
    assert "/archive/after.png" in filled.paths()
    with pytest.raises(IndexLockedError):
        open_pg(url, writable=True)


def test_an_unreachable_server_is_a_temporary_error(server: PostgresServer) -> None:
    from scandex.errors import ExitCode, TemporaryError

    gone = f"postgresql://scandex:secret@127.0.0.1:{server.port}/no_such_database"
    with pytest.raises(TemporaryError) as caught:
        open_pg(gone, writable=False)
    assert caught.value.exit_code == ExitCode.TEMPORARY
    assert "secret" not in str(caught.value)


def test_rebuild_replaces_everything_and_never_empties(filled, url: str) -> None:
    from scandex.indexer.postgres_index import build_and_replace

    reader = open_pg(url, writable=False)
    with pytest.raises(IndexLockedError):  # not while a daemon writes
        build_and_replace(url, [(LETTER, "/l.hocr")])
    filled.close()
    count = build_and_replace(url, [(LETTER, "/l.hocr"), (LETTER, "/other.hocr")])
    assert count == 1
    assert reader.paths() == {LETTER.path}
    assert reader.pages(LETTER.path)[0].hocr_path == "/l.hocr"
    with pytest.raises(EmptyRebuildError, match="1 scans"):
        build_and_replace(url, [], keep_unless_filled=True)
    assert reader.paths() == {LETTER.path}
    reader.close()


def test_a_rebuild_leaves_the_planner_its_statistics(url: str) -> None:
    """Without them PostgreSQL plans a freshly filled index as an empty one (see bench_scale)."""
    import psycopg

    from scandex.indexer.postgres_index import build_and_replace

    build_and_replace(url, [(TREATY, None), (LETTER, None)])
    with psycopg.connect(url) as conn:
        analyzed = conn.execute(
            "SELECT DISTINCT tablename FROM pg_stats WHERE tablename LIKE 'scandex\\_%'"
        ).fetchall()
    assert {row[0] for row in analyzed} == {
        "scandex_documents",
        "scandex_pages",
        "scandex_lines",
        "scandex_terms",
    }


def test_the_fuzzy_bound_never_misses_a_word_within_reach(url: str) -> None:
    """Every token within the edit distance is found, however few trigrams it shares."""
    from scandex.indexer.postgres_index import within_edits

    rng = random.Random(5)
    letters = "abcdefgh"
    tokens = sorted(
        {"".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(3000)}
    )
    index = open_pg(url, writable=True)
    line_words = [Word(t, BBox(0, 0, 1, 1), 0.9) for t in tokens]
    for start in range(0, len(line_words), 100):
        text = " ".join(w.text for w in line_words[start : start + 100])
        index.add(make_doc(f"/fuzzy/{start}.png", [text]))
    index.commit()
    for query in ("abcd", "hgfedcba", "abab", "cafe", "bad", "aaaaaaaa"):
        for distance in (1, 2):
            expected = {t for t in tokens if within_edits(t, query, distance)}
            found = {
                word.text
                for hit in index.search(f"{query}~{distance}", limit=1000)
                for line in hit.lines
                for word in line.words
            }
            assert found == expected, (query, distance)
    index.close()


def test_within_edits_is_damerau_levenshtein() -> None:
    from scandex.indexer.postgres_index import within_edits

    assert within_edits("august", "augnst", 1)
    assert within_edits("august", "agust", 1)
    assert within_edits("august", "uagust", 1)  # a swap of neighbours is one edit
    assert not within_edits("august", "gusta", 1)
    assert within_edits("", "ab", 2) and not within_edits("", "abc", 2)
