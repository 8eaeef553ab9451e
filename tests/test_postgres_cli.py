"""`scandex reindex --to postgres`, then `scandex search` and `scandex status` on the PostgreSQL
index: the same JSON as on Whoosh (but for the scores), against a real server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import PostgresServer, postgres_server
from test_search_cli import invoke, make_doc

from scandex.errors import ExitCode, ScandexError
from scandex.indexer import NoIndexError
from scandex.ocr.hocr import write_hocr

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    with postgres_server() as started:
        yield started


@pytest.fixture
def workspace(tmp_path: Path, server: PostgresServer) -> Path:
    """A checkout whose scans have hOCR beside them, and a config naming an empty database."""
    scans = tmp_path / "scans"
    (scans / "2024").mkdir(parents=True)
    docs = [
        make_doc(
            scans / "2024" / "treaty.png",
            ["The treaty was signed on August 5, 1934.", "Witnessed in Geneva."],
            ["Annex: the Augnst receipts."],
        ),
        make_doc(scans / "letter.png", ["Your letter of Augnst 12 arrived.", "Yours, J."]),
    ]
    for doc in docs:
        Path(doc.path).write_bytes(b"a scan")
        write_hocr(doc, Path(doc.path).with_suffix(".hocr"), model="test.onnx sha256:00")
    url = server.new_database()
    (tmp_path / "whoosh.toml").write_text(
        f'state_dir = "state"\n[watch]\npaths = ["scans"]\n[index]\nurl = "{url}"\n',
        encoding="utf-8",
    )
    (tmp_path / "config.toml").write_text(
        f'state_dir = "state"\n[watch]\npaths = ["scans"]\n'
        f'[index]\nbackend = "postgres"\nurl = "{url}"\n',
        encoding="utf-8",
    )
    return tmp_path


def _invoke(workspace: Path, config: str, *args: str):
    from typer.testing import CliRunner

    from scandex.cli import app

    return CliRunner().invoke(app, [*args, "--config", str(workspace / config)])


def without_scores(output: str) -> list[dict[str, object]]:
    hits = json.loads(output)
    for hit in hits:
        assert hit["score"] > 0
        hit["score"] = None
    return sorted(hits, key=lambda hit: (hit["path"], hit["page"]))


def test_moving_an_installation_to_postgres(workspace: Path) -> None:
    # The Whoosh installation, and the same hOCR files moved into PostgreSQL.
    whoosh = _invoke(workspace, "whoosh.toml", "reindex")
    assert whoosh.exit_code == 0, whoosh.output
    moved = _invoke(workspace, "whoosh.toml", "reindex", "--to", "postgres")
    assert moved.exit_code == 0, moved.output
    assert "indexed 2 scans (3 pages) from 2 hOCR files into postgresql://" in moved.stdout
    assert 'set index.backend = "postgres"' in moved.stdout

    for query in ("august", "augnst~", '"treaty was signed"', "geneva OR letter", "yours"):
        for extra in ([], ["--fuzzy"], ["--path", str(workspace / "scans" / "2024")]):
            args = ["search", query, "--format", "json", *extra]
            on_whoosh = _invoke(workspace, "whoosh.toml", *args)
            on_postgres = invoke(workspace, *args)
            assert on_postgres.exit_code == 0, on_postgres.output
            assert without_scores(on_postgres.stdout) == without_scores(on_whoosh.stdout)

    status = invoke(workspace, "status", "--format", "json")
    assert status.exit_code == 0, status.output
    index = json.loads(status.stdout)["index"]
    assert (index["documents"], index["pages"]) == (2, 3)
    assert index["size_bytes"] > 0


def test_reindex_never_trades_a_postgres_index_for_nothing(workspace: Path) -> None:
    assert invoke(workspace, "reindex").exit_code == 0
    for hocr in (workspace / "scans").rglob("*.hocr"):
        hocr.unlink()
    refused = invoke(workspace, "reindex").exception
    assert isinstance(refused, ScandexError) and refused.exit_code == ExitCode.USAGE
    assert "keeping the current index of 2 scans in postgresql://" in str(refused)
    hits = invoke(workspace, "search", "geneva", "--format", "json")
    assert len(json.loads(hits.stdout)) == 1


def test_search_before_any_index_says_what_to_run(workspace: Path) -> None:
    error = invoke(workspace, "search", "geneva").exception
    assert isinstance(error, NoIndexError)
    assert "no index at postgresql://" in str(error) and "scandex reindex" in str(error)
