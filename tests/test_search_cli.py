"""`scandex search` and `scandex reindex` on a real config file and a real index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scandex.cli import app
from scandex.cli.search import PLAIN_MARK, highlight, path_prefix
from scandex.config import load_config
from scandex.indexer import HitLine, HitWord, open_index
from scandex.page import BBox, Block, Document, Line, Page, Word

runner = CliRunner()


def make_doc(path: Path, *pages: list[str]) -> Document:
    """Word boxes follow from the text: 12 px per character, 30 px per line."""
    built_pages = []
    for number, texts in enumerate(pages, start=1):
        lines = []
        for row, text in enumerate(texts):
            top, x, words = 100 + 30 * row, 50, []
            for token in text.split():
                words.append(Word(token, BBox(x, top, x + 12 * len(token), top + 24), 0.9))
                x += 12 * len(token) + 12
            lines.append(Line(BBox.union_all(w.bbox for w in words), text, 0.9, tuple(words)))
        area = BBox.union_all(line.bbox for line in lines)
        built_pages.append(Page(number, 1700, 2200, blocks=(Block(area, tuple(lines)),)))
    return Document(str(path), tuple(built_pages))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A folder with config.toml, scans/ and an empty state dir, like a user's checkout."""
    (tmp_path / "scans" / "2024").mkdir(parents=True)
    (tmp_path / "scans" / "2025").mkdir()
    (tmp_path / "config.toml").write_text(
        'state_dir = "state"\n[watch]\npaths = ["scans"]\n', encoding="utf-8"
    )
    return tmp_path


@pytest.fixture
def indexed(workspace: Path) -> dict[str, Document]:
    scans = workspace / "scans"
    docs = {
        "treaty": make_doc(
            scans / "2024" / "treaty.png",
            ["The treaty was signed on August 5, 1934.", "Witnessed in Geneva."],
        ),
        "letter": make_doc(scans / "2025" / "letter.png", ["Your letter of Augnst 12 arrived."]),
        "notes": make_doc(scans / "2025" / "notes.png", ["August August August notes"]),
    }
    index = open_index(load_config(workspace / "config.toml").index_dir, writable=True)
    for doc in docs.values():
        index.add(doc)
    index.commit()
    index.close()
    return docs


def invoke(workspace: Path, *args: str):
    return runner.invoke(app, [*args, "--config", str(workspace / "config.toml")])


def run_scandex(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real console entry point, to see exactly what a user sees."""
    return subprocess.run(
        [sys.executable, "-W", "error", "-m", "scandex", *args],
        cwd=workspace,
        env={**os.environ, "SCANDEX_CONFIG": str(workspace / "config.toml")},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_json_output_schema_and_boxes(workspace: Path, indexed) -> None:
    result = invoke(workspace, "search", "Geneva", "--format", "json")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    treaty = indexed["treaty"]
    line = treaty.pages[0].lines[1]
    assert hits == [
        {
            "path": treaty.path,
            "page": 1,
            "score": hits[0]["score"],
            "lines": [
                {
                    "text": "Witnessed in Geneva.",
                    "bbox": line.bbox.as_list(),
                    "words": [{"text": "Geneva.", "bbox": line.words[-1].bbox.as_list()}],
                }
            ],
        }
    ]
    assert isinstance(hits[0]["score"], float) and hits[0]["score"] > 0


def test_json_output_is_an_empty_list_without_matches(workspace: Path, indexed) -> None:
    result = invoke(workspace, "search", "zeppelin", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


def test_text_output_marks_the_hit_and_gives_the_box(workspace: Path, indexed) -> None:
    result = invoke(workspace, "search", '"August 5"')
    assert result.exit_code == 0, result.output
    treaty = indexed["treaty"]
    box = ",".join(map(str, treaty.pages[0].lines[0].bbox.as_list()))
    assert result.stdout.splitlines() == [
        f"{treaty.path}  page 1  (score {result.stdout.split('score ')[1].split(')')[0]})",
        f"    The treaty was signed on [[August]] [[5,]] 1934.  [{box}]",
    ]


def test_ranking_limit_fuzzy_and_path(workspace: Path, indexed) -> None:
    def paths(*args: str) -> list[str]:
        result = invoke(workspace, "search", *args, "--format", "json")
        assert result.exit_code == 0, result.output
        return [Path(hit["path"]).name for hit in json.loads(result.stdout)]

    assert paths("august") == ["notes.png", "treaty.png"]
    assert paths("august", "--limit", "1") == ["notes.png"]
    assert sorted(paths("august", "--fuzzy")) == ["letter.png", "notes.png", "treaty.png"]
    fuzzy_hits = paths("Augnst~")
    assert fuzzy_hits[0] == "letter.png"  # the exact spelling first
    assert sorted(fuzzy_hits) == ["letter.png", "notes.png", "treaty.png"]
    assert sorted(paths("august", "--fuzzy", "--path", str(workspace / "scans" / "2025"))) == [
        "letter.png",
        "notes.png",
    ]


def test_path_prefix_resolves_relative_folders(workspace: Path, monkeypatch) -> None:
    monkeypatch.chdir(workspace)
    assert path_prefix("scans/2024") == str((workspace / "scans" / "2024").resolve()) + os.sep
    # A folder means its files: "2024" must not also select "2024-old".
    assert path_prefix("scans/20") == str((workspace / "scans" / "20").resolve())


def test_no_index_tells_the_user_what_to_run(workspace: Path) -> None:
    result = run_scandex(workspace, "search", "anything")
    assert result.returncode == 1  # not a usage error: the index is simply not built yet
    assert "Traceback" not in result.stderr
    assert "no index at" in result.stderr
    assert "scandex run" in result.stderr and "scandex reindex" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("query", "message"),
    [('"August 5', "unclosed quote"), ("(a OR b", 'missing ")"'), ("a AND", "needs a word")],
)
def test_bad_query_is_one_line_without_traceback(
    workspace: Path, indexed, query: str, message: str
) -> None:
    result = run_scandex(workspace, "search", query)
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("scandex: error: ") and message in line


def test_highlight_marks_whole_words_only() -> None:
    line = HitLine(
        "was a day, a fine day",
        BBox(0, 0, 10, 10),
        (HitWord("a", BBox(0, 0, 1, 1)), HitWord("day,", BBox(0, 0, 1, 1))),
    )
    assert highlight(line, PLAIN_MARK) == "was [[a]] [[day,]] a fine day"


def test_reindex_refuses_while_another_process_writes(workspace: Path, indexed) -> None:
    (workspace / "scans" / "2024" / "treaty.hocr").write_text("not read: the lock comes first")
    daemon_like = open_index(load_config(workspace / "config.toml").index_dir, writable=True)
    try:
        result = run_scandex(workspace, "reindex")
    finally:
        daemon_like.close()
    assert result.returncode == 75  # ExitCode.TEMPORARY: try again when the writer is done
    assert "being written by process" in result.stderr and "Traceback" not in result.stderr
    # The index is untouched.
    assert json.loads(invoke(workspace, "search", "Geneva", "--format", "json").stdout) != []


def test_reindex_rebuilds_from_hocr_files(workspace: Path) -> None:
    hocr = pytest.importorskip("scandex.ocr.hocr", reason="scandex/ocr/hocr.py has not landed")
    scans = workspace / "scans"
    treaty = make_doc(scans / "2024" / "treaty.png", ["Signed in Geneva, 1934."])
    letter = make_doc(scans / "2025" / "letter.png", ["A letter from Lausanne."], ["Page two."])
    hocr.write_hocr(treaty, scans / "2024" / "treaty.hocr")
    hocr.write_hocr(letter, scans / "2025" / "letter.hocr")
    for doc in (treaty, letter):
        Path(doc.path).write_bytes(b"the scan")  # reindex indexes only scans that exist
    result = run_scandex(workspace, "reindex")
    assert result.returncode == 0, result.stderr
    assert "indexed 2 scans (3 pages) from 2 hOCR files" in result.stdout
    hits = json.loads(invoke(workspace, "search", "Lausanne", "--format", "json").stdout)
    assert [(hit["path"], hit["page"]) for hit in hits] == [(letter.path, 1)]
    word = letter.pages[0].lines[0].words[-1]
    assert hits[0]["lines"][0]["words"] == [{"text": word.text, "bbox": word.bbox.as_list()}]


def test_reindex_without_hocr_files_keeps_the_index(workspace: Path, indexed) -> None:
    result = run_scandex(workspace, "reindex")
    assert result.returncode == 2
    assert "found no hOCR files" in result.stderr and "keeping the current index of 3" in (
        result.stderr
    )
    assert json.loads(invoke(workspace, "search", "Geneva", "--format", "json").stdout) != []


def test_reindex_without_hocr_files_and_without_index_makes_an_empty_one(workspace: Path) -> None:
    result = run_scandex(workspace, "reindex")
    assert result.returncode == 0, result.stderr
    assert "indexed 0 scans (0 pages)" in result.stdout
    assert json.loads(invoke(workspace, "search", "Geneva", "--format", "json").stdout) == []


def test_reindex_indexes_only_hocr_scandex_wrote_for_scans_it_watches(workspace: Path) -> None:
    from scandex.ocr.hocr import to_hocr, write_hocr

    scans, state = workspace / "scans", workspace / "state"

    def scan(path: Path, text: str, hocr_path: Path | None = None) -> Document:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"the scan")
        doc = make_doc(path, [text])
        write_hocr(doc, hocr_path or path.with_suffix(".hocr"))
        return doc

    treaty = scan(scans / "2024" / "treaty.png", "Signed in Geneva")
    # A read-only folder's hOCR lives under state_dir/hocr, under the folder's absolute path.
    read_only = scans / "2026" / "ro.png"
    fallback = state / "hocr" / read_only.parent.relative_to("/") / "ro.hocr"
    fallback.parent.mkdir(parents=True)
    scan(read_only, "Kept in Bern", fallback)
    letter = scan(scans / "2025" / "letter.png", "From Lausanne")
    planted = {
        # An image outside the watched folders, named by absolute path.
        scans / "2025" / "planted.hocr": make_doc(workspace / "private.png", ["Secret Zurich"]),
        # Claims another scan's image from a place scandex never puts that image's hOCR.
        scans / "2025" / "impostor.hocr": make_doc(Path(letter.path), ["Forged Lugano"]),
        # An image that does not exist.
        scans / "2025" / "orphan.hocr": make_doc(scans / "2025" / "orphan.png", ["Lost Basel"]),
        # Not a scan the daemon reads (watch.patterns).
        scans / "2025" / "notes.hocr": make_doc(scans / "2025" / "notes.txt", ["Notes Chur"]),
        # Under an ignored folder (watch.ignore: hidden names): never even opened.
        scans / ".trash" / "old.hocr": make_doc(scans / ".trash" / "old.png", ["Old Sion"]),
    }
    (workspace / "private.png").write_bytes(b"private")
    (scans / "2025" / "notes.txt").write_text("notes")
    (scans / ".trash").mkdir()
    (scans / ".trash" / "old.png").write_bytes(b"old")
    for hocr_path, doc in planted.items():
        write_hocr(doc, hocr_path)
    # Someone else's hOCR (tesseract's) for a scan scandex watches.
    (scans / "2025" / "tess.png").write_bytes(b"the scan")
    foreign = to_hocr(make_doc(scans / "2025" / "tess.png", ["Tesseract Thun"]))
    foreign = foreign.replace('content="scandex ', 'content="tesseract ')
    (scans / "2025" / "tess.hocr").write_text(foreign, encoding="utf-8")

    result = run_scandex(workspace, "reindex")
    assert result.returncode == 0, result.stderr
    assert "indexed 3 scans (3 pages) from 3 hOCR files (5 ignored)" in result.stdout
    for word in ("Geneva", "Bern", "Lausanne"):
        assert json.loads(invoke(workspace, "search", word, "--format", "json").stdout)
    for word in ("Zurich", "Lugano", "Basel", "Chur", "Sion", "Thun"):
        assert json.loads(invoke(workspace, "search", word, "--format", "json").stdout) == []
    reasons = result.stderr
    assert f"its image {workspace / 'private.png'} is outside the watched folders" in reasons
    assert f"it is not where scandex puts the hOCR of {letter.path}" in reasons
    assert "orphan.png is missing" in reasons
    assert "notes.txt is not a scan to index" in reasons
    assert "tess.hocr: not written by scandex" in reasons
    assert ".trash" not in reasons
    assert str(treaty.path) not in reasons

    # Nothing left that the rules accept: the index is kept, not emptied.
    for path in (scans / "2024" / "treaty.png", read_only, Path(letter.path)):
        path.unlink()
    result = run_scandex(workspace, "reindex")
    assert result.returncode == 2
    assert "keeping the current index of 3 scans" in result.stderr
    assert json.loads(invoke(workspace, "search", "Geneva", "--format", "json").stdout)
