"""What travels through Redis: job tickets, job ids, queue names, and results, all as JSON.

Pure functions over dataclasses: no Redis, no RQ, no files. A ticket names a scan by the
daemon's watched folder and the path below it, so a worker that mounts the folder elsewhere
(`queue.path_map`) finds it; the paths inside the result (the hOCR written) come back the
same way. The page model travels losslessly (`document_to_wire`), so what the daemon
indexes is exactly what the worker wrote into the hOCR.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from scandex.page import BBox, Block, Char, Document, Line, Page, Region, Word

WIRE_VERSION = 1
# A job runs in the worker process that holds the engine, which cannot beat while it works:
# RQ frees the job of a worker that died this long after the job's timeout.
HEARTBEAT_GRACE_SECONDS = 10
# The RQ job function, by name (RQ's JSONSerializer stores functions by their dotted name).
JOB_FUNCTION = "scandex.queue.worker.ocr_job"


def queue_name(name: str, model_sha256: str) -> str:
    """The queue of one model: only workers that loaded that model take its jobs."""
    return f"{name}.{model_sha256[:16]}"


def job_id(name: str, content_sha256: str, model_sha256: str) -> str:
    """One id per (content, model): the same scan is never OCRed twice at once. (RQ allows
    letters, digits, '_' and '-' in ids; the model's hash comes last.)"""
    return f"{name.replace('.', '_')}-{content_sha256}-{model_sha256[:16]}"


@dataclass(frozen=True)
class Ticket:
    """A job: which scan to read (a reference, never its bytes) and what to write."""

    root: str  # the daemon's watched folder holding the scan
    path: str  # the scan, relative to root
    size: int  # bytes, when it settled
    sha256: str  # the content that settled: the worker OCRs exactly this
    model: str  # SHA-256 of the model to read it with
    hocr: str  # where its hOCR goes, relative to root (beside the scan)
    pdf: bool = False  # [output] pdf: a searchable PDF beside the hOCR
    pdfa: bool = False  # [output] pdfa

    @property
    def scan(self) -> str:
        """The scan's absolute path as the daemon sees it."""
        return str(Path(self.root) / self.path)

    def to_wire(self) -> dict[str, Any]:
        return {
            "v": WIRE_VERSION,
            "root": self.root,
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "model": self.model,
            "hocr": self.hocr,
            "pdf": self.pdf,
            "pdfa": self.pdfa,
        }

    @staticmethod
    def from_wire(data: dict[str, Any]) -> Ticket:
        """The ticket in `data`; ValueError for anything else (another version, a path that
        climbs out of its folder)."""
        if not isinstance(data, dict) or data.get("v") != WIRE_VERSION:
            raise ValueError(f"not a scandex job of version {WIRE_VERSION}")
        ticket = Ticket(
            str(data["root"]),
            str(data["path"]),
            int(data["size"]),
            str(data["sha256"]),
            str(data["model"]),
            str(data["hocr"]),
            bool(data.get("pdf", False)),
            bool(data.get("pdfa", False)),
        )
        for relative in (ticket.path, ticket.hocr):
            parts = PurePosixPath(relative).parts
            if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
                raise ValueError(f"not a path inside the watched folder: {relative!r}")
        if not Path(ticket.root).is_absolute():
            raise ValueError(f"not an absolute folder: {ticket.root!r}")
        return ticket


def ticket_for(
    roots: tuple[Path, ...],
    scan: str,
    hocr_path: str,
    size: int,
    sha256: str,
    model_sha256: str,
    *,
    pdf: bool = False,
    pdfa: bool = False,
) -> Ticket:
    """The ticket for a scan under one of the watched `roots` (the innermost that holds it)."""
    root = max((r for r in roots if Path(scan).is_relative_to(r)), key=lambda r: len(r.parts))
    return Ticket(
        str(root),
        str(Path(scan).relative_to(root)),
        size,
        sha256,
        model_sha256,
        str(Path(hocr_path).relative_to(root)),
        pdf,
        pdfa,
    )


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Outcome:
    """What a worker reports for a ticket (scandex.daemon.worker.JobResult, as JSON)."""

    document: Document | None = None
    hocr: str | None = None  # the hOCR it wrote, relative to the ticket's root; None: not
    fallback_reason: str | None = None  # why it could not write the hOCR beside the scan
    error: str | None = None
    permanent: bool = False
    seconds: float = 0.0
    model: str = ""  # ModelRef.id of the model that read it
    partial: str = ""  # what could not be read of it (PDF pages), or not written
    text_pages: tuple[int, ...] = ()  # PDF pages read from their own text
    worker: str = ""  # the worker's name (host:pid)

    def to_wire(self) -> dict[str, Any]:
        return {
            "v": WIRE_VERSION,
            "document": document_to_wire(self.document) if self.document else None,
            "hocr": self.hocr,
            "fallback_reason": self.fallback_reason,
            "error": self.error,
            "permanent": self.permanent,
            "seconds": round(self.seconds, 4),
            "model": self.model,
            "partial": self.partial,
            "text_pages": list(self.text_pages),
            "worker": self.worker,
        }

    @staticmethod
    def from_wire(data: dict[str, Any]) -> Outcome:
        if not isinstance(data, dict) or data.get("v") != WIRE_VERSION:
            raise ValueError(f"not a scandex result of version {WIRE_VERSION}")
        document = data.get("document")
        return Outcome(
            document=document_from_wire(document) if document else None,
            hocr=data.get("hocr"),
            fallback_reason=data.get("fallback_reason"),
            error=data.get("error"),
            permanent=bool(data.get("permanent", False)),
            seconds=float(data.get("seconds", 0.0)),
            model=str(data.get("model", "")),
            partial=str(data.get("partial", "")),
            text_pages=tuple(int(n) for n in data.get("text_pages", ())),
            worker=str(data.get("worker", "")),
        )


# ----------------------------------------------------------------------------- the page model


def document_to_wire(doc: Document) -> dict[str, Any]:
    """The whole page model as JSON-ready lists: every field of every page, block, line,
    word and character (document_from_wire gives back an equal Document)."""
    return {"path": doc.path, "pages": [_page(page) for page in doc.pages]}


def _page(page: Page) -> list[Any]:
    return [
        page.number,
        page.width,
        page.height,
        page.angle_deg,
        page.dpi,
        [[block.bbox.as_list(), block.kind, [_line(line) for line in block.lines]]
         for block in page.blocks],
        [[region.kind, region.bbox.as_list()] for region in page.regions],
        list(page.size_pt) if page.size_pt is not None else None,
    ]  # fmt: skip


def _line(line: Line) -> list[Any]:
    baseline = list(line.baseline) if line.baseline is not None else None
    words = [_word(word) for word in line.words]
    return [line.bbox.as_list(), line.text, line.confidence, words, baseline]


def _word(word: Word) -> list[Any]:
    chars = [
        [c.text, c.bbox.as_list(), c.confidence, [list(a) for a in c.alternatives]]
        for c in word.chars
    ]
    return [word.text, word.bbox.as_list(), word.confidence, chars, list(word.alternatives)]


def document_from_wire(data: dict[str, Any]) -> Document:
    return Document(str(data["path"]), tuple(_page_from(page) for page in data["pages"]))


def _page_from(data: list[Any]) -> Page:
    number, width, height, angle, dpi, blocks, regions, size_pt = data
    return Page(
        number,
        width,
        height,
        angle,
        dpi,
        tuple(
            Block(BBox(*bbox), tuple(_line_from(line) for line in lines), kind)
            for bbox, kind, lines in blocks
        ),
        tuple(Region(kind, BBox(*bbox)) for kind, bbox in regions),
        (size_pt[0], size_pt[1]) if size_pt is not None else None,
    )


def _line_from(data: list[Any]) -> Line:
    bbox, text, confidence, words, baseline = data
    return Line(
        BBox(*bbox),
        text,
        confidence,
        tuple(_word_from(word) for word in words),
        (baseline[0], baseline[1]) if baseline is not None else None,
    )


def _word_from(data: list[Any]) -> Word:
    text, bbox, confidence, chars, alternatives = data
    return Word(
        text,
        BBox(*bbox),
        confidence,
        tuple(
            Char(c_text, BBox(*c_bbox), c_conf, tuple((a, p) for a, p in c_alts))
            for c_text, c_bbox, c_conf, c_alts in chars
        ),
        tuple(alternatives),
    )
