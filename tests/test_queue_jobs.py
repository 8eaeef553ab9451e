"""What travels through Redis: tickets, ids and results as JSON, the page model losslessly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scandex.page import BBox, Block, Char, Document, Line, Page, Region, Word
from scandex.queue.jobs import (
    Outcome,
    Ticket,
    document_from_wire,
    document_to_wire,
    job_id,
    queue_name,
    ticket_for,
)

boxes = st.builds(
    BBox, *(st.integers(min_value=0, max_value=5000) for _ in range(4))
)  # fmt: skip
unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
texts = st.text(max_size=8)
chars = st.builds(Char, texts, boxes, unit, st.lists(st.tuples(texts, unit), max_size=2).map(tuple))
words = st.builds(
    Word, texts, boxes, unit, st.lists(chars, max_size=3).map(tuple),
    st.lists(texts, max_size=2).map(tuple),
)  # fmt: skip
lines = st.builds(
    Line, boxes, texts, unit, st.lists(words, max_size=3).map(tuple),
    st.none() | st.tuples(st.floats(-1, 1), st.floats(-50, 50)),
)  # fmt: skip
blocks = st.builds(
    Block, boxes, st.lists(lines, max_size=3).map(tuple), st.sampled_from(["text", "table"])
)
regions = st.builds(Region, st.sampled_from(["photo", "separator"]), boxes)
pages = st.builds(
    Page,
    st.integers(1, 2000),
    st.integers(1, 10000),
    st.integers(1, 10000),
    st.floats(-10, 10),
    st.none() | st.floats(50, 1200),
    st.lists(
        st.builds(
            Block, boxes, st.lists(lines, max_size=3).map(tuple), st.sampled_from(["text", "table"])
        ),
        max_size=2,
    ).map(tuple),
    st.lists(st.builds(Region, st.sampled_from(["photo", "separator"]), boxes), max_size=2).map(
        tuple
    ),
    st.none() | st.tuples(st.floats(1, 2000), st.floats(1, 2000)),
)


@given(st.builds(Document, st.text(min_size=1), st.lists(pages, max_size=2).map(tuple)))
def test_the_page_model_survives_json_exactly(doc: Document) -> None:
    assert document_from_wire(json.loads(json.dumps(document_to_wire(doc)))) == doc


def test_ids_and_queues_follow_content_and_model() -> None:
    a, b, m = "a" * 64, "b" * 64, "c" * 64
    assert job_id("scan.x", a, m) == job_id("scan.x", a, m) != job_id("scan.x", b, m)
    assert job_id("scan.x", a, m) != job_id("scan.x", a, "d" * 64)
    assert all(ch.isalnum() or ch in "-_" for ch in job_id("scan.x", a, m))  # RQ's rule
    assert queue_name("scandex", m) != queue_name("scandex", "d" * 64)


def test_a_ticket_names_the_scan_below_its_watched_folder() -> None:
    roots = (Path("/srv/scans"), Path("/srv/scans-2"))
    ticket = ticket_for(roots, "/srv/scans-2/1934/a.png", "/srv/scans-2/1934/a.hocr", 10, "a", "m")
    assert (ticket.root, ticket.path, ticket.hocr) == ("/srv/scans-2", "1934/a.png", "1934/a.hocr")
    assert Ticket.from_wire(json.loads(json.dumps(ticket.to_wire()))) == ticket
    assert ticket.scan == "/srv/scans-2/1934/a.png"


@pytest.mark.parametrize(
    "change",
    [{"path": "../etc/passwd"}, {"hocr": "/etc/x.hocr"}, {"root": "scans"}, {"v": 99}],
)
def test_a_ticket_that_climbs_out_is_refused(change: dict[str, object]) -> None:
    wire = Ticket("/srv/scans", "a.png", 1, "s", "m", "a.hocr").to_wire() | change
    with pytest.raises(ValueError):
        Ticket.from_wire(wire)


def test_an_outcome_round_trips() -> None:
    doc = Document("/srv/scans/a.png", (Page(1, 10, 10),))
    outcome = Outcome(doc, "a.hocr", None, None, False, 1.5, "m sha256:x", "", (2,), "w.1")
    assert Outcome.from_wire(json.loads(json.dumps(outcome.to_wire()))) == outcome
