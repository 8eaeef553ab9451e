"""The index: a real Whoosh index on disk, real writer and reader processes."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scandex.errors import QueryError, ScandexError
from scandex.indexer import (
    IndexLockedError,
    NoIndexError,
    find_hocr_files,
    open_index,
    rebuild_index,
)
from scandex.indexer.query import (
    And,
    Not,
    Or,
    Phrase,
    Term,
    auto_fuzzy_distance,
    index_tokens,
    match_positions,
    parse_query,
)
from scandex.page import BBox, Block, Document, Line, Page, Word

ROOT = Path(__file__).resolve().parents[1]

# ----------------------------------------------------------------------------- documents


def make_page(number: int, lines: list[str], *, x0: int = 40, y0: int = 60) -> Page:
    """A page whose word boxes follow from the text: 12 px per character, 30 px per line."""
    built = []
    for row, text in enumerate(lines):
        top = y0 + 30 * row
        words, x = [], x0
        for token in text.split():
            words.append(Word(token, BBox(x, top, x + 12 * len(token), top + 24), 0.9))
            x += 12 * len(token) + 12
        box = BBox.union_all(w.bbox for w in words) if words else BBox(x0, top, x0 + 1, top + 24)
        built.append(Line(box, text, 0.9, tuple(words)))
    area = BBox.union_all(line.bbox for line in built) if built else BBox(0, 0, 1, 1)
    return Page(number, 2480, 3508, blocks=(Block(area, tuple(built)),))


def make_doc(path: str, *pages: list[str]) -> Document:
    return Document(path, tuple(make_page(i + 1, lines) for i, lines in enumerate(pages)))


TREATY = make_doc(
    "/archive/1934/treaty.png",
    ["The treaty was signed on August 5, 1934.", "Witnessed in the city of Geneva."],
    ["Annex: 5 August is a holiday.", "See also the cafe receipts."],
)
LETTER = make_doc(
    "/archive/1935/letter.png",
    ["Dear Sir, your letter of Augnst 12 arrived.", "Yours faithfully, J. Smith"],
)
INVOICE = make_doc(
    "/archive/invoices/inv-7.png",
    ["INVOICE No. 7 -- Café Zürich", "Total: 12.50 francs, paid in August."],
)


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "state" / "index"


@pytest.fixture
def filled(index_dir: Path):
    index = open_index(index_dir, writable=True)
    for doc in (TREATY, LETTER, INVOICE):
        index.add(doc, hocr_path=doc.path.replace(".png", ".hocr"))
    index.commit()
    yield index
    index.close()


def hit_paths(hits) -> list[str]:
    return [hit.path for hit in hits]


# ----------------------------------------------------------------------------- basics


def test_search_returns_the_page_line_and_word_boxes(filled) -> None:
    hits = filled.search("Geneva")
    assert [(h.path, h.page) for h in hits] == [(TREATY.path, 1)]
    (line,) = hits[0].lines
    expected = TREATY.pages[0].lines[1]
    assert line.text == expected.text
    assert line.bbox == expected.bbox
    assert [(w.text, w.bbox) for w in line.words] == [("Geneva.", expected.words[-1].bbox)]


def test_punctuation_and_case_do_not_matter(filled) -> None:
    (hit,) = filled.search("1934")
    assert [w.text for w in hit.lines[0].words] == ["1934."]
    assert hit_paths(filled.search("GENEVA")) == [TREATY.path]
    # Accents are folded both ways: "cafe" finds "Café" and "Café" finds "cafe".
    assert set(hit_paths(filled.search("cafe"))) == {TREATY.path, INVOICE.path}
    assert set(hit_paths(filled.search("Café"))) == {TREATY.path, INVOICE.path}
    assert hit_paths(filled.search("zurich")) == [INVOICE.path]


def test_a_word_hyphenated_at_a_lines_end_is_found_whole(index_dir: Path) -> None:
    doc = make_doc(
        "/archive/1938/report.png",
        [
            "guarantee for emigra-",
            "tion on behalf of these Jews.",
            "Chief Rabbi -",
            "Vienna, Anglo-",
            "American aid",
        ],
    )
    index = open_index(index_dir, writable=True)
    index.add(doc)
    index.commit()
    (hit,) = index.search("emigration")
    # Both parts are marked, each on its own line.
    assert [[w.text for w in line.words] for line in hit.lines] == [["emigra-"], ["tion"]]
    assert hit_paths(index.search('"for emigra"')) == [doc.path]  # the parts as typed
    # A dash at a line's end joins nothing, nor does a next line that begins a capital.
    assert index.search("rabbivienna") == [] and index.search("angloamerican") == []
    index.close()


def test_every_page_is_its_own_hit(filled) -> None:
    hits = filled.search("august", limit=10)
    assert {(h.path, h.page) for h in hits} == {
        (INVOICE.path, 1),
        (TREATY.path, 1),
        (TREATY.path, 2),
    }
    assert len(hits) == 3


def test_stats_and_paths(filled, index_dir: Path) -> None:
    assert filled.paths() == {TREATY.path, LETTER.path, INVOICE.path}
    stats = filled.stats()
    assert (stats.documents, stats.pages) == (3, 4)
    assert stats.size_bytes > 0


def test_add_replaces_every_page_of_the_path(filled) -> None:
    filled.add(make_doc(TREATY.path, ["A single new page about Lausanne."]))
    filled.commit()
    assert filled.search("Geneva") == []
    assert filled.search("holiday") == []
    assert [(h.path, h.page) for h in filled.search("Lausanne")] == [(TREATY.path, 1)]
    assert filled.stats().pages == 3


def test_adding_twice_in_one_batch_keeps_the_last(filled) -> None:
    filled.add(make_doc("/x/new.png", ["first version"]))
    filled.add(make_doc("/x/new.png", ["second version"]))
    filled.commit()
    assert filled.search("first") == []
    assert hit_paths(filled.search("second")) == ["/x/new.png"]
    assert filled.stats().pages == 5


def test_remove(filled) -> None:
    filled.remove(TREATY.path)
    filled.remove("/never/indexed.png")
    filled.commit()
    assert filled.search("Geneva") == []
    assert filled.paths() == {LETTER.path, INVOICE.path}


def test_changes_are_invisible_until_commit(filled, index_dir: Path) -> None:
    reader = open_index(index_dir, writable=False)
    try:
        filled.add(make_doc("/x/late.png", ["zeppelin"]))
        assert reader.search("zeppelin") == []
        assert filled.search("zeppelin") == []
        filled.commit()
        assert hit_paths(reader.search("zeppelin")) == ["/x/late.png"]
    finally:
        reader.close()


def test_a_page_without_text_still_counts(index_dir: Path) -> None:
    with_blank = Document("/x/blank.png", (Page(1, 100, 100),))
    index = open_index(index_dir, writable=True)
    try:
        index.add(with_blank)
        index.commit()
        assert index.paths() == {"/x/blank.png"}
        assert index.stats().pages == 1
    finally:
        index.close()


# ----------------------------------------------------------------------------- query language


def test_phrase_needs_the_words_in_order(filled) -> None:
    (hit,) = filled.search('"August 5"')
    assert (hit.path, hit.page) == (TREATY.path, 1)
    # Only the words of the phrase occurrence are marked, not every "5" of the page.
    assert [w.text for line in hit.lines for w in line.words] == ["August", "5,"]
    (reverse,) = filled.search('"5 August"')
    assert (reverse.path, reverse.page) == (TREATY.path, 2)


def test_prefix_and_wildcard(filled) -> None:
    assert {(h.path, h.page) for h in filled.search("Aug*")} == {
        (TREATY.path, 1),
        (TREATY.path, 2),
        (LETTER.path, 1),
        (INVOICE.path, 1),
    }
    (letter,) = filled.search("augn*")
    assert [w.text for w in letter.lines[0].words] == ["Augnst"]
    assert hit_paths(filled.search("Gen?va")) == [TREATY.path]


def test_boolean_operators(filled) -> None:
    assert set(hit_paths(filled.search("august AND francs"))) == {INVOICE.path}
    assert set(hit_paths(filled.search("geneva OR smith"))) == {TREATY.path, LETTER.path}
    assert {(h.path, h.page) for h in filled.search("august NOT holiday")} == {
        (TREATY.path, 1),
        (INVOICE.path, 1),
    }
    assert set(hit_paths(filled.search("(geneva OR francs) AND august"))) == {
        TREATY.path,
        INVOICE.path,
    }
    # Lower-case words are words, not operators.
    assert filled.search("geneva or smith") == []


def test_fuzzy_finds_ocr_misreadings(filled) -> None:
    assert filled.search("Augnst", fuzzy=False) != []  # the letter really says "Augnst"
    assert {h.path for h in filled.search("Augnst", fuzzy=True)} == {
        TREATY.path,
        LETTER.path,
        INVOICE.path,
    }
    assert {h.path for h in filled.search("Augnst~")} == {TREATY.path, LETTER.path, INVOICE.path}
    assert filled.search("Genova") == []
    (hit,) = filled.search("Genova", fuzzy=True)
    assert [w.text for w in hit.lines[0].words] == ["Geneva."]


def test_fuzzy_ranks_the_exact_spelling_first(filled) -> None:
    hits = filled.search("Augnst", fuzzy=True)
    assert hits[0].path == LETTER.path


def test_fuzzy_short_words_stay_exact(filled) -> None:
    # "No" must not match every two-letter word on the pages.
    assert hit_paths(filled.search("No", fuzzy=True)) == [INVOICE.path]


def test_fuzzy_phrase(filled) -> None:
    (hit,) = filled.search('"Augnst 5"', fuzzy=True)
    assert (hit.path, hit.page) == (TREATY.path, 1)


def test_path_prefix_and_limit(filled) -> None:
    assert {h.path for h in filled.search("august", path_prefix="/archive/1934/")} == {TREATY.path}
    assert filled.search("august", path_prefix="/elsewhere/") == []
    assert len(filled.search("august", limit=2)) == 2
    assert len(filled.search("august", limit=1)) == 1


def test_ranking_prefers_more_occurrences(index_dir: Path) -> None:
    index = open_index(index_dir, writable=True)
    try:
        index.add(make_doc("/r/once.png", ["harbour master report", "weather fine"]))
        index.add(make_doc("/r/thrice.png", ["harbour harbour", "the harbour was full"]))
        index.add(make_doc("/r/none.png", ["nothing relevant here"]))
        index.commit()
        hits = index.search("harbour")
        assert hit_paths(hits) == ["/r/thrice.png", "/r/once.png"]
        assert hits[0].score > hits[1].score > 0
    finally:
        index.close()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"August 5', "unclosed quote at column 1"),
        ("(geneva OR smith", 'missing ")" for the "(" at column 1'),
        ("geneva)", 'unmatched ")" at column 7'),
        ("()", "empty parentheses"),
        ("geneva AND", "AND at column 8 needs a word or phrase after it"),
        ("OR geneva", "OR at column 1 needs a word before it"),
        ("geneva AND OR smith", "AND at column 8 needs a word"),
        ("NOT geneva", "only excludes words"),
        ("", "empty query"),
        ("  ", "empty query"),
        ("... --", "no searchable words"),
        ("geneva~7", "fuzzy distance must be 1 or 2"),
        ("*", "needs at least one letter"),
        ('"Gen*"', "wildcards do not work inside quotes"),
        ('"a b"x', "right after a phrase"),
    ],
)
def test_bad_queries_get_a_clear_message(filled, query: str, message: str) -> None:
    with pytest.raises(QueryError, match=None) as caught:
        filled.search(query)
    assert message in str(caught.value)


def test_limit_must_be_positive(filled) -> None:
    with pytest.raises(QueryError, match="limit"):
        filled.search("august", limit=0)


def test_parse_tree() -> None:
    assert parse_query("a b OR c") == Or((And((Term("a"), Term("b"))), Term("c")))
    assert parse_query("x NOT (y OR z)") == And((Term("x"), Not(Or((Term("y"), Term("z"))))))
    assert parse_query("Aug*") == Term("aug", prefix=True)
    assert parse_query("don't") == Phrase((Term("don"), Term("t")))
    assert parse_query("augnst~") == Term("augnst", fuzzy=1)
    assert parse_query("reconnaissance~") == Term("reconnaissance", fuzzy=2)
    assert parse_query("ab~") == Term("ab", fuzzy=1)  # asked for explicitly: at least 1
    assert parse_query("ab cdef", fuzzy=True) == And((Term("ab"), Term("cdef", fuzzy=1)))
    assert [auto_fuzzy_distance(w) for w in ("of", "the", "mail", "letters", "treaties")] == [
        0,
        0,
        1,
        1,
        2,
    ]


def test_normalization() -> None:
    assert index_tokens("Café «1934.» ﬁnal don't") == ["cafe", "1934", "final", "don", "t"]


def test_match_positions_marks_whole_phrase_occurrences() -> None:
    tokens = ["on", "august", "5", "and", "5", "august"]
    pattern = [frozenset({"august"}), frozenset({"5"})]
    assert match_positions(tokens, [pattern]) == {1, 2}
    assert match_positions(tokens, [[frozenset({"5"})]]) == {2, 4}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('ab (")*?~2 ANDORNOT-.é')), max_size=30))
def test_any_input_parses_or_raises_query_error(text: str) -> None:
    try:
        parse_query(text)
        parse_query(text, fuzzy=True)
    except QueryError as exc:
        assert str(exc)


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=20))
def test_any_quoted_text_is_a_valid_query_or_a_clear_error(text: str) -> None:
    query = '"' + text.replace('"', " ") + '"'
    try:
        parse_query(query)
    except QueryError as exc:
        assert "no searchable words" in str(exc) or "wildcards" in str(exc)


# ----------------------------------------------------------------------------- opening, locks


def test_no_index_yet_says_what_to_run(index_dir: Path) -> None:
    with pytest.raises(NoIndexError, match="scandex reindex"):
        open_index(index_dir, writable=False)


def test_one_writer_at_a_time(index_dir: Path) -> None:
    first = open_index(index_dir, writable=True)
    try:
        with pytest.raises(IndexLockedError, match=f"process {os.getpid()}"):
            open_index(index_dir, writable=True)
    finally:
        first.close()
    open_index(index_dir, writable=True).close()


def test_reader_cannot_write(filled, index_dir: Path) -> None:
    reader = open_index(index_dir, writable=False)
    try:
        with pytest.raises(ScandexError, match="read-only"):
            reader.add(TREATY)
    finally:
        reader.close()


def test_empty_folder_becomes_an_index(index_dir: Path) -> None:
    index_dir.mkdir(parents=True)
    open_index(index_dir, writable=True).close()
    reader = open_index(index_dir, writable=False)
    assert (reader.stats().pages, reader.paths()) == (0, set())
    reader.close()


def test_a_folder_with_other_files_is_refused(index_dir: Path) -> None:
    index_dir.mkdir(parents=True)
    (index_dir / "notes.txt").write_text("mine")
    with pytest.raises(ScandexError, match="holds no scandex index"):
        open_index(index_dir, writable=True)
    assert (index_dir / "notes.txt").read_text() == "mine"


# ----------------------------------------------------------------------------- processes

WRITER_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from pathlib import Path
    from test_indexer import make_doc
    from scandex.indexer import open_index

    directory, batches, per_batch = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    index = open_index(directory, writable=True)
    for batch in range(batches):
        for i in range(per_batch):
            index.add(make_doc(f"/w/{{batch}}/{{i}}.png",
                               [f"common batch{{batch}} item{{i}}"] * 40))
        print("begin", batch, flush=True)
        index.commit()
        print("committed", batch, flush=True)
    index.close()
    """
)


@contextlib.contextmanager
def running_writer(tmp_path: Path, index_dir: Path, batches: int, per_batch: int):
    """A writer process adding `batches` commits of `per_batch` one-page documents."""
    script = tmp_path / "writer.py"
    script.write_text(WRITER_SCRIPT.format(tests=str(ROOT / "tests")))
    with subprocess.Popen(
        [sys.executable, "-W", "error", str(script), str(index_dir), str(batches), str(per_batch)],
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            yield process
        finally:
            process.kill()
            process.wait()


def wait_for_line(process: subprocess.Popen, prefix: str) -> str:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(prefix):
            return line
    raise AssertionError(f"writer exited (status {process.wait()}) before printing {prefix!r}")


def test_readers_in_another_process_search_while_a_writer_commits(
    tmp_path: Path, index_dir: Path
) -> None:
    per_batch, batches = 5, 25
    with running_writer(tmp_path, index_dir, batches, per_batch) as writer:
        wait_for_line(writer, "committed 0")
        reader = open_index(index_dir, writable=False)
        seen: list[int] = []
        deadline = time.monotonic() + 60
        while writer.poll() is None and time.monotonic() < deadline:
            pages = reader.stats().pages
            found = len(reader.search("common", limit=10_000))
            # A commit is atomic: a reader sees whole batches, and the same in both views.
            assert pages % per_batch == 0
            assert found % per_batch == 0 and found >= pages  # the search came later
            seen.append(pages)
            # A fresh reader opened during the writes works as well.
            fresh = open_index(index_dir, writable=False)
            assert fresh.stats().pages % per_batch == 0
            fresh.close()
        assert writer.wait(timeout=60) == 0
        assert seen == sorted(seen), "a reader went back in time"
        assert any(0 < n < batches * per_batch for n in seen), "never read during the writes"
        assert len(reader.search("common", limit=10_000)) == batches * per_batch
        reader.close()


@pytest.mark.parametrize("delay_seconds", [0.0, 0.03, 0.2])
def test_sigkill_mid_batch_leaves_an_index_that_opens(
    tmp_path: Path, index_dir: Path, delay_seconds: float
) -> None:
    per_batch = 200  # a commit then takes ~0.1 s, so the kills land inside it or just after
    with running_writer(tmp_path, index_dir, 1000, per_batch) as writer:
        wait_for_line(writer, "committed 1")
        wait_for_line(writer, "begin 3")
        time.sleep(delay_seconds)
        writer.send_signal(signal.SIGKILL)
        assert writer.wait(timeout=30) == -signal.SIGKILL
        assert writer.stdout is not None
        rest = writer.stdout.read()
    if delay_seconds == 0.0:
        # Evidence that this kill hit the writer inside commit(), while it wrote segments.
        assert "committed 3" not in rest
    reader = open_index(index_dir, writable=False)
    pages = reader.stats().pages
    assert pages % per_batch == 0 and pages >= 2 * per_batch
    assert len(reader.search("common", limit=10_000)) == pages
    assert len(reader.search("batch1", limit=10_000)) == per_batch
    reader.close()
    # The lock died with the process, and the next writer cleans up and carries on.
    index = open_index(index_dir, writable=True)
    index.add(make_doc("/after/kill.png", ["survivor"]))
    index.commit()
    assert hit_paths(index.search("survivor")) == ["/after/kill.png"]
    assert index.stats().pages == pages + 1
    index.close()


def test_a_writer_in_another_process_blocks_a_rebuild(tmp_path: Path, index_dir: Path) -> None:
    with running_writer(tmp_path, index_dir, 1000, 5) as writer:
        wait_for_line(writer, "committed 0")
        with pytest.raises(IndexLockedError, match=f"process {writer.pid}"):
            rebuild_index(index_dir, [])


# ----------------------------------------------------------------------------- rebuild


def test_rebuild_swaps_a_new_index_in_while_readers_keep_working(filled, index_dir: Path) -> None:
    from scandex.indexer.whoosh_index import build_and_swap

    reader = open_index(index_dir, writable=False)
    assert hit_paths(reader.search("Geneva")) == [TREATY.path]
    filled.close()  # the daemon would be stopped for a rebuild
    replacement = make_doc("/new/only.png", ["brand new archive"])
    assert build_and_swap(index_dir, [(replacement, None), (replacement, None)]) == 1
    # The open reader follows the swap; a new one sees only the new content.
    assert reader.search("Geneva") == []
    assert hit_paths(reader.search("brand")) == ["/new/only.png"]
    reader.close()
    fresh = open_index(index_dir, writable=False)
    assert fresh.paths() == {"/new/only.png"}
    fresh.close()
    generations = [p for p in index_dir.parent.iterdir() if p.name.startswith(".index.")]
    assert generations == [index_dir.resolve()], "old generations are removed"


def test_a_failed_rebuild_leaves_the_old_index(filled, index_dir: Path) -> None:
    from scandex.indexer.whoosh_index import build_and_swap

    filled.close()

    def documents():
        yield make_doc("/new/a.png", ["partial"]), None
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        build_and_swap(index_dir, documents())
    reader = open_index(index_dir, writable=False)
    assert hit_paths(reader.search("Geneva")) == [TREATY.path]
    assert reader.search("partial") == []
    reader.close()
    assert [p.name for p in index_dir.parent.iterdir() if p.name.startswith(".index.")] == [
        index_dir.resolve().name
    ]


def test_find_hocr_files(tmp_path: Path) -> None:
    scans = tmp_path / "scans"
    (scans / "2024" / ".hidden").mkdir(parents=True)
    (scans / "a.hocr").write_text("old")
    os.utime(scans / "a.hocr", (1_000_000, 1_000_000))
    (scans / "2024" / "b.hocr").write_text("new")
    (scans / "2024" / "b.png").write_text("")
    (scans / "2024" / ".hidden" / "c.hocr").write_text("")
    fallback = tmp_path / "state" / "hocr"
    assert find_hocr_files([scans, fallback]) == [
        (scans / "2024" / "b.hocr").resolve(),
        (scans / "a.hocr").resolve(),
    ]
    assert find_hocr_files([scans], recursive=False) == [(scans / "a.hocr").resolve()]
    assert find_hocr_files([scans], name_pattern="{name}.txt") == []


def test_rebuild_from_hocr_files(tmp_path: Path, index_dir: Path) -> None:
    hocr = pytest.importorskip("scandex.ocr.hocr", reason="scandex/ocr/hocr.py has not landed")
    scans = tmp_path / "scans"
    scans.mkdir()
    files = []
    for doc in (TREATY, LETTER):
        image = scans / Path(doc.path).name
        hocr_path = image.with_suffix(".hocr")
        hocr.write_hocr(Document(str(image), doc.pages), hocr_path)
        files.append(hocr_path)
    broken = scans / "broken.hocr"
    broken.write_text("<html><body><div class='ocr_page' title='nonsense")
    skipped: list[Path] = []
    count = rebuild_index(index_dir, [*files, broken], on_error=lambda p, r: skipped.append(p))
    assert count == 2
    assert skipped == [broken]
    reader = open_index(index_dir, writable=False)
    try:
        (hit,) = reader.search("Geneva")
        assert hit.path == str((scans / "treaty.png").resolve())
        assert hit.lines[0].bbox == TREATY.pages[0].lines[1].bbox
        assert hit.lines[0].words[0].bbox == TREATY.pages[0].lines[1].words[-1].bbox
        assert reader.stats().pages == 3
    finally:
        reader.close()


def test_whoosh_imports_without_warnings(tmp_path: Path) -> None:
    # A fresh bytecode cache makes Python compile whoosh's sources again, which is when
    # invalid escape sequences warn; -W error turns any warning into a failure.
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-X",
            f"pycache_prefix={tmp_path}",
            "-c",
            "import scandex.indexer.whoosh_index",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_a_damaged_index_says_to_reindex_and_a_rebuild_replaces_it(filled, index_dir: Path) -> None:
    from scandex.indexer.whoosh_index import build_and_swap

    filled.close()
    (toc,) = index_dir.resolve().glob("_MAIN_*.toc")
    toc.write_bytes(toc.read_bytes()[:20])
    with pytest.raises(ScandexError, match="rebuild it with `scandex reindex`"):
        open_index(index_dir, writable=False)
    assert build_and_swap(index_dir, [(TREATY, None)]) == 1
    reader = open_index(index_dir, writable=False)
    assert hit_paths(reader.search("Geneva")) == [TREATY.path]
    reader.close()


def test_an_index_with_another_layout_asks_for_a_reindex(index_dir: Path, monkeypatch) -> None:
    from scandex.indexer import whoosh_index

    with monkeypatch.context() as patch:
        patch.setattr(whoosh_index, "LINES", "lines_v0")  # as an older scandex wrote it
        older = open_index(index_dir, writable=True)
        older.add(TREATY)
        older.commit()
        older.close()
    with pytest.raises(ScandexError, match="another version of scandex.*scandex reindex"):
        open_index(index_dir, writable=False)


def test_a_failed_commit_can_be_retried(filled) -> None:
    # A record Whoosh refuses stands in for a disk error in the middle of a commit.
    filled.add(make_doc("/x/good.png", ["recovered"]))
    filled._pending["/x/bad.png"] = [{"no_such_field": "x"}]
    with pytest.raises(ScandexError, match="cannot commit to the index"):
        filled.commit()
    assert filled.search("recovered") == []
    del filled._pending["/x/bad.png"]
    filled.commit()  # Whoosh's own write lock was released by the failed attempt
    assert hit_paths(filled.search("recovered")) == ["/x/good.png"]


def test_every_indexed_line_is_found_by_quoting_it(index_dir: Path) -> None:
    # Round trip through normalization, positions and hit marking, with OCR-ish text:
    # punctuation glued to words, accents, ligatures, digits, mixed case.
    rng = random.Random(5)
    alphabet = "abcdefghijklmnopqrstuvwxyzéüçﬁ0123456789"
    glue = ["", "", "", ".", ",", ";", "'s", ")", "-"]

    def word() -> str:
        core = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9)))
        core = core.capitalize() if rng.random() < 0.3 else core
        return ("(" if rng.random() < 0.1 else "") + core + rng.choice(glue)

    docs = [
        make_doc(f"/rt/{n}.png", [" ".join(word() for _ in range(rng.randint(2, 8)))])
        for n in range(40)
    ]
    index = open_index(index_dir, writable=True)
    try:
        for doc in docs:
            index.add(doc)
        index.commit()
        for doc in docs:
            line = doc.pages[0].lines[0]
            phrase = " ".join(line.text.replace('"', " ").split())
            hits = index.search(f'"{phrase}"', limit=50)
            (hit,) = [h for h in hits if h.path == doc.path]
            (found,) = hit.lines
            assert found.bbox == line.bbox
            expected = [w.bbox for w in line.words if index_tokens(w.text)]
            assert [w.bbox for w in found.words] == expected
    finally:
        index.close()
