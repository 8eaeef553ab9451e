"""What the site may show: searches over the index, and scans by opaque id, never by path.

A URL names a scan by `doc_id(path)`, a digest of its indexed path; the id is looked up
among the paths in the index, and the file is served only when it still exists and its real
location (symbolic links followed) lies under a watched folder. So a path in a URL, `..`, a
link pointing out of the folders and a scan deleted from the index all end in NotFound.

The index is read through a small pool of read-only handles, each used by one thread at a
time; a request that finds every handle busy for `timeout_seconds` gets Busy (503) instead of
queueing forever behind slow searches.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from scandex.config import Config
from scandex.errors import QueryError, ScandexError
from scandex.indexer import Index, SearchHit, StoredPage, open_index_for
from scandex.indexer.query import parse_query, positive_leaves

DOC_ID_CHARS = 20
MAX_QUERY_CHARS = 500
MAX_QUERY_WORDS = 32
MAX_LIMIT = 100
MAX_OFFSET = 1000
# Unknown ids make the id table be rebuilt from the index, at most this often.
ID_REFRESH_SECONDS = 0.25


MISSING = "The scan is missing: moved, deleted, or no longer in a watched folder."


class NotFound(ScandexError):
    """No scan the site may serve has this id (or the page or file asked for)."""


class Busy(ScandexError):
    """The index is busy with other searches; try again shortly."""


def doc_id(path: str) -> str:
    """The stable, opaque id of the scan indexed under `path`."""
    digest = hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()
    return digest[:DOC_ID_CHARS]


@dataclass(frozen=True)
class ResultPage:
    hits: list[SearchHit]
    more: bool  # further hits after these


@dataclass(frozen=True)
class Scan:
    """An indexed scan the site may serve."""

    id: str
    indexed_path: str  # as stored in the index
    file: Path | None  # the image's real location under a watched folder; None if it is not
    problem: str  # why `file` is None
    pages: tuple[StoredPage, ...]
    hocr: Path | None  # its hOCR file, when it exists where scandex writes them
    pdf: Path | None  # its searchable PDF (NAME.ocr.pdf beside the hOCR), when there is one

    def page(self, number: int) -> StoredPage:
        for page in self.pages:
            if page.page == number:
                return page
        raise NotFound(f"{Path(self.indexed_path).name} has no page {number}")


class Library:
    def __init__(self, config: Config, *, readers: int = 2, timeout_seconds: float = 10.0) -> None:
        self.config = config
        self.timeout_seconds = timeout_seconds
        self._scan_roots = tuple(_real(root) for root in config.watch.paths)
        self._hocr_roots = (*self._scan_roots, _real(config.fallback_hocr_dir))
        self._readers = readers
        self._pool: queue.Queue[Index] = queue.Queue()
        self._opened = 0
        self._open_lock = threading.Lock()
        self._ids: dict[str, str] = {}
        self._ids_refreshed = 0.0
        self._ids_lock = threading.Lock()

    # -- the index handles

    @contextlib.contextmanager
    def _index(self) -> Iterator[Index]:
        index = self._take()
        try:
            yield index
        finally:
            self._pool.put(index)

    def _take(self) -> Index:
        try:
            return self._pool.get_nowait()
        except queue.Empty:
            pass
        with self._open_lock:
            if self._opened < self._readers:
                index = open_index_for(self.config, writable=False)  # NoIndexError
                self._opened += 1
                return index
        try:
            return self._pool.get(timeout=self.timeout_seconds)
        except queue.Empty:
            raise Busy("the index is busy with other searches; try again in a moment") from None

    def close(self) -> None:
        with self._open_lock:
            while self._opened:
                try:
                    self._pool.get(timeout=self.timeout_seconds).close()
                except queue.Empty:
                    break  # a search still running keeps its handle until the process ends
                self._opened -= 1

    # -- searching

    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        offset: int = 0,
        path_prefix: str | None = None,
        fuzzy: bool = False,
    ) -> ResultPage:
        """Hits `offset` to `offset + limit`, best first; QueryError for bad input."""
        check_query(query, fuzzy=fuzzy)
        if not 1 <= limit <= MAX_LIMIT:
            raise QueryError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
        if not 0 <= offset <= MAX_OFFSET:
            raise QueryError(f"results start at most at {MAX_OFFSET}, not {offset}")
        with self._index() as index:
            hits = index.search(
                query, limit=offset + limit + 1, path_prefix=path_prefix, fuzzy=fuzzy
            )
        return ResultPage(hits[offset : offset + limit], more=len(hits) > offset + limit)

    def hits_in(self, scan: Scan, query: str, *, fuzzy: bool = False) -> dict[int, SearchHit]:
        """Every page of `scan` that matches `query`, by page number."""
        check_query(query, fuzzy=fuzzy)
        with self._index() as index:
            hits = index.search(
                query, limit=max(1, len(scan.pages)), path_prefix=scan.indexed_path, fuzzy=fuzzy
            )
        return {hit.page: hit for hit in hits if hit.path == scan.indexed_path}

    # -- scans by id

    def scan(self, id: str) -> Scan:
        """The scan with this id, if the site may serve it; NotFound otherwise."""
        path = self._path_of(id)
        if path is None:
            raise NotFound("no such scan in the index")
        with self._index() as index:
            pages = index.pages(path)
        if not pages:
            raise NotFound("this scan is no longer in the index")
        file = self.servable(path)
        problem = "" if file else MISSING
        hocr = _under(pages[0].hocr_path, self._hocr_roots) if pages[0].hocr_path else None
        pdf = None
        if file and hocr:  # the searchable PDF scandex writes beside the hOCR
            from scandex.daemon.searchable_pdfs import pdf_beside

            pdf = _under(str(pdf_beside(hocr)), self._hocr_roots)
        return Scan(id, path, file, problem, tuple(pages), hocr, pdf)

    def servable(self, path: str) -> Path | None:
        """The real file behind an indexed path, if it exists under a watched folder."""
        return _under(path, self._scan_roots)

    def _path_of(self, id: str) -> str | None:
        if len(id) != DOC_ID_CHARS or not all(c in "0123456789abcdef" for c in id):
            return None
        with self._ids_lock:
            path = self._ids.get(id)
            if path is None and time.monotonic() - self._ids_refreshed > ID_REFRESH_SECONDS:
                with self._index() as index:
                    paths = index.paths()
                self._ids = {doc_id(p): p for p in paths}
                self._ids_refreshed = time.monotonic()
                path = self._ids.get(id)
        return path


def check_query(query: str, *, fuzzy: bool) -> None:
    """QueryError for a query too long or too wide to answer quickly (and for bad syntax)."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is longer than {MAX_QUERY_CHARS} characters")
    words = sum(1 for _ in positive_leaves(parse_query(query, fuzzy=fuzzy)))
    if words > MAX_QUERY_WORDS:
        raise QueryError(f"the query has {words} words and phrases; at most {MAX_QUERY_WORDS}")


def _real(path: Path) -> Path:
    return Path(path).resolve()


def _under(path: str, roots: tuple[Path, ...]) -> Path | None:
    """`path` resolved, when it is an existing regular file under one of `roots`."""
    try:
        real = Path(path).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a loop of links
        return None
    if not any(real.is_relative_to(root) for root in roots):
        return None
    return real if real.is_file() else None


__all__ = ["MISSING", "Busy", "Library", "NotFound", "ResultPage", "Scan", "doc_id"]
