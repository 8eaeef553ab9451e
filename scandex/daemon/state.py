"""The durable truth about every scan: a SQLite table in state_dir (events are only hints).

One writer (the daemon's main thread) and any number of readers (`scandex status`); WAL
journaling lets the readers see committed rows while the daemon writes.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PENDING = "pending"
DONE = "done"
FAILED = "failed"
STATES = (PENDING, DONE, FAILED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
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
);
CREATE INDEX IF NOT EXISTS files_by_hash ON files (sha256);
CREATE INDEX IF NOT EXISTS files_by_queue ON files (state, next_attempt);
CREATE TABLE IF NOT EXISTS daemon (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class FileRecord:
    path: str
    size: int
    mtime_ns: int
    sha256: str
    state: str
    attempts: int = 0
    last_error: str | None = None
    hocr_path: str | None = None
    next_attempt: float = 0.0


_COLUMNS = "path, size, mtime_ns, sha256, state, attempts, last_error, hocr_path, next_attempt"


def file_sha256(path: Path, chunk_bytes: int = 1 << 20) -> str:
    """The hex SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


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
            self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- reading -------------------------------------------------------------------------

    def get(self, path: str) -> FileRecord | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM files WHERE path = ?", (path,)).fetchone()
        return FileRecord(*row) if row else None

    def with_hash(self, sha256: str) -> list[FileRecord]:
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM files WHERE sha256 = ?", (sha256,))
        return [FileRecord(*row) for row in rows]

    def all(self) -> Iterator[FileRecord]:
        for row in self.db.execute(f"SELECT {_COLUMNS} FROM files ORDER BY path"):
            yield FileRecord(*row)

    def under(self, folder: str) -> list[FileRecord]:
        """Records of `folder` itself or anything below it."""
        prefix = folder.rstrip("/") + "/"
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM files WHERE path = ? OR substr(path, 1, ?) = ?",
            (folder, len(prefix), prefix),
        )
        return [FileRecord(*row) for row in rows]

    def due(self, now: float, limit: int) -> list[FileRecord]:
        """Pending files whose next attempt is due, oldest first."""
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM files WHERE state = 'pending' AND next_attempt <= ? "
            "ORDER BY next_attempt, path LIMIT ?",
            (now, limit),
        )
        return [FileRecord(*row) for row in rows]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for state, n in self.db.execute("SELECT state, count(*) FROM files GROUP BY state"):
            counts[state] = n
        return counts

    def waiting_retry(self, now: float) -> int:
        row = self.db.execute(
            "SELECT count(*) FROM files WHERE state = 'pending' AND next_attempt > ?", (now,)
        ).fetchone()
        return int(row[0])

    def problems(self, limit: int = 100) -> list[FileRecord]:
        """Failed files, and pending ones waiting for a retry, most recent first."""
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM files WHERE last_error IS NOT NULL AND state != 'done' "
            "ORDER BY state, updated DESC LIMIT ?",
            (limit,),
        )
        return [FileRecord(*row) for row in rows]

    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM daemon"))

    # -- writing -------------------------------------------------------------------------

    def put(self, record: FileRecord) -> None:
        self.db.execute(
            f"INSERT OR REPLACE INTO files ({_COLUMNS}, updated) VALUES (?,?,?,?,?,?,?,?,?,?)",
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

    def set_meta(self, values: dict[str, str]) -> None:
        self.db.execute("BEGIN")
        self.db.executemany(
            "INSERT OR REPLACE INTO daemon (key, value) VALUES (?, ?)", values.items()
        )
        self.db.execute("COMMIT")

    def clear_meta(self) -> None:
        self.db.execute("DELETE FROM daemon")
