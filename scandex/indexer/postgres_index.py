"""The PostgreSQL implementation of the index: the only module of scandex that imports psycopg.

Tables (prefixed `scandex_`, so they can share a database):
- documents: one row per scan (path, hOCR path);
- pages: one row per page, its text as a `tsvector` of the page's normalized tokens with
  positions (the same token stream Whoosh indexes, `pages.line_tokens`, built by scandex, not
  by PostgreSQL's parser or stemmer), under a GIN index;
- lines: one row per line, its text and box, and its words with their boxes (jsonb);
- terms: every indexed token, under a pg_trgm GIN index: fuzzy words (`Augnst~`) and
  wildcards are expanded through it into the tokens they stand for, exactly as Whoosh
  expands them from its term list, so both backends find the same pages and mark the same
  words.

The schema is created and migrated by the writer when it opens the database (versioned in
`scandex_schema`). One writer at a time holds a session advisory lock (the daemon, or a
rebuild); every change is applied in one transaction at commit, so readers (any number of
`scandex serve`, `scandex search` processes) see a batch all at once or not at all. Each
search reads one snapshot (REPEATABLE READ, read only).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Container, Iterable, Iterator
from typing import Any

import psycopg
from psycopg import sql

from scandex.config import display_url
from scandex.errors import QueryError, ScandexError, TemporaryError
from scandex.indexer import (
    EmptyRebuildError,
    IndexStats,
    NoIndexError,
    SearchHit,
    StoredPage,
)
from scandex.indexer.layout import IndexLockedError
from scandex.indexer.pages import StoredLines, every_line, hit_lines, line_tokens, stored_lines
from scandex.indexer.query import And, Node, Not, Or, Phrase, Term, parse_query, positive_leaves
from scandex.page import Document

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
# pg_advisory_lock keys (any 64-bit numbers of our own): the one writer, and migrations.
WRITER_LOCK = 0x5CA9DE8_0001
MIGRATION_LOCK = 0x5CA9DE8_0002
# PostgreSQL keeps at most this many positions of one token on a page (later ones are
# dropped); positions past 16383 count as 16383.
MAX_POSITIONS = 256
# A token that no page holds (tokens are runs of letters and digits): a word that expands to
# nothing becomes this, so the query stays valid and matches nothing.
NO_TOKEN = "-"
# Exact spellings of OCR-tolerant words add this much to a page's score (as Whoosh's boost).
EXACT_BOOST = 2.0

_TABLES = ("scandex_lines", "scandex_pages", "scandex_documents", "scandex_terms")
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        """CREATE TABLE scandex_documents (
            id bigserial PRIMARY KEY,
            path text NOT NULL UNIQUE,       -- the scan (absolute image path)
            hocr_path text                   -- the hOCR file it was indexed from
        )""",
        # `path LIKE 'prefix%'` (--path, the web's folder filter) uses this index.
        "CREATE INDEX scandex_documents_by_prefix ON scandex_documents (path text_pattern_ops)",
        """CREATE TABLE scandex_pages (
            id bigserial PRIMARY KEY,
            document_id bigint NOT NULL REFERENCES scandex_documents ON DELETE CASCADE,
            page integer NOT NULL,           -- 1-based
            content tsvector NOT NULL,       -- scandex's tokens with their positions
            UNIQUE (document_id, page)
        )""",
        "CREATE INDEX scandex_pages_by_content ON scandex_pages USING gin (content)",
        """CREATE TABLE scandex_lines (
            page_id bigint NOT NULL REFERENCES scandex_pages ON DELETE CASCADE,
            line integer NOT NULL,           -- reading order, from 0
            text text NOT NULL,
            x0 integer NOT NULL, y0 integer NOT NULL, x1 integer NOT NULL, y1 integer NOT NULL,
            words jsonb NOT NULL,            -- [[text, x0, y0, x1, y1, (other readings)], ...]
            PRIMARY KEY (page_id, line)
        )""",
        # Tokens once indexed (a removed page's may stay: they match no page, harmlessly).
        "CREATE TABLE scandex_terms (term text PRIMARY KEY)",
        "CREATE INDEX scandex_terms_by_trigram ON scandex_terms USING gin (term gin_trgm_ops)",
    ),
}


def _connect(url: str, *, writable: bool) -> psycopg.Connection[Any]:
    try:
        conn = psycopg.connect(
            url,
            autocommit=True,
            application_name=f"scandex pid {os.getpid()}",
            connect_timeout=10,
        )
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TemporaryError(
            f"cannot connect to the PostgreSQL index at {display_url(url)}: {reason}"
            " (is the server running, and index.url right?)"
        ) from None
    if not writable:
        conn.autocommit = False
        conn.read_only = True
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    return conn


def _schema_version(conn: psycopg.Connection[Any]) -> int | None:
    """The schema's version; None when scandex has not created its tables here."""
    row = conn.execute("SELECT to_regclass('scandex_schema')").fetchone()
    if row is None or row[0] is None:
        return None
    found = conn.execute("SELECT version FROM scandex_schema").fetchone()
    return int(found[0]) if found else None


def _migrate(conn: psycopg.Connection[Any], url: str) -> None:
    """Create the tables, or bring them to SCHEMA_VERSION, in one transaction."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS scandex_schema (version integer NOT NULL)")
        version = _schema_version(conn) or 0
        if version > SCHEMA_VERSION:
            raise ScandexError(
                f"the PostgreSQL index at {display_url(url)} was made by a newer scandex"
                f" (schema {version}, this one knows {SCHEMA_VERSION}); upgrade scandex"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in _MIGRATIONS[target]:
                conn.execute(statement)
            log.info("PostgreSQL index: schema %d", target)
        if version == 0:
            conn.execute("INSERT INTO scandex_schema (version) VALUES (%s)", (SCHEMA_VERSION,))
        elif version < SCHEMA_VERSION:
            conn.execute("UPDATE scandex_schema SET version = %s", (SCHEMA_VERSION,))


def _take_writer_lock(conn: psycopg.Connection[Any], url: str) -> None:
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (WRITER_LOCK,)).fetchone()
    if row and row[0]:
        return
    holder = conn.execute(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted"
        " AND (l.classid::bigint << 32) | l.objid::bigint = %s",
        (WRITER_LOCK,),
    ).fetchone()
    pid = None
    if holder and holder[0] and holder[0].startswith("scandex pid "):
        pid = int(holder[0].removeprefix("scandex pid "))
    raise IndexLockedError(display_url(url), pid)


def tsvector_text(lines: StoredLines) -> tuple[str, list[str]]:
    """The page's tsvector literal (tokens with positions, counted from 1) and its tokens."""
    positions: dict[str, list[int]] = {}
    for number, (token, _, _) in enumerate(line_tokens(lines), start=1):
        kept = positions.setdefault(token, [])
        if len(kept) < MAX_POSITIONS:
            kept.append(min(number, 16383))
    text = " ".join(
        f"{_quote(token)}:{','.join(map(str, where))}" for token, where in positions.items()
    )
    return text, list(positions)


def _quote(token: str) -> str:
    """A lexeme for tsvector and tsquery input: quoted, quotes doubled, backslashes escaped."""
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


# ----------------------------------------------------------------------------- expansions


def within_edits(a: str, b: str, limit: int) -> bool:
    """True when `a` becomes `b` in at most `limit` insertions, deletions, substitutions and
    swaps of neighbours (Damerau-Levenshtein, as Whoosh's fuzzy terms)."""
    if abs(len(a) - len(b)) > limit:
        return False
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                best = min(best, previous2[j - 2] + 1)
            current[j] = best
        if min(current) > limit:
            return False
        previous2, previous = previous, current
    return previous[len(b)] <= limit


class _Prefix(Container[str]):
    def __init__(self, text: str) -> None:
        self.text = text

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and token.startswith(self.text)


def _wildcard_regex(text: str) -> re.Pattern[str]:
    pattern = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in text)
    return re.compile(pattern, re.DOTALL)


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


class Expansions:
    """The indexed tokens each fuzzy or wildcard word of one query stands for, looked up once
    in the terms table; prefixes stay prefixes (tsquery has them: 'aug':*)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self._cache: dict[Term, frozenset[str]] = {}

    def tokens(self, term: Term) -> frozenset[str]:
        if term not in self._cache:
            if term.wildcard:
                self._cache[term] = self._wildcard(term.text)
            else:
                self._cache[term] = self._fuzzy(term.text, term.fuzzy)
        return self._cache[term]

    def matcher(self, term: Term) -> Container[str]:
        """What marks a token on a hit page as this word."""
        if term.prefix:
            return _Prefix(term.text)
        if term.fuzzy or term.wildcard:
            return self.tokens(term)
        return frozenset({term.text})

    def _wildcard(self, text: str) -> frozenset[str]:
        regex = _wildcard_regex(text)
        rows = self.conn.execute(
            "SELECT term FROM scandex_terms WHERE term LIKE %s", (_like_pattern(text),)
        ).fetchall()
        return frozenset(row[0] for row in rows if regex.fullmatch(row[0]))

    def _fuzzy(self, text: str, distance: int) -> frozenset[str]:
        # Each edit (a swap too) changes at most 4 of a token's trigrams and adds at most 4,
        # so a token within `distance` edits shares at least T - 4d of the T trigrams of
        # `text`: a trigram similarity of (T - 4d) / (T + 8d). Candidates above that bound
        # come from the trigram index; the exact distance decides. A word too short for a
        # bound is compared with every token of a length that could be within reach.
        lengths = (len(text) - distance, len(text) + distance)
        count = self.conn.execute(
            "SELECT coalesce(array_length(show_trgm(%s), 1), 0)", (text,)
        ).fetchone()
        trigrams = int(count[0]) if count else 0
        bound = (trigrams - 4 * distance) / (trigrams + 8 * distance)
        if bound > 0 and text.isalnum():
            self.conn.execute(
                "SELECT set_config('pg_trgm.similarity_threshold', %s, true)", (str(bound),)
            )
            rows = self.conn.execute(
                "SELECT term FROM scandex_terms WHERE term %% %s"
                " AND length(term) BETWEEN %s AND %s",
                (text, *lengths),
            )
        else:
            rows = self.conn.execute(
                "SELECT term FROM scandex_terms WHERE length(term) BETWEEN %s AND %s", lengths
            )
        return frozenset(row[0] for row in rows if within_edits(row[0], text, distance))


def to_tsquery(node: Node, expand: Expansions) -> str:
    """The tsquery text for a parsed query tree."""
    if isinstance(node, Term):
        return _term_query(node, expand)
    if isinstance(node, Phrase):
        return "(" + " <-> ".join(_term_query(word, expand) for word in node.words) + ")"
    if isinstance(node, And):
        return "(" + " & ".join(to_tsquery(child, expand) for child in node.children) + ")"
    if isinstance(node, Or):
        return "(" + " | ".join(to_tsquery(child, expand) for child in node.children) + ")"
    if isinstance(node, Not):
        return "!" + to_tsquery(node.child, expand)
    raise TypeError(f"not a query node: {node!r}")


def _term_query(term: Term, expand: Expansions) -> str:
    if term.prefix:
        return f"{_quote(term.text)}:*"
    if term.fuzzy or term.wildcard:
        tokens = sorted(expand.tokens(term) | ({term.text} if term.fuzzy else set()))
        return "(" + " | ".join(_quote(token) for token in tokens or [NO_TOKEN]) + ")"
    return _quote(term.text)


def _exact_bonus(node: Node) -> str | None:
    """A tsquery of the exact spellings of the query's OCR-tolerant words, if it has any."""
    exact = sorted(
        {
            word.text
            for leaf in positive_leaves(node)
            for word in (leaf.words if isinstance(leaf, Phrase) else (leaf,))
            if word.fuzzy
        }
    )
    return " | ".join(_quote(text) for text in exact) if exact else None


def _patterns(node: Node, expand: Expansions) -> list[list[Container[str]]]:
    patterns: list[list[Container[str]]] = []
    for leaf in positive_leaves(node):
        words = leaf.words if isinstance(leaf, Phrase) else (leaf,)
        patterns.append([expand.matcher(word) for word in words])
    return patterns


def _prefix_pattern(path_prefix: str) -> str:
    return path_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# ----------------------------------------------------------------------------- the index


class PostgresIndex:
    """An open PostgreSQL index; see scandex.indexer.Index for the contract."""

    def __init__(self, url: str, conn: psycopg.Connection[Any], *, writable: bool) -> None:
        self.url = url
        self._conn: psycopg.Connection[Any] | None = conn
        self.writable = writable
        # Changes since the last commit: path -> (its document, its hOCR path), None: removed.
        self._pending: dict[str, tuple[Document, str | None] | None] = {}

    @property
    def location(self) -> str:
        return display_url(self.url)

    def _connection(self) -> psycopg.Connection[Any]:
        """The open connection; a writer whose connection broke reconnects (and takes the
        writer lock again), so a restarted server costs one failed commit, not the daemon."""
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        conn = _connect(self.url, writable=self.writable)
        if self.writable:
            try:
                _take_writer_lock(conn, self.url)
            except BaseException:
                conn.close()
                raise
        self._conn = conn
        return conn

    # -- writing

    def _require_writable(self) -> None:
        if not self.writable:
            raise ScandexError(f"the index {self.location} was opened read-only")

    def add(self, doc: Document, *, hocr_path: str | None = None) -> None:
        self._require_writable()
        self._pending[doc.path] = (doc, hocr_path)

    def remove(self, path: str) -> None:
        self._require_writable()
        self._pending[path] = None

    def commit(self) -> None:
        self._require_writable()
        if not self._pending:
            return
        try:
            conn = self._connection()
            with conn.transaction():
                for path, change in self._pending.items():
                    conn.execute("DELETE FROM scandex_documents WHERE path = %s", (path,))
                    if change is not None:
                        _insert(conn, *change)
        except psycopg.Error as exc:
            raise ScandexError(f"cannot commit to the index {self.location}: {exc}") from exc
        self._pending.clear()

    def close(self) -> None:
        """Release the connection (and the writer lock); changes not committed are dropped."""
        self._pending.clear()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> PostgresIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- reading

    def _read(self, work: Any) -> Any:
        """`work(conn)` in one read-only snapshot; once more on a fresh connection when the
        server went away in between (a restart)."""
        for attempt in (1, 2):
            conn = self._connection()
            try:
                with conn.transaction():
                    return work(conn)
            except psycopg.OperationalError as exc:
                if attempt == 2 or not conn.broken:
                    raise ScandexError(f"cannot read the index {self.location}: {exc}") from exc
        raise AssertionError("unreachable")

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
        return list(self._read(lambda conn: self._search(conn, node, limit, path_prefix)))

    def _search(
        self, conn: psycopg.Connection[Any], node: Node, limit: int, path_prefix: str | None
    ) -> list[SearchHit]:
        expand = Expansions(conn)
        tsquery = to_tsquery(node, expand)
        bonus = _exact_bonus(node)
        score: sql.Composable = sql.SQL("ts_rank(p.content, q.query)")
        if bonus:
            score = sql.SQL(
                "ts_rank(p.content, q.query) + {boost} * ts_rank(p.content, {bonus}::tsquery)"
            ).format(boost=sql.Literal(EXACT_BOOST - 1.0), bonus=sql.Literal(bonus))
        where: sql.Composable = sql.SQL("p.content @@ q.query")
        params: list[Any] = [tsquery]
        if path_prefix:
            where = sql.SQL("{} AND d.path LIKE %s").format(where)
            params.append(_prefix_pattern(path_prefix))
        params.append(limit)
        statement = sql.SQL(
            "SELECT p.id, d.path, p.page, {score} AS score"
            " FROM scandex_pages p JOIN scandex_documents d ON d.id = p.document_id,"
            " (SELECT %s::tsquery AS query) q"
            " WHERE {where} ORDER BY score DESC, d.path, p.page LIMIT %s"
        ).format(score=score, where=where)
        found = conn.execute(statement, params).fetchall()
        lines = _lines_of(conn, [row[0] for row in found])
        patterns = _patterns(node, expand)
        return [
            SearchHit(path, page, float(score), hit_lines(lines.get(page_id, []), patterns))
            for page_id, path, page, score in found
        ]

    def paths(self) -> set[str]:
        def work(conn: psycopg.Connection[Any]) -> set[str]:
            return {row[0] for row in conn.execute("SELECT path FROM scandex_documents")}

        return set(self._read(work))

    def pages(self, path: str) -> list[StoredPage]:
        def work(conn: psycopg.Connection[Any]) -> list[StoredPage]:
            rows = conn.execute(
                "SELECT p.id, p.page, d.hocr_path FROM scandex_pages p"
                " JOIN scandex_documents d ON d.id = p.document_id"
                " WHERE d.path = %s ORDER BY p.page",
                (path,),
            ).fetchall()
            lines = _lines_of(conn, [row[0] for row in rows])
            return [
                StoredPage(path, page, hocr or None, every_line(lines.get(page_id, [])))
                for page_id, page, hocr in rows
            ]

        return list(self._read(work))

    def stats(self) -> IndexStats:
        def work(conn: psycopg.Connection[Any]) -> IndexStats:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM scandex_documents),"
                " (SELECT count(*) FROM scandex_pages),"
                " (SELECT sum(pg_total_relation_size(t::regclass)) FROM unnest(%s::text[]) t)",
                (list(_TABLES),),
            ).fetchone()
            assert row is not None
            return IndexStats(int(row[0]), int(row[1]), int(row[2] or 0))

        stats: IndexStats = self._read(work)
        return stats


def _lines_of(conn: psycopg.Connection[Any], page_ids: list[int]) -> dict[int, StoredLines]:
    """The stored lines of these pages, in reading order."""
    lines: dict[int, StoredLines] = {page_id: [] for page_id in page_ids}
    if not page_ids:
        return lines
    rows = conn.execute(
        "SELECT page_id, text, x0, y0, x1, y1, words FROM scandex_lines"
        " WHERE page_id = ANY(%s) ORDER BY page_id, line",
        (page_ids,),
    )
    for page_id, text, x0, y0, x1, y1, words in rows:
        lines[page_id].append([text, [x0, y0, x1, y1], words])
    return lines


def _insert(conn: psycopg.Connection[Any], doc: Document, hocr_path: str | None) -> None:
    """Add a document's rows (the caller removed any earlier ones, in the same transaction)."""
    row = conn.execute(
        "INSERT INTO scandex_documents (path, hocr_path) VALUES (%s, %s) RETURNING id",
        (doc.path, hocr_path),
    ).fetchone()
    assert row is not None
    document_id = row[0]
    tokens: set[str] = set()
    for page in doc.pages:
        lines = stored_lines(page)
        content, page_tokens = tsvector_text(lines)
        tokens.update(page_tokens)
        found = conn.execute(
            "INSERT INTO scandex_pages (document_id, page, content)"
            " VALUES (%s, %s, %s::tsvector) RETURNING id",
            (document_id, page.number, content),
        ).fetchone()
        assert found is not None
        with (
            conn.cursor() as cursor,
            cursor.copy(
                "COPY scandex_lines (page_id, line, text, x0, y0, x1, y1, words) FROM STDIN"
            ) as copy,
        ):
            for number, (text, bbox, words) in enumerate(lines):
                copy.write_row(
                    (found[0], number, text, *bbox, json.dumps(words, separators=(",", ":")))
                )
    if tokens:
        conn.execute(
            "INSERT INTO scandex_terms (term) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
            (sorted(tokens),),
        )


# ----------------------------------------------------------------------------- opening


def open_postgres_index(url: str, *, writable: bool) -> PostgresIndex:
    """Open the index in the database at `url`; a writable open creates or migrates the
    schema and takes the writer lock.

    Raises NoIndexError (read-only, no scandex tables there yet), IndexLockedError
    (writable, another process writes), TemporaryError (the server cannot be reached).
    """
    conn = _connect(url, writable=writable)
    try:
        if writable:
            _take_writer_lock(conn, url)
            _migrate(conn, url)
        else:
            with conn.transaction():
                version = _schema_version(conn)
            _check_version(version, url)
    except BaseException:
        conn.close()
        raise
    return PostgresIndex(url, conn, writable=writable)


def _check_version(version: int | None, url: str) -> None:
    if version is None:
        raise NoIndexError(display_url(url))
    if version != SCHEMA_VERSION:
        raise ScandexError(
            f"the PostgreSQL index at {display_url(url)} has schema {version}, this scandex"
            f" reads {SCHEMA_VERSION}: start `scandex run` (which migrates it) or upgrade"
        )


def build_and_replace(
    url: str,
    documents: Iterable[tuple[Document, str | None]],
    *,
    keep_unless_filled: bool = False,
) -> int:
    """Replace the whole index with `documents` in one transaction; the document count.

    Readers keep seeing the old index until the commit. With `keep_unless_filled`, an empty
    result does not replace an index that has documents (EmptyRebuildError). Holds the
    writer lock, so it refuses to run while a daemon writes.
    """
    index = open_postgres_index(url, writable=True)
    try:
        conn = index._connection()
        paths: set[str] = set()
        with conn.transaction():
            row = conn.execute("SELECT count(*) FROM scandex_documents").fetchone()
            previous = int(row[0]) if row else 0
            conn.execute("DELETE FROM scandex_documents")
            conn.execute("DELETE FROM scandex_terms")
            for doc, hocr_path in _first_of_each(documents):
                _insert(conn, doc, hocr_path)
                paths.add(doc.path)
            if not paths and previous and keep_unless_filled:
                # Raised inside the transaction: it rolls back, and the index stays.
                raise EmptyRebuildError(
                    display_url(url), previous, "drop its scandex_* tables to start empty"
                )
        # Statistics for the planner at once, not whenever autovacuum comes by: until then it
        # plans from guesses (100,000 generated pages: a rare word's search took 112 ms
        # before, 22 ms after; the ANALYZE 3 s). The daemon's small commits leave it to
        # autovacuum.
        conn.execute("ANALYZE " + ", ".join(_TABLES))
    finally:
        index.close()
    return len(paths)


def _first_of_each(
    documents: Iterable[tuple[Document, str | None]],
) -> Iterator[tuple[Document, str | None]]:
    seen: set[str] = set()
    for doc, hocr_path in documents:
        if doc.path in seen:
            log.warning("skipping a second hOCR for %s", doc.path)
            continue
        seen.add(doc.path)
        yield doc, hocr_path
