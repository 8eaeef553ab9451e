"""Files arriving, changing, moving and leaving: from filesystem hints to queued work.

A path seen (by an event hint or a walk) is looked at as it is now, with lstat. A scan whose
size, mtime or inode changes starts settling; once it has been unchanged for
`watch.settle_seconds` it is hashed, and the hash decides what happened: the same content
(touched), new content (changed), the content of a file that just vanished (renamed: the
OCR moves with it), or new. A file found missing waits a little before it is forgotten, in
case it turns out renamed.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from scandex.config import Config
from scandex.daemon.filters import FilterRules, is_scan, is_watched_folder
from scandex.daemon.folders import walk_scans
from scandex.daemon.hocr_files import HocrOwner
from scandex.daemon.reading import ReadError, ReadRules, hash_scan, scan_stat, too_large
from scandex.daemon.records import Records
from scandex.daemon.searchable_pdfs import carry_pdf
from scandex.daemon.state import DONE, FAILED, PENDING, FileRecord

log = logging.getLogger("scandex.daemon")

HASH_BUDGET_SECONDS = 0.5  # hashing per turn, so results keep flowing during a big drop
VANISH_MAX_WAIT_SECONDS = 600.0  # a deletion waits for unhashed files that may be its rename


@dataclass(frozen=True)
class _Settling:
    """A file seen changing: it is read once it has had this key for settle_seconds."""

    key: tuple[int, int, int]  # size, mtime_ns, inode
    since: float  # monotonic
    failures: int = 0  # attempts to hash it that failed (permission, I/O)
    not_before: float = 0.0  # monotonic; after a failure, wait with backoff


def _key(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def read_rules(config: Config) -> ReadRules:
    return ReadRules(config.watch.paths, config.watch.follow_symlinks, config.ocr.max_file_bytes)


class Arrivals:
    """Settling and vanishing files, and what their arrival means. Only the loop's thread
    calls it."""

    def __init__(self, config: Config, records: Records, hocr: HocrOwner) -> None:
        self.records = records
        self.hocr = hocr
        self.settling: dict[str, _Settling] = {}
        self.vanished: dict[str, float] = {}  # path -> monotonic time it was found missing
        self.missing_roots: set[Path] = set()
        self.watch_again = False  # a folder came back: its watches died with it
        self.last_rescan = time.monotonic()
        self._links_reported: set[str] = set()
        # Called during long walks: proof of progress for systemd's watchdog.
        self.heartbeat: Callable[[], None] = lambda: None
        self.apply(config)

    def apply(self, config: Config) -> None:
        """Use these settings from now on (start, and each reload)."""
        self.config = config
        self.rules = FilterRules(config.watch.patterns, config.watch.ignore, config.watch.recursive)
        self.read_rules = read_rules(config)
        self.roots = tuple(sorted(config.watch.paths, key=lambda p: len(p.parts), reverse=True))

    def is_moving(self, path: str) -> bool:
        """Changing or gone right now: not a file to give a worker."""
        return path in self.settling or path in self.vanished

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
            for record in self.records.store.under(str(root)):
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
                    for record in self.records.store.under(str(path)):
                        self.vanish(record.path)
                    for other in [p for p in self.settling if Path(p).is_relative_to(path)]:
                        del self.settling[other]
                continue
            if stat.S_ISDIR(st.st_mode) and is_watched_folder(path, root, self.rules):
                for file_path, file_st in walk_scans(path, self.rules).files.items():
                    self.observe(file_path, file_st)  # a folder moved or copied in
            elif is_scan(path, root, self.rules):
                self.observe(str(path), st)

    def _root_of(self, path: Path) -> Path | None:
        return next((root for root in self.roots if path.is_relative_to(root)), None)

    def _scan_stat(self, path: str, st: os.stat_result | None = None) -> os.stat_result | None:
        """The stat to settle on when `path` holds a scan we may read, else None. A link we
        may not follow is reported once."""
        try:
            if st is None or stat.S_ISLNK(st.st_mode):
                st = scan_stat(path, self.read_rules)
        except ReadError as exc:
            if path not in self._links_reported:
                self._links_reported.add(path)
                log.warning("skipping %s: %s", path, exc.reason)
            return None
        except OSError:
            return None
        return st if stat.S_ISREG(st.st_mode) else None

    def observe(self, path: str, st: os.stat_result) -> None:
        """Something is at `path` (its lstat): a scan unchanged since its record, a scan to
        (re)start settling, or no longer a scan (a link put in its place)."""
        scan = self._scan_stat(path, st)
        if scan is None:
            self.vanish(path)
            return
        self.vanished.pop(path, None)
        record = self.records.get(path)
        if record and (record.size, record.mtime_ns) == (scan.st_size, scan.st_mtime_ns):
            self.settling.pop(path, None)
            return
        previous = self.settling.get(path)
        if previous is None or previous.key != _key(scan):
            if previous is None:
                log.debug("settling: %s", path)
            self.settling[path] = _Settling(_key(scan), time.monotonic())

    def vanish(self, path: str) -> None:
        """The scan is gone; it is forgotten a little later unless it turns out renamed."""
        if self._scan_stat(path) is None:
            self.vanished.setdefault(path, time.monotonic())
            self.settling.pop(path, None)

    def settle(self) -> None:
        """Hash each file that has not changed for settle_seconds, and take it in."""
        now = time.monotonic()
        budget_end = now + HASH_BUDGET_SECONDS
        for path, settling in list(self.settling.items()):
            if now - settling.since < self.config.watch.settle_seconds:
                continue
            if now < settling.not_before:
                continue
            if time.monotonic() > budget_end:
                break  # more next turn: results and dispatch must keep flowing
            before = self._scan_stat(path)
            if before is None:
                del self.settling[path]
                self.vanish(path)
                continue
            if _key(before) != settling.key:  # changed since we last looked: wait again
                self.settling[path] = _Settling(_key(before), time.monotonic())
                continue
            refused = too_large(before.st_size, self.read_rules)
            if refused:  # never hashed, never read
                del self.settling[path]
                self.refuse(path, before, refused)
                continue
            try:
                sha256, st = hash_scan(path, self.read_rules)
            except ReadError as exc:
                if exc.permanent or exc.vanished:
                    del self.settling[path]
                    self.vanish(path)
                else:
                    self._cannot_hash(path, settling, before, exc.reason)
                continue
            if _key(st) != settling.key:  # still changing: wait again
                self.settling[path] = _Settling(_key(st), time.monotonic())
                continue
            del self.settling[path]
            self.arrived(path, st, sha256)

    def _cannot_hash(self, path: str, settling: _Settling, st: os.stat_result, reason: str) -> None:
        """Reading failed in a way that may pass (a permission): try again with backoff, and
        after ocr.retries more tries record it failed, so `scandex status` shows why."""
        failures = settling.failures + 1
        total = self.config.ocr.retries + 1
        if failures >= total:
            del self.settling[path]
            self.refuse(path, st, reason, attempts=failures)
            return
        delay_seconds = self.config.ocr.retry_seconds * 2 ** (failures - 1)
        log.warning(
            "cannot read %s: %s (attempt %d of %d; retry in %.3g s)",
            path,
            reason,
            failures,
            total,
            delay_seconds,
        )
        self.settling[path] = dataclasses.replace(
            settling, failures=failures, not_before=time.monotonic() + delay_seconds
        )

    # -- what an arrival means ----------------------------------------------------------

    def refuse(self, path: str, st: os.stat_result, reason: str, *, attempts: int = 1) -> None:
        """A file that cannot be read at all (too large; unreadable after retries): failed,
        with the reason, never hashed. Touching or replacing it starts over."""
        old = self.records.get(path)
        record = FileRecord(
            path,
            st.st_size,
            st.st_mtime_ns,
            "",
            FAILED,
            attempts=attempts,
            last_error=reason,
            hocr_path=old.hocr_path if old else None,
        )
        self.records.failed(record)
        why = "not retried" if attempts == 1 else f"gave up after {attempts} attempt(s)"
        log.error("failed: %s: %s (%s)", path, reason, why)

    def arrived(self, path: str, st: os.stat_result, sha256: str) -> None:
        """A settled file with this content: unchanged, changed, renamed, or new."""
        record = self.records.get(path)
        if record and record.sha256 == sha256:  # touched, same content
            touched = dataclasses.replace(record, size=st.st_size, mtime_ns=st.st_mtime_ns)
            if record.state == FAILED:  # `touch` is how a user asks for another try
                touched = dataclasses.replace(touched, state=PENDING, attempts=0, next_attempt=0)
                log.info("touched: %s (failed before; queued again)", path)
            self.records.put(touched)
            return
        if record:
            changed = FileRecord(
                path, st.st_size, st.st_mtime_ns, sha256, PENDING, hocr_path=record.hocr_path
            )
            self.records.replace(changed)
            log.info("changed: %s (queued)", path)
            return
        moved_from = next(
            (r for r in self.records.twins(sha256) if self._scan_stat(r.path) is None), None
        )
        if moved_from:
            self.move(moved_from, path, st)
            return
        self.records.replace(FileRecord(path, st.st_size, st.st_mtime_ns, sha256, PENDING))
        log.info("new: %s (queued)", path)

    def move(self, old: FileRecord, new_path: str, st: os.stat_result) -> None:
        """Same content under a new name: carry the OCR over without redoing it."""
        self.vanished.pop(old.path, None)
        self.records.forget(old.path)
        moved = dataclasses.replace(
            old, path=new_path, size=st.st_size, mtime_ns=st.st_mtime_ns, hocr_path=None
        )
        doc = self.hocr.read(old) if old.state == DONE else None
        if doc is None:
            self.hocr.delete(old.hocr_path)
            state = PENDING if old.state == DONE else old.state
            self.records.put(dataclasses.replace(moved, state=state))
            log.info("renamed: %s -> %s (queued)", old.path, new_path)
            return
        queued = dataclasses.replace(moved, state=PENDING)
        self.records.put(queued)  # until the index commit: a kill leaves it to be redone
        doc = dataclasses.replace(doc, path=new_path)
        written: str | None = None
        try:
            written = str(self.hocr.write(doc, Path(new_path), old.model))
            self.records.indexed(queued, doc, written, old.model)
            log.info("renamed: %s -> %s (no OCR needed)", old.path, new_path)
        except Exception as exc:  # it is OCRed again instead
            log.warning("renamed: %s -> %s: %s; queued for OCR", old.path, new_path, exc)
        if written is not None:
            carry_pdf(old.hocr_path, written, keep_old=False)
        if written != old.hocr_path:
            self.hocr.delete(old.hocr_path)

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
            record = self.records.get(path)
            if record is None or self._scan_stat(path) is not None:
                continue
            self.records.forget(path)
            deleted = self.hocr.delete_all_for(record)
            log.info(
                "deleted: %s (removed from the index%s)",
                path,
                "".join(f", deleted {p}" for p in deleted),
            )
