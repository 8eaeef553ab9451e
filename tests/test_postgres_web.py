"""`scandex serve` on the PostgreSQL index: the same answers as on Whoosh, page by page."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import PostgresServer, postgres_server
from starlette.testclient import TestClient
from web_scans import index_documents, workspace_config, write_scan

from scandex.config import IndexConfig
from scandex.indexer import open_index_for
from scandex.web import create_app
from scandex.web.library import doc_id

pytestmark = pytest.mark.timeout(120)

LOCAL = "http://127.0.0.1:8421"


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    with postgres_server() as started:
        yield started


def test_the_site_answers_alike_on_both_backends(tmp_path: Path, server: PostgresServer) -> None:
    whoosh = workspace_config(tmp_path)
    postgres = dataclasses.replace(
        whoosh, index=IndexConfig(backend="postgres", url=server.new_database())
    )
    scans = tmp_path / "scans"
    treaty = write_scan(
        scans / "1934" / "treaty.png",
        ["The treaty was signed on August 5, 1934.", "Witnessed in Geneva."],
        ["Annex: Augnst receipts for the treaty."],
    )
    letter = write_scan(scans / "letter.png", ["Your letter of Augnst 12 arrived."])
    documents: list[tuple[object, str | None]] = [(treaty, None), (letter, None)]
    index_documents(whoosh, documents)  # type: ignore[arg-type]
    writer = open_index_for(postgres, writable=True)
    for document, hocr in documents:
        writer.add(document, hocr_path=hocr)  # type: ignore[arg-type]
    writer.commit()
    writer.close()

    with (
        TestClient(create_app(whoosh), base_url=LOCAL) as on_whoosh,
        TestClient(create_app(postgres), base_url=LOCAL) as on_postgres,
    ):
        for params in (
            {"q": "treaty"},
            {"q": "augnst~"},
            {"q": "august", "fuzzy": "1"},
            {"q": '"treaty was signed"'},
            {"q": "treaty", "path": str(scans / "1934")},
            {"q": "treaty OR letter", "limit": "5"},
        ):
            expected = on_whoosh.get("/api/search", params=params)
            answer = on_postgres.get("/api/search", params=params)
            assert answer.status_code == expected.status_code == 200
            strip = [{**hit, "score": None} for hit in expected.json()]
            got = [{**hit, "score": None} for hit in answer.json()]
            key = lambda hit: (hit["path"], hit["page"])  # noqa: E731
            assert sorted(got, key=key) == sorted(strip, key=key), params
        treaty_id = doc_id(treaty.path)
        for url in (f"/view/{treaty_id}/2?q=treaty", f"/iiif/{treaty_id}/manifest"):
            assert on_postgres.get(url).status_code == 200
        assert on_postgres.get(f"/iiif/{treaty_id}/manifest").json() == (
            on_whoosh.get(f"/iiif/{treaty_id}/manifest").json()
        )
        status = on_postgres.get("/api/status").json()
        assert (status["index"]["documents"], status["index"]["pages"]) == (2, 3)
