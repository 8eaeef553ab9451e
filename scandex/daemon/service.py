"""The daemon: watch folders, let files settle, OCR them, write hOCR beside them, index them.

`run()` is the whole life of the daemon, top to bottom; `Daemon` holds the bookkeeping each
step of the loop needs. The SQLite state store is the truth and filesystem events are hints:
every decision is made by looking at the file and its record, so a missed, doubled or
reordered event cannot make the index wrong, only late.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from scandex.config import Config
from scandex.daemon.events import EventSource, WatchdogSource
from scandex.daemon.filters import FilterRules, is_scan, is_watched_folder
from scandex.daemon.folders import check_readable, check_writable, rights_message, walk_scans
from scandex.daemon.lock import DaemonLock
from scandex.daemon.notify import Notifier
from scandex.daemon.state import DONE, FAILED, PENDING, FileRecord, StateStore, file_sha256
from scandex.daemon.worker import (
    EngineFactory,
    HocrFiles,
    Job,
    JobResult,
    ScandexEngine,
    ScandexHocr,
    WorkerPool,
    is_foreign_hocr,
    same_file_state,
    write_hocr_with_fallback,
)
from scandex.errors import ConfigError
from scandex.indexer import IndexWriter
from scandex.page import Document

log = logging.getLogger("scandex.daemon")

TICK_SECONDS = 0.2  # how long the loop waits for events before looking at its queues
HASH_BUDGET_SECONDS = 0.5  # hashing per turn, so results keep flowing during a big drop
COMMIT_EVERY_SECONDS = 5.0  # index commit interval while busy; at once when idle
PUBLISH_EVERY_SECONDS = 1.0  # status for `scandex status` and systemd
META_REFRESH_SECONDS = 10.0  # unchanged status is rewritten this often (status: "alive")
SHUTDOWN_GRACE_SECONDS = 20.0  # time given to files in flight at shutdown
VANISH_MAX_WAIT_SECONDS = 600.0  # a deletion waits for unhashed files that may be its rename


def run(
    config: Config,
    *,
    stop: threading.Event,
    hurry: threading.Event | None = None,
    engine: EngineFactory | None = None,
    index: IndexWriter | None = None,
    events: EventSource | None = None,
    hocr: HocrFiles | None = None,
) -> int:
    """Run the daemon until `stop` is set (SIGTERM/SIGINT set it); returns the exit status.

    `hurry` (a second signal) cuts the wait for files in flight short. The engine, index,
    event source and hOCR files default to the real ones; tests pass small real ones.
    """
    hurry = hurry or threading.Event()
    notifier = Notifier()
    with contextlib.ExitStack() as cleanup:
        # 1. Own the state folder, and check every watched folder before promising anything.
        lock = DaemonLock(config.state_dir)
        _acquire(lock, config.state_dir)
        cleanup.callback(lock.release)
        prepare_folders(config)
        store = StateStore(config.db_path)
        cleanup.callback(store.close)
        if index is None:
            from scandex.indexer import open_index

            index = open_index(config.index_dir, writable=True)
        cleanup.callback(index.close)
        daemon = Daemon(config, store, index, hocr or ScandexHocr())
        daemon.heartbeat = notifier.alive
        daemon.reconcile_index()

        # 2. Watch before the start-up scan, so nothing written in between is missed.
        source = events or WatchdogSource(
            config.watch.paths, recursive=config.watch.recursive, polling=config.watch.polling
        )
        source.start()
        cleanup.callback(source.stop)
        pool = WorkerPool(
            config.ocr.worker_count,
            engine
            or ScandexEngine(
                config.ocr.model,
                config.ocr.columns,
                config.ocr.max_pixels,
                config.ocr.lexicon_params,
            ),
            daemon.hocr,
            timeout_seconds=config.ocr.timeout_seconds,
        )
        cleanup.callback(pool.close)
        pool.start()
        daemon.pool = pool

        # 3. Catch up with whatever changed while we were down, then tell systemd we are up.
        daemon.rescan()
        notifier.ready(daemon.publish())
        log.info(
            "ready: watching %s with %d worker(s)%s",
            ", ".join(map(str, config.watch.paths)),
            pool.size,
            " (polling)" if getattr(source, "polling", False) else "",
        )

        # 4. The loop: events are hints; each step looks at the files and the state store.
        while not stop.is_set():
            hints, events_lost = source.get_hints(TICK_SECONDS)
            daemon.look_at(hints)
            if events_lost or daemon.rescan_due():
                daemon.rescan()
            if daemon.watch_again:
                daemon.watch_again = False
                source.stop()
                source.start()
            daemon.settle()
            daemon.finish(pool.collect())
            daemon.forget_vanished()
            daemon.dispatch()
            daemon.commit_if_due()
            notifier.status(daemon.publish())
            notifier.alive()

        # 5. Shutdown (SIGTERM and Ctrl-C both end up here): take no more work, let the
        # files in flight finish for a while, hand back the rest (still pending), commit.
        notifier.stopping()
        source.stop()
        in_flight = len(daemon.in_flight)
        if in_flight:
            log.info(
                "stopping: waiting up to %.0f s for %d file(s)", SHUTDOWN_GRACE_SECONDS, in_flight
            )
        daemon.finish(pool.drain(SHUTDOWN_GRACE_SECONDS, hurry.is_set))
        handed_back = len(pool.busy_paths)
        pool.close()
        daemon.commit_if_due(force=True)
        store.clear_meta()
        log.info("stopped%s", f"; {handed_back} file(s) left pending" if handed_back else "")
    return 0


def _acquire(lock: DaemonLock, state_dir: Path) -> None:
    try:
        lock.acquire()
    except PermissionError as exc:
        raise ConfigError("state_dir", rights_message(state_dir, "write", exc)) from None


def prepare_folders(config: Config) -> None:
    """Create a missing relative watched folder, check our rights on each, and say so.

    A folder we cannot read is fatal (the daemon would silently do nothing); one we cannot
    write to only moves its hOCR files to state_dir.
    """
    for folder in config.watch.paths:
        if not folder.exists():
            try:
                folder.mkdir()
            except OSError as exc:
                reason = f"cannot create {folder}: {exc.strerror}"
                raise ConfigError("watch.paths", reason, config.source) from None
            log.info("created watched folder %s", folder)
        problem = check_readable(folder)
        if problem:
            raise ConfigError("watch.paths", problem, config.source)
        problem = check_writable(folder)
        if problem:
            log.warning("%s; hOCR files for it go to %s", problem, config.fallback_hocr_dir)


@dataclass(frozen=True)
class _Settling:
    """A file seen changing: it is read once it has had this key for settle_seconds."""

    key: tuple[int, int, int]  # size, mtime_ns, inode
    since: float  # monotonic


def _key(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


class Daemon:
    """The bookkeeping behind run()'s loop. Only the loop's thread calls it."""

    def __init__(
        self, config: Config, store: StateStore, index: IndexWriter, hocr: HocrFiles
    ) -> None:
        self.config = config
        self.store = store
        self.index = index
        self.hocr = hocr
        self.pool: WorkerPool | None = None
        self.rules = FilterRules(config.watch.patterns, config.watch.ignore, config.watch.recursive)
        self.roots = tuple(sorted(config.watch.paths, key=lambda p: len(p.parts), reverse=True))
        self.settling: dict[str, _Settling] = {}
        self.vanished: dict[str, float] = {}  # path -> monotonic time it was found missing
        self.in_flight: dict[str, Job] = {}
        # Indexed but not yet committed: marked done in the store only after the commit, so
        # a kill at any moment leaves them pending, to be redone, never lost.
        self.uncommitted: dict[str, FileRecord] = {}
        self.index_dirty = False
        self.last_commit = time.monotonic()
        self.commit_retry_at = 0.0  # after a failed commit, wait before the next try
        self.last_rescan = time.monotonic()
        self.last_publish = 0.0
        self.last_meta_write = 0.0
        self.status_line = ""
        self.read_only_folders: set[str] = set()
        self.missing_roots: set[Path] = set()
        self.watch_again = False  # a folder came back: its watches died with it
        self.started = time.time()
        # Called during long walks and repairs: proof of progress for systemd's watchdog.
        self.heartbeat: Callable[[], None] = lambda: None

    # -- looking at files ---------------------------------------------------------------

    def rescan_due(self) -> bool:
        every = self.config.watch.rescan_seconds
        return every > 0 and time.monotonic() - self.last_rescan >= every

    def rescan(self) -> None:
        """Walk every folder: observe each scan, and note records whose file is gone."""
        self.last_rescan = time.monotonic()
        for root in self.config.watch.paths:
            if not root.is_dir():
                if root not in self.missing_roots:
                    log.warning("watched folder %s is missing; keeping its index entries", root)
                self.missing_roots.add(root)
                continue
            if root in self.missing_roots:  # an unmounted share came back: watch it anew
                log.info("watched folder %s is back", root)
                self.missing_roots.discard(root)
                self.watch_again = True
            walk = walk_scans(root, self.rules, (self.config.state_dir,), self.heartbeat)
            for path, st in walk.files.items():
                self.observe(path, st)
            unreadable = tuple(p.rstrip("/") + "/" for p in walk.unreadable)
            for record in self.store.under(str(root)):
                if record.path not in walk.files and not record.path.startswith(unreadable):
                    self.vanish(record.path)

    def look_at(self, hints: Iterable[Path]) -> None:
        """Act on event hints: each path is looked at as it is now."""
        for path in hints:
            root = self._root_of(path)
            if root is None or path.is_relative_to(self.config.state_dir):
                continue
            try:
                st = os.lstat(path)
            except OSError:
                if root.is_dir():  # a vanished share is not a deletion
                    for record in self.store.under(str(path)):
                        self.vanish(record.path)
                    for other in [p for p in self.settling if Path(p).is_relative_to(path)]:
                        del self.settling[other]
                continue
            if stat.S_ISDIR(st.st_mode) and is_watched_folder(path, root, self.rules):
                for file_path, file_st in walk_scans(path, self.rules).files.items():
                    self.observe(file_path, file_st)  # a folder moved or copied in
            elif stat.S_ISREG(st.st_mode) and is_scan(path, root, self.rules):
                self.observe(str(path), st)

    def _root_of(self, path: Path) -> Path | None:
        return next((root for root in self.roots if path.is_relative_to(root)), None)

    def observe(self, path: str, st: os.stat_result) -> None:
        """A scan exists with this stat: unchanged since its record, or (re)start settling."""
        self.vanished.pop(path, None)
        record = self._current(path)
        if record and (record.size, record.mtime_ns) == (st.st_size, st.st_mtime_ns):
            self.settling.pop(path, None)
            return
        previous = self.settling.get(path)
        if previous is None or previous.key != _key(st):
            if previous is None:
                log.debug("settling: %s", path)
            self.settling[path] = _Settling(_key(st), time.monotonic())

    def vanish(self, path: str) -> None:
        """The file is gone; it is forgotten a little later unless it turns out renamed."""
        if not os.path.lexists(path):
            self.vanished.setdefault(path, time.monotonic())
            self.settling.pop(path, None)

    def settle(self) -> None:
        """Hash each file that has not changed for settle_seconds, and take it in."""
        now = time.monotonic()
        budget_end = now + HASH_BUDGET_SECONDS
        for path, settling in list(self.settling.items()):
            if now - settling.since < self.config.watch.settle_seconds:
                continue
            if time.monotonic() > budget_end:
                break  # more next turn: results and dispatch must keep flowing
            try:
                before = os.stat(path)
                sha256 = file_sha256(Path(path)) if _key(before) == settling.key else ""
                st = os.stat(path)
            except FileNotFoundError:
                del self.settling[path]
                self.vanish(path)
                continue
            except OSError as exc:
                log.debug("cannot read %s yet: %s", path, exc.strerror)
                continue
            if not sha256 or _key(st) != settling.key:  # still changing: wait again
                self.settling[path] = _Settling(_key(st), time.monotonic())
                continue
            del self.settling[path]
            self.arrived(path, st, sha256)

    def arrived(self, path: str, st: os.stat_result, sha256: str) -> None:
        """A settled file with this content: unchanged, changed, renamed, or new."""
        record = self._current(path)
        if record and record.sha256 == sha256:  # touched, same content
            touched = dataclasses.replace(record, size=st.st_size, mtime_ns=st.st_mtime_ns)
            if record.state == FAILED:  # `touch` is how a user asks for another try
                touched = dataclasses.replace(touched, state=PENDING, attempts=0, next_attempt=0)
                log.info("touched: %s (failed before; queued again)", path)
            self._put(touched)
            return
        if record:
            self.uncommitted.pop(path, None)
            self.store.put(
                FileRecord(
                    path, st.st_size, st.st_mtime_ns, sha256, PENDING, hocr_path=record.hocr_path
                )
            )
            log.info("changed: %s (queued)", path)
            return
        moved_from = next(
            (
                r
                for r in self._twins(sha256)
                if r.path in self.vanished or not os.path.lexists(r.path)
            ),
            None,
        )
        if moved_from:
            self.move(moved_from, path, st)
            return
        self.store.put(FileRecord(path, st.st_size, st.st_mtime_ns, sha256, PENDING))
        log.info("new: %s (queued)", path)

    def move(self, old: FileRecord, new_path: str, st: os.stat_result) -> None:
        """Same content under a new name: carry the OCR over without redoing it."""
        self.vanished.pop(old.path, None)
        self.uncommitted.pop(old.path, None)
        self.store.delete(old.path)
        new = dataclasses.replace(
            old, path=new_path, size=st.st_size, mtime_ns=st.st_mtime_ns, hocr_path=None
        )
        doc = self._read_hocr(old) if old.state == DONE else None
        if doc is None:
            self.index.remove(old.path)
            self.index_dirty = True
            self._delete_hocr(old.hocr_path)
            self.store.put(
                dataclasses.replace(new, state=PENDING if old.state == DONE else old.state)
            )
            log.info("renamed: %s -> %s (queued)", old.path, new_path)
            return
        self.store.put(dataclasses.replace(new, state=PENDING))
        written = self._write_and_index(new, dataclasses.replace(doc, path=new_path))
        if written and written != old.hocr_path:
            self._delete_hocr(old.hocr_path)
        self.index.remove(old.path)
        log.info("renamed: %s -> %s (no OCR needed)", old.path, new_path)

    def forget_vanished(self) -> None:
        """Remove files that stayed gone: from the index, the store, and their hOCR."""
        if not self.vanished:
            return
        now = time.monotonic()
        grace_seconds = self.config.watch.settle_seconds + 1.0
        for path, since in list(self.vanished.items()):
            waited = now - since
            # Unhashed files may be this one renamed: wait for them, up to a limit.
            if waited < grace_seconds or (self.settling and waited < VANISH_MAX_WAIT_SECONDS):
                continue
            del self.vanished[path]
            record = self._current(path)
            if os.path.lexists(path) or record is None:
                continue
            self.index.remove(path)
            self.index_dirty = True
            self.uncommitted.pop(path, None)
            self.store.delete(path)
            deleted = [p for p in self._hocr_candidates(record) if self._delete_hocr(p)]
            log.info(
                "deleted: %s (removed from the index%s)",
                path,
                "".join(f", deleted {p}" for p in deleted),
            )

    def _hocr_candidates(self, record: FileRecord) -> list[str]:
        """The hOCR scandex wrote for a record; when none was recorded (the daemon was killed
        between writing it and recording it), wherever it would have gone, if it is ours."""
        if record.hocr_path:
            return [record.hocr_path]
        image = Path(record.path)
        places = (self._hocr_destination(image), self._fallback_destination(image))
        return [str(p) for p in places if p.is_file() and not is_foreign_hocr(p)]

    # -- OCR ------------------------------------------------------------------------------

    def dispatch(self) -> None:
        """Give due files to idle workers; identical copies reuse a finished twin's OCR."""
        pool = self.pool
        if pool is None or pool.idle == 0:
            return
        now = time.time()
        limit = pool.idle + len(self.in_flight) + len(self.uncommitted) + 32
        for record in self.store.due(now, limit):
            if pool.idle == 0:
                break
            path = record.path
            if path in self.in_flight or path in self.uncommitted:
                continue
            if path in self.settling or path in self.vanished:
                # Changing or gone: look again later, and let the files behind it through.
                later = now + self.config.watch.settle_seconds + 1.0
                self.store.put(dataclasses.replace(record, next_attempt=later))
                continue
            if record.size == 0:
                self.record_failure(record, "empty file (0 bytes)")
                continue
            twins = [t for t in self._twins(record.sha256) if t.path != path]
            done = [t for t in twins if t.state == DONE and t.hocr_path]
            if done and self.reuse(record, done[0]):
                continue
            if any(t.path in self.in_flight for t in twins):
                # An identical copy is being OCRed: look again once it is done.
                self.store.put(dataclasses.replace(record, next_attempt=now + 1.0))
                continue
            job = Job(
                path,
                record.sha256,
                str(self._hocr_destination(Path(path))),
                str(self._fallback_destination(Path(path))),
            )
            if not pool.submit(job):
                break  # a worker just died; it is replaced at the next collect
            self.in_flight[path] = job
            log.debug("ocr: %s", path)

    def reuse(self, record: FileRecord, twin: FileRecord) -> bool:
        """Index an identical copy from its twin's hOCR; False when that cannot be read."""
        doc = self._read_hocr(twin)
        if doc is None:
            return False
        written = self._write_and_index(record, dataclasses.replace(doc, path=record.path))
        if written:
            log.info(
                "copy: %s is identical to %s; reused its OCR -> %s", record.path, twin.path, written
            )
        return True

    def finish(self, results: list[JobResult]) -> None:
        """Take in the workers' results: index the documents, record the failures."""
        for result in results:
            path = result.job.path
            self.in_flight.pop(path, None)
            record = self._current(path)
            if record is None or record.sha256 != result.job.sha256:
                # Deleted or changed while it was read: this result describes nothing now.
                if record is None and result.hocr_path and not os.path.lexists(path):
                    self._delete_hocr(result.hocr_path)
                continue
            if not same_file_state(Path(path), record.size, record.mtime_ns):
                self.look_at([Path(path)])  # still being written: settle again, no attempt
                continue
            if result.error or result.document is None:
                self.record_failure(record, result.error or "no result")
                continue
            assert result.hocr_path is not None
            self._note_fallback(result.hocr_path, result.fallback_reason)
            if record.hocr_path and record.hocr_path != result.hocr_path:
                self._delete_hocr(record.hocr_path, except_owner=path)
            if self._index(record, result.document, result.hocr_path):
                pages = len(result.document.pages)
                lines = sum(len(page.lines) for page in result.document.pages)
                log.info(
                    "done: %s: %d page(s), %d line(s) in %.1f s -> %s",
                    path,
                    pages,
                    lines,
                    result.seconds,
                    result.hocr_path,
                )

    def record_failure(self, record: FileRecord, reason: str) -> None:
        """Count a failed attempt: retry later with backoff, or give up and show it."""
        attempts = record.attempts + 1
        total = self.config.ocr.retries + 1
        if attempts >= total:
            state, next_attempt = FAILED, 0.0
            log.error("failed: %s: %s (gave up after %d attempt(s))", record.path, reason, attempts)
        else:
            delay_seconds = self.config.ocr.retry_seconds * 2 ** (attempts - 1)
            state, next_attempt = PENDING, time.time() + delay_seconds
            log.warning(
                "failed: %s: %s (attempt %d of %d; retry in %.3g s)",
                record.path,
                reason,
                attempts,
                total,
                delay_seconds,
            )
        self.store.put(
            dataclasses.replace(
                record, state=state, attempts=attempts, last_error=reason, next_attempt=next_attempt
            )
        )

    # -- the index ------------------------------------------------------------------------

    def commit_if_due(self, *, force: bool = False) -> None:
        """Commit the index when idle, every few seconds when busy; then mark files done."""
        if not self.index_dirty:
            return
        now = time.monotonic()
        if now < self.commit_retry_at and not force:
            return
        if not (force or not self.in_flight or now - self.last_commit >= COMMIT_EVERY_SECONDS):
            return
        self.last_commit = now
        try:
            self.index.commit()
        except Exception as exc:  # disk full, say: keep the batch and try again later
            log.error("index commit failed (will retry): %s: %s", type(exc).__name__, exc)
            self.commit_retry_at = now + COMMIT_EVERY_SECONDS
            return
        self.store.put_many(list(self.uncommitted.values()))
        self.uncommitted.clear()
        self.index_dirty = False

    def reconcile_index(self) -> None:
        """Make the index agree with the store after a crash: drop entries for files the
        store does not know, re-add done files that are missing (from their hOCR)."""
        indexed = self.index.paths()
        records = {r.path: r for r in self.store.all()}
        for path in indexed - records.keys():
            self.index.remove(path)
            self.index_dirty = True
        for record in records.values():
            self.heartbeat()
            if record.state == DONE and record.path not in indexed:
                doc = self._read_hocr(record)
                if doc is None:
                    self.store.put(dataclasses.replace(record, state=PENDING))
                    continue
                self._index(record, dataclasses.replace(doc, path=record.path), record.hocr_path)
        if self.index_dirty:
            log.info("index repaired to match the state store")
        self.commit_if_due(force=True)

    def _index(self, record: FileRecord, doc: Document, hocr_path: str | None) -> bool:
        try:
            self.index.add(doc, hocr_path=hocr_path)
        except Exception as exc:  # one document the index refuses must not stop the daemon
            log.debug("indexing %s failed", record.path, exc_info=True)
            self.record_failure(record, f"indexing failed: {type(exc).__name__}: {exc}")
            return False
        self.index_dirty = True
        self.uncommitted[record.path] = dataclasses.replace(
            record,
            state=DONE,
            attempts=0,
            last_error=None,
            hocr_path=hocr_path,
            next_attempt=0.0,
        )
        return True

    def _write_and_index(self, record: FileRecord, doc: Document) -> str | None:
        """Write hOCR for `record` from a document we already have, and index it."""
        image = Path(record.path)
        try:
            written, reason = write_hocr_with_fallback(
                doc, self.hocr, self._hocr_destination(image), self._fallback_destination(image)
            )
        except OSError as exc:
            self.record_failure(record, f"cannot write hOCR: {exc.strerror}")
            return None
        self._note_fallback(str(written), reason)
        return str(written) if self._index(record, doc, str(written)) else None

    # -- hOCR files -----------------------------------------------------------------------

    def _hocr_destination(self, image: Path) -> Path:
        """Next to the image; `{name}.hocr` when another image already has `{stem}.hocr`."""
        destination = image.parent / self.config.ocr.hocr_file_name(image)
        taken = {r.hocr_path for r in self._hocr_owners(str(destination)) if r.path != str(image)}
        taken |= {j.hocr_path for j in self.in_flight.values() if j.path != str(image)}
        if str(destination) in taken:
            return image.parent / f"{image.name}.hocr"
        return destination

    def _hocr_owners(self, hocr_path: str) -> list[FileRecord]:
        rows = self.store.db.execute("SELECT path FROM files WHERE hocr_path = ?", (hocr_path,))
        return [r for (p,) in rows if (r := self.store.get(p)) is not None]

    def _fallback_destination(self, image: Path) -> Path:
        relative = image.parent.relative_to(image.anchor)
        return self.config.fallback_hocr_dir / relative / self.config.ocr.hocr_file_name(image)

    def _note_fallback(self, written: str, reason: str | None) -> None:
        if reason and reason not in self.read_only_folders:
            self.read_only_folders.add(reason)
            log.warning("%s: hOCR goes to %s instead", reason, Path(written).parent)

    def _read_hocr(self, record: FileRecord) -> Document | None:
        if not record.hocr_path:
            return None
        try:
            return self.hocr.read(Path(record.hocr_path))
        except Exception as exc:  # missing, damaged or foreign: the file is OCRed again
            log.debug("cannot reuse %s: %s", record.hocr_path, exc)
            return None

    def _delete_hocr(self, hocr_path: str | None, *, except_owner: str = "") -> bool:
        """Delete an hOCR file scandex wrote, unless another record still uses it."""
        if not hocr_path or any(r.path != except_owner for r in self._hocr_owners(hocr_path)):
            return False
        if any(r.hocr_path == hocr_path for r in self.uncommitted.values()):
            return False
        try:
            os.unlink(hocr_path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            log.warning("cannot delete %s: %s", hocr_path, exc.strerror)
            return False
        return True

    # -- records --------------------------------------------------------------------------

    def _current(self, path: str) -> FileRecord | None:
        return self.uncommitted.get(path) or self.store.get(path)

    def _put(self, record: FileRecord) -> None:
        if record.path in self.uncommitted:
            self.uncommitted[record.path] = record
        else:
            self.store.put(record)

    def _twins(self, sha256: str) -> list[FileRecord]:
        records = {r.path: r for r in self.store.with_hash(sha256)}
        records.update({p: r for p, r in self.uncommitted.items() if r.sha256 == sha256})
        return list(records.values())

    # -- status ---------------------------------------------------------------------------

    def publish(self) -> str:
        """Write the live numbers for `scandex status`; return systemd's STATUS line."""
        now = time.monotonic()
        if now - self.last_publish < PUBLISH_EVERY_SECONDS and self.status_line:
            return self.status_line
        self.last_publish = now
        counts = self.store.counts()
        waiting = self.store.waiting_retry(time.time())
        queued = max(0, counts[PENDING] - waiting - len(self.in_flight) - len(self.uncommitted))
        line = (
            f"{queued} queued, {len(self.in_flight)} in progress, {len(self.settling)} settling,"
            f" {counts[DONE] + len(self.uncommitted)} done, {counts[FAILED]} failed"
        )
        # An idle daemon rewrites its unchanged numbers only now and then: fewer disk writes.
        if line == self.status_line and now - self.last_meta_write < META_REFRESH_SECONDS:
            return line
        self.status_line = line
        self.last_meta_write = now
        self.store.set_meta(
            {
                "pid": str(os.getpid()),
                "started": f"{self.started:.3f}",
                "updated": f"{time.time():.3f}",
                "queued": str(queued),
                "in_progress": str(len(self.in_flight)),
                "settling": str(len(self.settling)),
                "waiting_retry": str(waiting),
                "workers": str(self.pool.size if self.pool else 0),
            }
        )
        return self.status_line
