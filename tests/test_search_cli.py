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
