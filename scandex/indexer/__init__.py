"""The search index: one interface, two implementations, and a rebuild from hOCR.

    index = open_index_for(config, writable=True)          # only one writer process at a time
    index.add(document, hocr_path="/scans/a.hocr")         # replaces that path's pages
    index.commit()                                         # a batch becomes visible atomically
    index.search('"August 5" OR Augnst~', limit=10)        # -> [SearchHit(path, page, ...)]

Readers (`writable=False`) in other processes search while the writer commits. `[index]
backend` chooses the implementation: Whoosh files in state_dir/index (`whoosh_index`, the
only module that imports whoosh) or tables in PostgreSQL (`postgres_index`, the only one
that imports psycopg); both answer with the same hits, lines and boxes. Each is imported
only when an index is opened, so `scandex --help` stays fast.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from scandex.errors import ConfigError, ExitCode, ScandexError
from scandex.indexer.layout import IndexLockedError
from scandex.page import BBox, Document

if TYPE_CHECKING:
    from scandex.config import Config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HitWord:
    """A word of a hit line that matches the query, with its box in the original image."""

    text: str
    bbox: BBox


@dataclass(frozen=True)
class HitLine:
    """A line holding at least one match; `words` are its matching words, in order."""

    text: str
    bbox: BBox
    words: tuple[HitWord, ...]


@dataclass(frozen=True)
class SearchHit:
    path: str  # the scan (absolute image path)
    page: int  # 1-based
    score: float  # higher is better; only comparable within one search
    lines: tuple[HitLine, ...]


@dataclass(frozen=True)
class StoredPage:
    """One indexed page as stored: every line with all of its words, boxes in original pixels."""

    path: str  # the scan (absolute image path)
    page: int  # 1-based
    hocr_path: str | None  # the hOCR file it was indexed from, when known
    lines: tuple[HitLine, ...]  # every line in reading order; `words` are all its words


@dataclass(frozen=True)
class IndexStats:
    documents: int
    pages: int
    size_bytes: int


class EmptyRebuildError(ScandexError):
    """A rebuild found nothing to index, and the index it would replace is not empty."""

    exit_code = ExitCode.USAGE  # usually watch.paths or ocr.hocr_name pointing elsewhere

    def __init__(self, location: Path | str, documents: int, start_empty: str = "") -> None:
        self.location = location
        start_empty = start_empty or f"delete {location} to start empty"
        super().__init__(
            f"found no hOCR files to index; keeping the current index of {documents} scans "
            f"(check watch.paths and ocr.hocr_name, or {start_empty})"
        )


class NoIndexError(ScandexError):
    """No index has been built at this directory yet."""

    def __init__(self, location: Path | str) -> None:
        self.location = location
        super().__init__(
            f"no index at {location} yet: start `scandex run` to OCR and index the watched "
            f"folders, or run `scandex reindex` to build it from existing hOCR files"
        )


class IndexWriter(Protocol):
    """The part of an index the daemon writes through (and `paths`, to repair after a crash)."""

    def add(self, doc: Document, *, hocr_path: str | None = None) -> None:
        """Queue `doc` for the next commit, replacing every page stored for doc.path."""

    def remove(self, path: str) -> None:
        """Queue removing every page of `path` (no error if it is not indexed)."""

    def commit(self) -> None:
        """Make every queued change visible to searches at once."""

    def close(self) -> None:
        """Release the index (and the writer lock); uncommitted changes are dropped."""

    def paths(self) -> set[str]:
        """Every document path in the committed index."""


class Index(IndexWriter, Protocol):
    """What the daemon, the CLI and the web UI need from an index."""

    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        path_prefix: str | None = None,
        fuzzy: bool = False,
    ) -> list[SearchHit]:
        """Best pages first; raises QueryError for a query that cannot be parsed."""

    def stats(self) -> IndexStats: ...

    def pages(self, path: str) -> list[StoredPage]:
        """Every committed page of `path` in page order; empty when it is not indexed."""


def open_index(directory: Path, *, writable: bool) -> Index:
    """Open the index at `directory`; a writable open creates it and takes the writer lock.

    Raises NoIndexError (read-only, nothing there yet) and IndexLockedError (writable, another
    process writes).
    """
    from scandex.indexer.whoosh_index import open_whoosh_index

    return open_whoosh_index(Path(directory), writable=writable)


def open_index_for(config: Config, *, writable: bool, backend: str | None = None) -> Index:
    """The index `config` names: Whoosh in state_dir/index, or PostgreSQL at index.url
    (`[index] backend`, or `backend` when given: `scandex reindex --to`). Raises as
    open_index does, and TemporaryError when PostgreSQL cannot be reached."""
    if (backend or config.index.backend) == "postgres":
        from scandex.indexer.postgres_index import open_postgres_index

        return open_postgres_index(_postgres_url(config), writable=writable)
    return open_index(config.index_dir, writable=writable)


def index_location(config: Config, backend: str | None = None) -> str:
    """Where the index `config` names lives, for messages (no password)."""
    if (backend or config.index.backend) == "postgres":
        from scandex.config import display_url

        return display_url(_postgres_url(config))
    return str(config.index_dir)


def _postgres_url(config: Config) -> str:
    if not config.index.url:
        raise ConfigError(
            "index.url",
            "names no PostgreSQL database (postgresql://USER@HOST/DATABASE)",
            config.source,
        )
    return config.index.url


def rebuild_index_for(
    config: Config,
    hocr_files: Iterable[Path],
    *,
    backend: str | None = None,
    on_error: Callable[[Path, str], None] | None = None,
    read: Callable[[Path], Document] | None = None,
    accept: Callable[[Document, Path], str | None] | None = None,
    keep_unless_filled: bool = False,
) -> int:
    """rebuild_index into the index `config` names (or `backend`): readers keep the old one
    until the new one is complete."""
    if (backend or config.index.backend) != "postgres":
        return rebuild_index(
            config.index_dir,
            hocr_files,
            on_error=on_error,
            read=read,
            accept=accept,
            keep_unless_filled=keep_unless_filled,
        )
    from scandex.indexer.postgres_index import build_and_replace

    report = on_error or (lambda path, reason: log.warning("skipping %s: %s", path, reason))
    documents = _read_documents(hocr_files, report, read or _read_hocr_file, accept)
    return build_and_replace(
        _postgres_url(config), documents, keep_unless_filled=keep_unless_filled
    )


def rebuild_index(
    directory: Path,
    hocr_files: Iterable[Path],
    *,
    on_error: Callable[[Path, str], None] | None = None,
    read: Callable[[Path], Document] | None = None,
    accept: Callable[[Document, Path], str | None] | None = None,
    keep_unless_filled: bool = False,
) -> int:
    """Build a fresh index from `hocr_files`, swap it in atomically, return the document count.

    `read` parses one file (default: scandex.ocr.hocr.read_hocr_file). A file that cannot be
    read or parsed is reported to `on_error(path, reason)` (or logged) and skipped; one
    for which `accept(document, hocr_path)` gives a reason is skipped silently (`accept`
    reports it as it likes). When two hOCR files describe the same image, the first one
    given wins. Raises IndexLockedError while another process writes the index, and with
    `keep_unless_filled` EmptyRebuildError instead of emptying an index that has scans.
    """
    from scandex.indexer.whoosh_index import build_and_swap

    report = on_error or (lambda path, reason: log.warning("skipping %s: %s", path, reason))
    documents = _read_documents(hocr_files, report, read or _read_hocr_file, accept)
    return build_and_swap(Path(directory), documents, keep_unless_filled=keep_unless_filled)


def _read_hocr_file(path: Path) -> Document:
    from scandex.ocr.hocr import read_hocr_file

    return read_hocr_file(path)


def _read_documents(
    hocr_files: Iterable[Path],
    report: Callable[[Path, str], None],
    read: Callable[[Path], Document],
    accept: Callable[[Document, Path], str | None] | None,
) -> Iterator[tuple[Document, str | None]]:
    for hocr_path in hocr_files:
        hocr_path = Path(hocr_path).absolute()
        try:
            doc = read(hocr_path)
        except Exception as exc:  # one bad file must not stop a rebuild of thousands
            report(hocr_path, _reason(exc))
            continue
        if not os.path.isabs(doc.path):
            doc = replace(doc, path=str((hocr_path.parent / doc.path).resolve()))
        if accept is not None and accept(doc, hocr_path):
            continue
        yield doc, str(hocr_path)


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason) if reason else f"{type(exc).__name__}: {exc}"


def find_hocr_files(
    roots: Iterable[Path],
    *,
    name_pattern: str = "{stem}.hocr",
    recursive: bool = True,
    skip_folder: Callable[[str], bool] = lambda name: name.startswith("."),
) -> list[Path]:
    """hOCR files under `roots`, newest first, each once; folders below a root whose name
    `skip_folder` accepts (hidden ones, by default) are not entered.

    `name_pattern` is the configured hOCR file name template (`ocr.hocr_name`), where
    "{stem}" and "{name}" stand for the image's.
    Newest first, so that when an image has two hOCR files the fresher one is indexed.
    """
    glob = name_pattern.replace("{stem}", "*").replace("{name}", "*")
    found: dict[Path, float] = {}
    for root in roots:
        for path in _walk_files(Path(root), recursive=recursive, skip_folder=skip_folder):
            if fnmatch(path.name, glob):
                try:
                    found.setdefault(path.resolve(), path.stat().st_mtime)
                except OSError:
                    continue
    return sorted(found, key=lambda path: (-found[path], str(path)))


def _walk_files(
    root: Path, *, recursive: bool, skip_folder: Callable[[str], bool]
) -> Iterator[Path]:
    if not root.is_dir():
        return
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if not skip_folder(name))
        if not recursive:
            subfolders.clear()
        for name in sorted(files):
            yield Path(folder) / name


__all__ = [
    "EmptyRebuildError",
    "HitLine",
    "HitWord",
    "Index",
    "IndexLockedError",
    "IndexStats",
    "IndexWriter",
    "NoIndexError",
    "SearchHit",
    "StoredPage",
    "find_hocr_files",
    "index_location",
    "open_index",
    "open_index_for",
    "rebuild_index",
    "rebuild_index_for",
]
