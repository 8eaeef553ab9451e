"""The durable truth about every scan: a SQLite table in state_dir (events are only hints).

One writer of the files table (the daemon's main thread) and any number of readers
(`scandex status`); WAL journaling lets the readers see committed rows while the daemon
writes. Other commands ask the daemon for work through the requests table (`scandex reocr`),
which it reads and empties, so the files table keeps its single writer.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PENDING = "pending"
DONE = "done"
FAILED = "failed"
STATES = (PENDING, DONE, FAILED)

# PRAGMA user_version: 0 is the first layout (no model, no requests); 1 adds them.
SCHEMA_VERSION = 1

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS files (
        path TEXT PRIMARY KEY,           -- absolute, resolved image path
        size INTEGER NOT NULL,           -- bytes, when last hashed
        mtime_ns INTEGER NOT NULL,
        sha256 TEXT NOT NULL,            -- content hash: finds renames and identical copies
        state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        hocr_path TEXT,                  -- the hOCR scandex wrote for it (deleted with the image)
        next_attempt REAL NOT NULL DEFAULT 0,  -- unix time; retries wait with backoff
        updated REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS files_by_hash ON files (sha256)",
    "CREATE INDEX IF NOT EXISTS files_by_queue ON files (state, next_attempt)",
    "CREATE TABLE IF NOT EXISTS daemon (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)

# Statements that bring a database of layout N - 1 to layout N.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        # "NAME sha256:HEX" of the model that read the file (None: an older scandex did).
        "ALTER TABLE files ADD COLUMN model TEXT",
        # A user asked for the file to be read again (`scandex reocr`).
        "ALTER TABLE files ADD COLUMN reocr INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX IF NOT EXISTS files_by_age ON files (state, mtime_ns)",
        """CREATE TABLE IF NOT EXISTS requests (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,          -- 'reocr'
            prefix TEXT NOT NULL,        -- a file, or a folder ending in '/'; '' = everything
            created REAL NOT NULL
        )""",
    ),
}


@dataclass(frozen=True)
class FileRecord:
    path: str
    size: int
    mtime_ns: int
    sha256: str  # empty for a file refused before it was hashed (too large)
    state: str
    attempts: int = 0
    last_error: str | None = None
    hocr_path: str | None = None
    next_attempt: float = 0.0
    model: str | None = None  # the model that read it; None = unknown (an older scandex)
    reocr: bool = False  # a user asked for it to be read again (`scandex reocr`)


_COLUMNS = (
    "path, size, mtime_ns, sha256, state, attempts, last_error, hocr_path, next_attempt,"
    " model, reocr"
)
# What a reader sees in a database a daemon of the first layout still uses.
_COLUMNS_V0 = _COLUMNS.replace(" model, reocr", " NULL, 0")


@dataclass(frozen=True)
class Request:
    id: int
    kind: str
    prefix: str


def _record(row: tuple) -> FileRecord:
    path, size, mtime_ns, sha256, state, attempts, error, hocr_path, next_attempt = row[:9]
    return FileRecord(
        path, size, mtime_ns, sha256, state, attempts, error, hocr_path, next_attempt,
        model=row[9], reocr=bool(row[10]),
    )  # fmt: skip


def under_prefix(folder: str) -> str:
    """The prefix that selects `folder`'s files ('' selects everything)."""
    return folder.rstrip("/") + "/" if folder else ""


class StateStore:
    """The files table. Writes commit immediately, so a kill loses nothing acknowledged."""

    def __init__(self, db_path: Path, *, readonly: bool = False) -> None:
        self.db_path = db_path
        if readonly:
            # A path is not a URI: "?", "#" and "%" in it must be escaped (as_uri does).
            uri = f"{db_path.absolute().as_uri()}?mode=ro"
            self.db = sqlite3.connect(uri, uri=True, timeout=10.0, isolation_level=None)
        else:
            db_path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(db_path, timeout=10.0, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        self._columns = _COLUMNS if version >= 1 else _COLUMNS_V0
        # False for a reader that opened the file while its creator was still laying it out.
        self.created = (
            self.db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'files'"
            ).fetchone()
            is not None
        )

    def _migrate(self) -> None:
        # One transaction, so two processes opening a fresh or old database at once (the
        # daemon and `scandex reocr`) cannot both migrate it.
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                self.db.execute(statement)
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[target]:
                    self.db.execute(statement)
            if version < SCHEMA_VERSION:
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    def _select(self, where: str, params: tuple = ()) -> list[FileRecord]:
        rows = self.db.execute(f"SELECT {self._columns} FROM files WHERE {where}", params)
        return [_record(row) for row in rows]

    # -- reading -------------------------------------------------------------------------

    def get(self, path: str) -> FileRecord | None:
        found = self._select("path = ?", (path,))
        return found[0] if found else None

    def with_hash(self, sha256: str) -> list[FileRecord]:
        return self._select("sha256 = ?", (sha256,))

    def with_hocr(self, hocr_path: str) -> list[FileRecord]:
        return self._select("hocr_path = ?", (hocr_path,))

    def all(self) -> Iterator[FileRecord]:
        for row in self.db.execute(f"SELECT {self._columns} FROM files ORDER BY path"):
            yield _record(row)

    def under(self, folder: str) -> list[FileRecord]:
        """Records of `folder` itself or anything below it."""
        prefix = under_prefix(folder)
        return self._select("path = ? OR substr(path, 1, ?) = ?", (folder, len(prefix), prefix))

    def due(self, now: float, limit: int) -> list[FileRecord]:
        """Pending files whose next attempt is due, oldest first."""
        return self._select(
            "state = 'pending' AND next_attempt <= ? ORDER BY next_attempt, path LIMIT ?",
            (now, limit),
        )

    def to_reread(
        self, model: str, now: float, limit: int, *, requested_only: bool, max_attempts: int
    ) -> list[FileRecord]:
        """Done files to OCR again, newest first: those a user asked for, and (unless
        `requested_only`) those read by another model than `model`. A file whose re-reading
        failed waits with backoff and is left alone after `max_attempts` failures."""
        stale = "reocr = 1" if requested_only else "(reocr = 1 OR model IS NULL OR model != ?)"
        params: tuple = () if requested_only else (model,)
        return self._select(
            f"state = 'done' AND {stale} AND next_attempt <= ? AND attempts < ?"
            " ORDER BY mtime_ns DESC, path LIMIT ?",
            (*params, now, max_attempts, limit),
        )

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for state, n in self.db.execute("SELECT state, count(*) FROM files GROUP BY state"):
            counts[state] = n
        return counts

    def read_by_other_models(self, model: str) -> int:
        """Done files read by a model other than `model` (or by one not recorded)."""
        if self._columns is _COLUMNS_V0:
            return self.counts()[DONE]
        row = self.db.execute(
            "SELECT count(*) FROM files WHERE state = 'done' AND (model IS NULL OR model != ?)",
            (model,),
        ).fetchone()
        return int(row[0])

    def not_read_again(self, max_attempts: int) -> int:
        """Done files that failed to be read again `max_attempts` times (they keep their text)."""
        row = self.db.execute(
            "SELECT count(*) FROM files WHERE state = 'done' AND attempts >= ?", (max_attempts,)
        ).fetchone()
        return int(row[0])

    def waiting_retry(self, now: float) -> int:
        row = self.db.execute(
            "SELECT count(*) FROM files WHERE state = 'pending' AND next_attempt > ?", (now,)
        ).fetchone()
        return int(row[0])

    def problems(self, limit: int = 100) -> list[FileRecord]:
        """Failed files, and pending ones waiting for a retry, most recent first."""
        return self._select(
            "last_error IS NOT NULL AND state != 'done' ORDER BY state, updated DESC LIMIT ?",
            (limit,),
        )

    def partly_read(self, limit: int = 100) -> list[FileRecord]:
        """Done files of which something could not be read (PDF pages), most recent first."""
        return self._select(
            "last_error IS NOT NULL AND state = 'done' ORDER BY updated DESC LIMIT ?", (limit,)
        )

    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM daemon"))

    def requests(self) -> list[Request]:
        if self._columns is _COLUMNS_V0:
            return []
        rows = self.db.execute("SELECT id, kind, prefix FROM requests ORDER BY id")
        return [Request(*row) for row in rows]

    # -- writing -------------------------------------------------------------------------

    def put(self, record: FileRecord) -> None:
        self.db.execute(
            f"INSERT OR REPLACE INTO files ({_COLUMNS}, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                record.path,
                record.size,
                record.mtime_ns,
                record.sha256,
                record.state,
                record.attempts,
                record.last_error,
                record.hocr_path,
                record.next_attempt,
                record.model,
                int(record.reocr),
                time.time(),
            ),
        )

    def put_many(self, records: list[FileRecord]) -> None:
        """Write several records in one transaction."""
        self.db.execute("BEGIN")
        try:
            for record in records:
                self.put(record)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def delete(self, path: str) -> None:
        self.db.execute("DELETE FROM files WHERE path = ?", (path,))

    def mark_reocr(self, prefix: str) -> int:
        """Flag done files under `prefix` (see under_prefix; a file's own path selects it)
        for re-reading; the number flagged."""
        cursor = self.db.execute(
            "UPDATE files SET reocr = 1, attempts = 0, next_attempt = 0 WHERE state = 'done'"
            " AND (path = ? OR substr(path, 1, ?) = ?)",
            (prefix, len(prefix), prefix),
        )
        return cursor.rowcount

    def add_request(self, kind: str, prefix: str) -> None:
        self.db.execute(
            "INSERT INTO requests (kind, prefix, created) VALUES (?, ?, ?)",
            (kind, prefix, time.time()),
        )

    def delete_request(self, request_id: int) -> None:
        self.db.execute("DELETE FROM requests WHERE id = ?", (request_id,))

    def set_meta(self, values: dict[str, str]) -> None:
        self.db.execute("BEGIN")
        self.db.executemany(
            "INSERT OR REPLACE INTO daemon (key, value) VALUES (?, ?)", values.items()
        )
        self.db.execute("COMMIT")

    def clear_meta(self) -> None:
        self.db.execute("DELETE FROM daemon")
