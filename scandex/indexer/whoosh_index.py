"""The Whoosh implementation of the index: the only module of scandex that imports whoosh.

One Whoosh document per PAGE. Its text is indexed as the page's normalized tokens (see
`query.index_tokens`) separated by spaces, with positions for phrases; what is needed to
answer with boxes (every line's text and box, every word's text and box) is stored beside it
as compressed JSON. The full text is not stored again: it is the lines' words.

Crash safety is Whoosh's own: a commit writes new segment files and then renames a new table
of contents into place, so a process killed at any moment leaves the previous commit intact,
and the next writer deletes the orphaned files. Readers never lock; they open the newest table
of contents (retrying if a merge deletes a file under them) and keep their open files.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import shutil
import time
import traceback
import warnings
import zlib
from collections.abc import Callable, Container, Iterable
from pathlib import Path
from typing import Any, TypeVar

# Whoosh ships no type information.
import whoosh.index  # type: ignore[import-untyped]
from whoosh import fields  # type: ignore[import-untyped]
from whoosh import query as wq  # type: ignore[import-untyped]
from whoosh.analysis import SpaceSeparatedTokenizer  # type: ignore[import-untyped]
from whoosh.index import FileIndex  # type: ignore[import-untyped]
from whoosh.reading import IndexReader  # type: ignore[import-untyped]
from whoosh.searching import Searcher  # type: ignore[import-untyped]

from scandex.errors import QueryError, ScandexError
from scandex.indexer import (
    EmptyRebuildError,
    IndexStats,
    NoIndexError,
    SearchHit,
    StoredPage,
)
from scandex.indexer.layout import (
    WriterLock,
    directory_size_bytes,
    live_directory,
    new_generation,
    remove_stale_generations,
    swap_in,
)
from scandex.indexer.pages import StoredLines, every_line, hit_lines, line_tokens, stored_lines
from scandex.indexer.query import (
    And,
    Node,
    Not,
    Or,
    Phrase,
    Term,
    parse_query,
    positive_leaves,
)
from scandex.page import Document

log = logging.getLogger(__name__)
T = TypeVar("T")

CONTENT = "content"
# The stored lines' field carries the layout version in its name, so an index written with
# another layout fails the schema check (and gets `scandex reindex`) instead of being misread.
# Bump the number whenever the stored layout changes.
LINES = "lines_v1"
# Exact matches outrank the OCR-tolerant variants of the same word.
EXACT_BOOST = 2.0
# The writer's in-memory pool before it spills to disk; bounds memory on big rebuilds.
WRITER_LIMIT_MB = 64
# Opening races with a concurrent commit at most a few times in a row.
OPEN_ATTEMPTS = 20
OPEN_RETRY_SECONDS = 0.02
# Whoosh's table-of-contents files (default index name); their presence means "an index".
TOC_GLOB = "_MAIN_*.toc"


def _schema() -> fields.Schema:
    return fields.Schema(
        path=fields.ID(stored=True, sortable=True),
        page=fields.NUMERIC(int, stored=True),
        # Tokens are normalized before they reach Whoosh, so a whitespace split is the whole
        # analyzer; nothing of ours has to be pickled into the index's schema.
        content=fields.TEXT(analyzer=SpaceSeparatedTokenizer(), phrase=True),
        hocr=fields.STORED(),
        **{LINES: fields.STORED()},
    )


# ----------------------------------------------------------------------------- page records

Record = dict[str, Any]


def page_records(doc: Document, hocr_path: str | None) -> list[Record]:
    """One Whoosh document per page of `doc`."""
    return [_record(doc.path, page.number, stored_lines(page), hocr_path) for page in doc.pages]


def _record(path: str, page: int, lines: StoredLines, hocr_path: str | None) -> Record:
    blob = zlib.compress(json.dumps(lines, separators=(",", ":")).encode("utf-8"))
    tokens = [token for token, _, _ in line_tokens(lines)]
    return {
        "path": path,
        "page": page,
        CONTENT: " ".join(tokens),
        LINES: blob,
        "hocr": hocr_path or "",
    }


def _decode_lines(blob: bytes) -> StoredLines:
    return json.loads(zlib.decompress(blob).decode("utf-8"))


# ----------------------------------------------------------------------------- queries


class Expansions:
    """The indexed tokens each inexact word of one query stands for, looked up once.

    Both the Whoosh query and the marking of hit words use them; a fuzzy lookup walks the
    whole term list, so doing it twice would double the cost of a fuzzy search.
    """

    def __init__(self, reader: IndexReader) -> None:
        self.reader = reader
        self._cache: dict[Term, frozenset[str]] = {}

    def __call__(self, term: Term) -> frozenset[str]:
        if _is_exact(term):
            return frozenset({term.text})
        if term not in self._cache:
            query = _inexact_query(term)
            expanded = query.expanded_terms(self.reader)
            texts = {t.decode("utf-8") if isinstance(t, bytes) else t for _, t in expanded}
            self._cache[term] = frozenset(texts)
        return self._cache[term]


def to_whoosh(node: Node, expand: Expansions) -> wq.Query:
    """The Whoosh query for a parsed query tree."""
    if isinstance(node, Term):
        return _term_query(node, expand, in_sequence=False)
    if isinstance(node, Phrase):
        if all(_is_exact(word) for word in node.words):
            return wq.Phrase(CONTENT, [word.text for word in node.words])
        return wq.Sequence([_term_query(word, expand, in_sequence=True) for word in node.words])
    if isinstance(node, And):
        return wq.And([to_whoosh(child, expand) for child in node.children])
    if isinstance(node, Or):
        return wq.Or([to_whoosh(child, expand) for child in node.children])
    if isinstance(node, Not):
        return wq.Not(to_whoosh(node.child, expand))
    raise TypeError(f"not a query node: {node!r}")


def _is_exact(term: Term) -> bool:
    return not (term.fuzzy or term.prefix or term.wildcard)


def _inexact_query(term: Term) -> wq.Query:
    if term.prefix:
        return wq.Prefix(CONTENT, term.text)
    if term.wildcard:
        return wq.Wildcard(CONTENT, term.text)
    # prefixlength=0: OCR misreads the first letter as often as any other.
    return wq.FuzzyTerm(CONTENT, term.text, maxdist=term.fuzzy, prefixlength=0)


def _term_query(term: Term, expand: Expansions, *, in_sequence: bool) -> wq.Query:
    if _is_exact(term):
        return wq.Term(CONTENT, term.text)
    if not term.fuzzy:
        return _inexact_query(term)  # Whoosh expands prefixes and wildcards cheaply itself
    variants = wq.Or([wq.Term(CONTENT, text) for text in sorted(expand(term))])
    if in_sequence:
        return variants
    # Every variant scores alike (a rare misreading must not outrank the real word by its
    # rarity), and the exact spelling adds a bonus on top.
    return wq.Or([wq.Term(CONTENT, term.text, boost=EXACT_BOOST), wq.ConstantScoreQuery(variants)])


def _patterns(node: Node, expand: Expansions) -> list[list[Container[str]]]:
    patterns: list[list[Container[str]]] = []
    for leaf in positive_leaves(node):
        words = leaf.words if isinstance(leaf, Phrase) else (leaf,)
        patterns.append([expand(word) for word in words])
    return patterns


# ----------------------------------------------------------------------------- the index


class WhooshIndex:
    """An open index; see scandex.indexer.Index for the contract."""

    def __init__(self, directory: Path, ix: FileIndex, lock: WriterLock | None) -> None:
        self.directory = directory
        self._ix = ix
        self._lock = lock
        self._searcher: Searcher | None = None
        self._live: Path | None = None  # the generation the searcher reads (rebuilds swap it)
        # Changes since the last commit, path -> its new pages (None: removed). Whoosh cannot
        # delete documents added earlier in the same uncommitted writer, so the batch is
        # collapsed here and applied in one writer at commit time.
        self._pending: dict[str, list[Record] | None] = {}

    # -- writing

    def _require_writable(self) -> None:
        if self._lock is None:
            raise ScandexError(f"the index {self.directory} was opened read-only")

    def add(self, doc: Document, *, hocr_path: str | None = None) -> None:
        self._require_writable()
        self._pending[doc.path] = page_records(doc, hocr_path)

    def remove(self, path: str) -> None:
        self._require_writable()
        self._pending[path] = None

    def commit(self) -> None:
        self._require_writable()
        if not self._pending:
            return
        writer = self._ix.writer(limitmb=WRITER_LIMIT_MB)
        try:
            for path, records in self._pending.items():
                writer.delete_by_term("path", path)
                for record in records or ():
                    writer.add_document(**record)
            writer.commit()
        except Exception as exc:
            # A failed Whoosh commit keeps its own write lock; cancelling releases it, so the
            # next commit (the batch is still pending) can succeed once the cause is gone.
            with contextlib.suppress(Exception):
                writer.cancel()
            raise ScandexError(f"cannot commit to the index {self.directory}: {exc}") from exc
        self._pending.clear()

    def close(self) -> None:
        """Release everything; changes not committed are dropped."""
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None
        self._pending.clear()
        self._ix.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> WhooshIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- reading

    def _current_searcher(self) -> Searcher:
        live = live_directory(self.directory)
        if self._searcher is not None and (live != self._live or not self._searcher.up_to_date()):
            # Not Searcher.refresh(): its reader reuse keeps segments (and deletion lists)
            # of the old generation, so removed pages would still be found.
            self._searcher.close()
            self._searcher = None
        if self._searcher is None:
            self._searcher = self._ix.searcher()
            self._live = live
        return self._searcher

    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        path_prefix: str | None = None,
        fuzzy: bool = False,
    ) -> list[SearchHit]:
        if limit < 1:
            raise QueryError(f"limit must be at least 1, not {limit}")
        node = parse_query(query, fuzzy=fuzzy)
        searcher = self._current_searcher()
        expand = Expansions(searcher.reader())
        only = self._path_filter(path_prefix) if path_prefix else None
        results = searcher.search(to_whoosh(node, expand), limit=limit, filter=only)
        patterns = _patterns(node, expand)
        hits = []
        for result in results:
            stored = result.fields()
            lines = _decode_lines(stored[LINES])
            hits.append(
                SearchHit(
                    path=stored["path"],
                    page=stored["page"],
                    score=float(result.score),
                    lines=hit_lines(lines, patterns),
                )
            )
        return hits

    @staticmethod
    def _path_filter(path_prefix: str) -> wq.Query:
        return wq.Prefix("path", path_prefix)

    def paths(self) -> set[str]:
        return _paths_in(self._current_searcher().reader())

    def pages(self, path: str) -> list[StoredPage]:
        pages = []
        for stored in self._current_searcher().documents(path=path):
            lines = every_line(_decode_lines(stored[LINES]))
            pages.append(StoredPage(path, stored["page"], stored.get("hocr") or None, lines))
        return sorted(pages, key=lambda page: page.page)

    def stats(self) -> IndexStats:
        # One reader for both numbers: the next call may already see a newer commit.
        reader = self._current_searcher().reader()
        live = live_directory(self.directory)
        return IndexStats(
            documents=len(_paths_in(reader)),
            pages=reader.doc_count(),
            size_bytes=directory_size_bytes(live) if live else 0,
        )


def _paths_in(reader: IndexReader) -> set[str]:
    if reader.doc_count() == 0:
        return set()  # an index without segments has no columns to read
    column = reader.column_reader("path")
    return {column[docnum] for docnum in reader.all_doc_ids()}


# ----------------------------------------------------------------------------- opening


def open_whoosh_index(directory: Path, *, writable: bool) -> WhooshIndex:
    lock = WriterLock(directory) if writable else None
    try:
        ix = _open_or_create(directory, writable=writable)
        _check_layout(directory, ix)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    return WhooshIndex(directory, ix, lock)


def _open_or_create(directory: Path, *, writable: bool) -> FileIndex:
    live = live_directory(directory)
    try:
        if live is not None and any(live.glob(TOC_GLOB)):
            return _open_existing(directory)
    except Exception as exc:  # Whoosh raises many kinds for damaged files
        reason = f"{type(exc).__name__}: {exc}"
        _close_files_left_open(exc)
        raise ScandexError(
            f"cannot open the index {directory} ({reason}); rebuild it with `scandex reindex`"
        ) from None
    if not writable:
        raise NoIndexError(directory)
    if live is not None and not directory.is_symlink() and not any(live.iterdir()):
        live.rmdir()  # an empty folder made by someone else: take its place
    elif live is not None:
        raise ScandexError(
            f"{directory} exists but holds no scandex index; move it away or choose another "
            f"state_dir"
        )
    generation = new_generation(directory)
    whoosh.index.create_in(str(generation), _schema())
    swap_in(directory, generation)
    return whoosh.index.open_dir(str(directory))


def _open_existing(directory: Path) -> FileIndex:
    # Through the link, so a long-lived reader follows a rebuild's swap.
    return _racing_commits(lambda: whoosh.index.open_dir(str(directory)))


def _racing_commits(read_toc: Callable[[], T]) -> T:
    """`read_toc()`, tried again when a commit in another process deletes the table of
    contents it has just chosen as the newest (the next try finds the newer one). Whoosh
    retries this for searchers, not for opening an index or reading its schema."""
    for attempt in range(OPEN_ATTEMPTS):
        try:
            return read_toc()
        except FileNotFoundError:
            if attempt == OPEN_ATTEMPTS - 1:
                raise
            time.sleep(OPEN_RETRY_SECONDS)
    raise AssertionError("unreachable")


def _close_files_left_open(exc: BaseException) -> None:
    """Close what Whoosh opened before it failed (it does not), without a ResourceWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        traceback.clear_frames(exc.__traceback__)
        exc.__traceback__ = None
        gc.collect()


def _check_layout(directory: Path, ix: FileIndex) -> None:
    names = _racing_commits(lambda: set(ix.schema.names()))  # each read finds the newest TOC
    if names != set(_schema().names()):
        raise ScandexError(
            f"the index {directory} was built by another version of scandex; "
            f"rebuild it with `scandex reindex`"
        )


def build_and_swap(
    directory: Path,
    documents: Iterable[tuple[Document, str | None]],
    *,
    keep_unless_filled: bool = False,
) -> int:
    """Index `documents` into a new generation and make it live; return the document count.

    With `keep_unless_filled`, an empty result does not replace an index that has documents
    (EmptyRebuildError): a wrong configuration must not trade an index for nothing. Holds
    the writer lock throughout, so it refuses to run while a daemon writes.
    """
    lock = WriterLock(directory)
    try:
        remove_stale_generations(directory)
        generation = new_generation(directory)
        try:
            count = _fill(generation, documents)
            if count == 0 and keep_unless_filled:
                _refuse_to_empty(directory)
        except BaseException:
            shutil.rmtree(generation, ignore_errors=True)
            raise
        swap_in(directory, generation)
        return count
    finally:
        lock.release()


def _refuse_to_empty(directory: Path) -> None:
    try:
        current = open_whoosh_index(directory, writable=False)
    except NoIndexError:
        return
    try:
        documents = current.stats().documents
    finally:
        current.close()
    if documents:
        raise EmptyRebuildError(directory, documents)


def _fill(generation: Path, documents: Iterable[tuple[Document, str | None]]) -> int:
    ix = whoosh.index.create_in(str(generation), _schema())
    writer = ix.writer(limitmb=WRITER_LIMIT_MB)
    paths: set[str] = set()
    try:
        for doc, hocr_path in documents:
            if doc.path in paths:
                # The same image seen through two hOCR files; the caller orders them so the
                # one to keep comes first (a writer cannot delete what it added itself).
                log.warning("skipping a second hOCR for %s", doc.path)
                continue
            for record in page_records(doc, hocr_path):
                writer.add_document(**record)
            paths.add(doc.path)
    except BaseException:
        writer.cancel()
        ix.close()
        raise
    writer.commit()
    ix.close()
    return len(paths)
