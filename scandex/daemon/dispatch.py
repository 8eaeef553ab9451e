"""Giving files to the workers, taking their results, and backing off after failures.

New and changed scans go first, oldest first. When workers are left idle, done files are
read again, newest first: those a user asked for (`scandex reocr`) and, with
`ocr.reocr = "auto"`, those read by another model than the configured one. A file being
read again stays done, and searchable with its old text, until the new text replaces it in
one index commit. An identical copy of a file already read by the configured model reuses
its OCR.

A failure in the file itself (not an image, empty, truncated, too large, a link) fails at
once; others (gone for now, permission, timeout, out of memory) are retried after
`ocr.retry_seconds`, doubling each time, `ocr.retries` times.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

from scandex.config import Config
from scandex.daemon.arrivals import Arrivals
from scandex.daemon.hocr_files import HocrOwner
from scandex.daemon.reading import ReadError, read_scan, scan_stat
from scandex.daemon.records import Records
from scandex.daemon.searchable_pdfs import carry_pdf, write_pdf
from scandex.daemon.state import DONE, FAILED, PENDING, FileRecord
from scandex.daemon.worker import Job, JobResult, WorkerSet
from scandex.errors import ScandexError

log = logging.getLogger("scandex.daemon")

# After finding nothing to read again, look again this much later (or at once after a
# reload or a `scandex reocr` request).
REREAD_IDLE_SECONDS = 5.0


class Dispatcher:
    """Only the loop's thread calls it."""

    def __init__(
        self,
        config: Config,
        records: Records,
        hocr: HocrOwner,
        arrivals: Arrivals,
        workers: WorkerSet,
    ) -> None:
        self.records = records
        self.hocr = hocr
        self.arrivals = arrivals
        self.workers = workers
        self.in_flight: dict[str, Job] = {}
        self.rereading: set[str] = set()  # in flight, and done already: read again
        self._reread_after = 0.0  # monotonic
        self.apply(config)

    def apply(self, config: Config) -> None:
        """Use these settings from now on (start, and each reload)."""
        self.config = config
        self._reread_after = 0.0

    @property
    def model(self) -> str:
        assert self.workers.model is not None
        return self.workers.model.id

    # -- dispatch

    def dispatch(self) -> None:
        """Give due files to idle workers: new ones first, then files to read again."""
        if self.workers.idle == 0:
            return
        now = time.time()
        limit = self.workers.idle + len(self.in_flight) + self.records.uncommitted_count + 32
        for record in self.records.store.due(now, limit):
            if self.workers.idle == 0:
                return
            path = record.path
            if path in self.in_flight or self.records.awaiting_commit(path):
                continue
            if self.arrivals.is_moving(path):
                # Changing or gone: look again later, and let the files behind it through.
                later = now + self.config.watch.settle_seconds + 1.0
                self.records.put(dataclasses.replace(record, next_attempt=later))
                continue
            if record.size == 0:
                self.fail(record, "empty file (0 bytes)", permanent=True)
                continue
            self._start(record, now)
        self._dispatch_rereads(now, limit)

    def _dispatch_rereads(self, now: float, limit: int) -> None:
        mode = self.config.ocr.reocr
        if mode == "off" or self.workers.idle == 0 or time.monotonic() < self._reread_after:
            return
        found = self.records.store.to_reread(
            self.model,
            now,
            limit,
            requested_only=mode == "manual",
            max_attempts=self.config.ocr.retries + 1,
        )
        if not found:
            self._reread_after = time.monotonic() + REREAD_IDLE_SECONDS
        for record in found:
            if self.workers.idle == 0:
                return
            path = record.path
            if path in self.in_flight or self.records.awaiting_commit(path):
                continue
            if self.arrivals.is_moving(path):
                continue
            if self._start(record, now):
                self.rereading.add(path)

    def _start(self, record: FileRecord, now: float) -> bool:
        """OCR `record` (or reuse an identical copy's OCR); False when it has to wait."""
        path = record.path
        twins = [t for t in self.records.twins(record.sha256) if t.path != path]
        done = [t for t in twins if t.state == DONE and t.hocr_path and t.model == self.model]
        if done and not done[0].reocr and self.reuse(record, done[0]):
            return False
        if any(t.path in self.in_flight for t in twins):
            # An identical copy is being OCRed: look again once it is done.
            if record.state == PENDING:
                self.records.put(dataclasses.replace(record, next_attempt=now + 1.0))
            return False
        destination = self.hocr.destination(Path(path))
        job = Job(
            path,
            record.sha256,
            str(destination),
            str(self.hocr.places.fallback(destination)),
            size=record.size,
            pdf=self.config.output.pdf,
            pdfa=self.config.output.pdfa,
        )
        if not self.workers.submit(job):
            return False  # a worker just died; it is replaced at the next collect
        self.in_flight[path] = job
        self.hocr.claim(path, job.hocr_path)
        log.debug("ocr: %s", path)
        return True

    def reuse(self, record: FileRecord, twin: FileRecord) -> bool:
        """Index an identical copy from its twin's hOCR; False when that cannot be read."""
        doc = self.hocr.read(twin)
        if doc is None:
            return False
        doc = dataclasses.replace(doc, path=record.path)
        try:
            written = str(self.hocr.write(doc, Path(record.path), twin.model))
        except OSError as exc:
            self.fail(record, f"cannot write hOCR: {exc.strerror}", permanent=False)
            return True
        if self.config.output.pdf:  # as a file read now would get it
            carry_pdf(twin.hocr_path, written, keep_old=True)
        if self._index(record, doc, written, twin.model):
            log.info(
                "copy: %s is identical to %s; reused its OCR -> %s", record.path, twin.path, written
            )
        return True

    # -- results

    def finish(self, results: list[JobResult]) -> None:
        """Take in the workers' results: index the documents, record the failures."""
        for result in results:
            path = result.job.path
            self.in_flight.pop(path, None)
            self.hocr.release(result.job.hocr_path)
            self.rereading.discard(path)
            record = self.records.get(path)
            if record is None or record.sha256 != result.job.sha256:
                # Deleted or changed while it was read: this result describes nothing now.
                if record is None and result.hocr_path:
                    self.hocr.delete(result.hocr_path)
                continue
            if not self._unchanged(record):
                self.arrivals.look_at([Path(path)])  # still being written: settle again
                continue
            if result.error or result.document is None:
                reason = result.error or "no result"
                self.fail(record, reason, permanent=result.permanent, model=result.model)
                continue
            document = result.document
            if result.hocr_path is None:
                result = self._write_here(record, result)
                if result.hocr_path is None:
                    continue
            self.hocr.note_fallback(Path(result.hocr_path), result.fallback_reason)
            if record.hocr_path and record.hocr_path != result.hocr_path:
                self.hocr.delete(record.hocr_path, except_user=path)
            if result.partial:
                log.warning("%s: %s", path, result.partial)
            if self._index(record, document, result.hocr_path, result.model, result.partial):
                pages = len(document.pages)
                lines = sum(len(page.lines) for page in document.pages)
                log.info(
                    "%s: %s: %d page(s), %d line(s) in %.1f s -> %s",
                    "re-read" if record.state == DONE else "done",
                    path,
                    pages,
                    lines,
                    result.seconds,
                    result.hocr_path,
                )

    def _write_here(self, record: FileRecord, result: JobResult) -> JobResult:
        """A worker on another machine could not write the hOCR beside the scan (a folder
        it may not write, someone else's file there): the daemon writes it by its own
        rules (beside the scan, else in state_dir/hocr), and the searchable PDF with it."""
        assert result.document is not None
        try:
            written = self.hocr.write(result.document, Path(record.path), result.model)
        except OSError as exc:
            self.fail(record, f"cannot write hOCR: {exc.strerror or exc}", permanent=False)
            return result
        problems = [result.partial]
        if result.job.pdf:
            try:
                data = read_scan(record.path, self.arrivals.read_rules, record.sha256)
            except ScandexError as exc:
                problems.append(f"searchable PDF not written: {exc}")
            else:
                problems.append(
                    write_pdf(
                        data,
                        result.document,
                        set(result.text_pages),
                        written,
                        Path(record.path),
                        pdfa=result.job.pdfa,
                    )
                )
        partial = "; ".join(p for p in problems if p)
        return dataclasses.replace(result, hocr_path=str(written), partial=partial)

    def _unchanged(self, record: FileRecord) -> bool:
        """True when the file still has the size and mtime it had when it settled."""
        try:
            st = scan_stat(record.path, self.arrivals.read_rules)
        except (OSError, ReadError):
            return False
        return (st.st_size, st.st_mtime_ns) == (record.size, record.mtime_ns)

    def _index(
        self, record: FileRecord, doc, hocr_path: str, model: str | None, partial: str = ""
    ) -> bool:
        try:
            self.records.indexed(record, doc, hocr_path, model, partial)
        except Exception as exc:  # one document the index refuses must not stop the daemon
            log.debug("indexing %s failed", record.path, exc_info=True)
            reason = f"indexing failed: {type(exc).__name__}: {exc}"
            self.fail(record, reason, permanent=False, model=model or "")
            return False
        return True

    def fail(self, record: FileRecord, reason: str, *, permanent: bool, model: str = "") -> None:
        """Count a failed attempt at reading a file (new, changed, or done and read again)."""
        if record.state == DONE:
            self._reread_failed(record, reason, model or self.model)
        else:
            self._failed(record, reason, permanent)

    def _failed(self, record: FileRecord, reason: str, permanent: bool) -> None:
        """Retry later with backoff, or give up and show it; permanent failures at once."""
        attempts = record.attempts + 1
        total = self.config.ocr.retries + 1
        if permanent or attempts >= total:
            state, next_attempt = FAILED, 0.0
            why = "not retried" if permanent else f"gave up after {attempts} attempt(s)"
            log.error("failed: %s: %s (%s)", record.path, reason, why)
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
        self.records.failed(
            dataclasses.replace(
                record, state=state, attempts=attempts, last_error=reason, next_attempt=next_attempt
            )
        )

    def _reread_failed(self, record: FileRecord, reason: str, model: str) -> None:
        """Reading a done file again failed: it keeps its text (and its record's last_error,
        which for a done file says what of it could not be read); try again later, a few
        times; `scandex status` counts the files given up on (model.not_read_again)."""
        attempts = record.attempts + 1
        total = self.config.ocr.retries + 1
        delay_seconds = self.config.ocr.retry_seconds * 2 ** (attempts - 1)
        message = f"reading it again with {model} failed: {reason}"
        if attempts >= total:
            log.error("%s: %s (keeping its text from %s)", record.path, message, record.model)
        else:
            log.warning("%s: %s (retry in %.3g s)", record.path, message, delay_seconds)
        self.records.put(
            dataclasses.replace(record, attempts=attempts, next_attempt=time.time() + delay_seconds)
        )

    # -- requests from other commands

    def take_requests(self) -> None:
        """Act on `scandex reocr` requests waiting in the state store."""
        for request in self.records.store.requests():
            if request.kind == "reocr":
                if self.config.ocr.reocr == "off":
                    log.warning("re-OCR request for %r ignored: ocr.reocr is off", request.prefix)
                else:
                    count = self.records.request_reocr(request.prefix)
                    where = f" under {request.prefix}" if request.prefix else ""
                    log.info("re-OCR requested for %d scan(s)%s", count, where)
                    self._reread_after = 0.0
            self.records.store.delete_request(request.id)
