"""The state store and the index kept in step: a file is done only after its index commit.

Every change the daemon makes to a file's record or to the index goes through `Records`. A
document given to `indexed` is added to the index at once but marked done in the store only
after the index commit that makes it searchable; until then its record lives here, in
`_uncommitted`. So a kill at any moment leaves it pending (or done with its previous text),
to be redone, never lost and never doubled.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from scandex.daemon.state import DONE, FAILED, PENDING, FileRecord, StateStore
from scandex.indexer import IndexWriter
from scandex.page import Document

log = logging.getLogger("scandex.daemon")

COMMIT_EVERY_SECONDS = 5.0  # index commit interval while busy; at once when idle


class Records:
    """Only the loop's thread calls it."""

    def __init__(self, store: StateStore, index: IndexWriter) -> None:
        self.store = store
        self.index = index
        self._uncommitted: dict[str, FileRecord] = {}
        self._rereads: set[str] = set()  # of those, files that were done already
        self._dirty = False  # the index has changes not yet committed
        self._last_commit = time.monotonic()
        self._retry_at = 0.0  # after a failed commit, wait before the next try

    # -- reading

    def get(self, path: str) -> FileRecord | None:
        """The file's record as the daemon sees it (including what awaits the commit)."""
        return self._uncommitted.get(path) or self.store.get(path)

    def twins(self, sha256: str) -> list[FileRecord]:
        """Every record with this content."""
        records = {r.path: r for r in self.store.with_hash(sha256)}
        records.update({p: r for p, r in self._uncommitted.items() if r.sha256 == sha256})
        return list(records.values())

    def hocr_users(self, hocr_path: str) -> list[str]:
        """The paths of the files whose record names this hOCR file."""
        users = {r.path for r in self.store.with_hocr(hocr_path)}
        users |= {p for p, r in self._uncommitted.items() if r.hocr_path == hocr_path}
        return sorted(users)

    def awaiting_commit(self, path: str) -> bool:
        return path in self._uncommitted

    @property
    def uncommitted_count(self) -> int:
        return len(self._uncommitted)

    @property
    def newly_done_count(self) -> int:
        """Files that become done with the next commit and were not done before."""
        return len(self._uncommitted.keys() - self._rereads)

    # -- writing

    def put(self, record: FileRecord) -> None:
        """Record a state that needs no index change (queued, touched, retry later)."""
        if record.path in self._uncommitted:
            self._uncommitted[record.path] = record
        else:
            self.store.put(record)

    def replace(self, record: FileRecord) -> None:
        """Record new content for a file: whatever awaited the commit for it is moot."""
        self._drop(record.path)
        self.store.put(record)

    def _drop(self, path: str) -> None:
        self._uncommitted.pop(path, None)
        self._rereads.discard(path)

    def indexed(
        self,
        record: FileRecord,
        doc: Document,
        hocr_path: str,
        model: str | None,
        partial: str = "",
    ) -> None:
        """Index `doc` for `record`; it becomes done with the next commit (keeping `partial`,
        what could not be read of it, as its last error). Raises what the index raises for a
        document it refuses."""
        self.index.add(doc, hocr_path=hocr_path)
        self._dirty = True
        if record.state == DONE:
            self._rereads.add(record.path)
        self._uncommitted[record.path] = dataclasses.replace(
            record,
            state=DONE,
            attempts=0,
            last_error=partial or None,
            hocr_path=hocr_path,
            next_attempt=0.0,
            model=model,
            reocr=False,
        )

    def unindex(self, path: str) -> None:
        """Remove a path's pages from the index with the next commit (its record stays)."""
        self.index.remove(path)
        self._dirty = True

    def failed(self, record: FileRecord) -> None:
        """A file given up on: its old text describes content that is no longer there."""
        self._drop(record.path)
        if record.state == FAILED:
            self.unindex(record.path)
        self.store.put(record)

    def forget(self, path: str) -> None:
        """The file is gone: out of the index and the store."""
        self.unindex(path)
        self._drop(path)
        self.store.delete(path)

    def request_reocr(self, prefix: str) -> int:
        """Flag done files under `prefix` (state.under_prefix) to be read again."""
        count = self.store.mark_reocr(prefix)
        for path, record in self._uncommitted.items():
            if path == prefix or path.startswith(prefix):
                self._uncommitted[path] = dataclasses.replace(record, reocr=True)
                count += 1
        return count

    # -- the commit

    def commit_if_due(self, *, busy: bool, force: bool = False) -> None:
        """Commit the index when idle, every few seconds when busy; then mark files done."""
        if not self._dirty:
            return
        now = time.monotonic()
        if not force and now < self._retry_at:
            return
        if not force and busy and now - self._last_commit < COMMIT_EVERY_SECONDS:
            return
        self._last_commit = now
        try:
            self.index.commit()
        except Exception as exc:  # disk full, say: keep the batch and try again later
            log.error("index commit failed (will retry): %s: %s", type(exc).__name__, exc)
            self._retry_at = now + COMMIT_EVERY_SECONDS
            return
        self.store.put_many(list(self._uncommitted.values()))
        self._uncommitted.clear()
        self._rereads.clear()
        self._dirty = False

    def reconcile(
        self, read_hocr: Callable[[FileRecord], Document | None], heartbeat: Callable[[], None]
    ) -> None:
        """Make the index agree with the store after a crash: drop entries of files the store
        does not know or has given up on, re-add done files that are missing (from their
        hOCR; a file whose hOCR cannot be read is OCRed again)."""
        indexed = self.index.paths()
        records = {r.path: r for r in self.store.all()}
        for path in indexed:
            record = records.get(path)
            if record is None or record.state == FAILED:
                self.unindex(path)
        for record in records.values():
            heartbeat()
            if record.state != DONE or record.path in indexed:
                continue
            doc = read_hocr(record)
            if doc is None:
                self.store.put(dataclasses.replace(record, state=PENDING))
                continue
            self.index.add(dataclasses.replace(doc, path=record.path), hocr_path=record.hocr_path)
            self._dirty = True
        if self._dirty:
            log.info("index repaired to match the state store")
        self.commit_if_due(busy=False, force=True)
