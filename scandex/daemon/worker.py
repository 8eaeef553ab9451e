"""OCR in worker processes: the engine is built once per worker, each file has a deadline.

A small pool of our own rather than ProcessPoolExecutor, because a file that runs past its
timeout must be stopped without losing the others: each worker holds one file at a time, so
killing it (and starting a fresh one) fails exactly that file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import multiprocessing
import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from scandex.errors import ExitCode, ScandexError, ScanError, TemporaryError
from scandex.page import Document

if TYPE_CHECKING:
    from scandex.ocr.lexicon import LexiconParams

log = logging.getLogger("scandex.daemon")

# A worker is replaced after this many files, so memory a long-lived engine fragments or
# leaks is given back now and then (the next file waits for the model to load once more).
FILES_PER_WORKER = 500

# How long the workers may take to build their engines (load the model) at start.
WORKER_START_SECONDS = 300.0

# Write errors that mean "this folder is not ours to write": hOCR goes to state_dir instead.
NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)


class OcrEngine(Protocol):
    def ocr_file(self, path: Path) -> Document: ...


# Builds an engine inside a worker process (so the model is loaded once per worker). It is
# pickled to the worker, so it must be a module-level class or function.
EngineFactory = Callable[[], OcrEngine]


class HocrFiles(Protocol):
    """Reading and writing hOCR files (the writer is atomic)."""

    def write(self, doc: Document, path: Path) -> None: ...

    def read(self, path: Path) -> Document: ...


class ScandexHocr:
    """scandex's own hOCR writer and parser (scandex.ocr.hocr)."""

    def write(self, doc: Document, path: Path) -> None:
        from scandex.ocr.hocr import write_hocr

        write_hocr(doc, path)

    def read(self, path: Path) -> Document:
        from scandex.ocr.hocr import read_hocr_file

        return read_hocr_file(path)


@dataclass(frozen=True)
class _BoundEngine:
    ocr_file_fn: Callable[..., Document]
    params: Any

    def ocr_file(self, path: Path) -> Document:
        if self.params is None:
            return self.ocr_file_fn(path)
        return self.ocr_file_fn(path, self.params)


@dataclass(frozen=True)
class ScandexEngine:
    """The default engine factory: scandex.ocr.ocr_file with the [ocr] settings."""

    model: Path | None = None
    columns: int | None = None
    max_pixels: int | None = None
    lexicon: LexiconParams | None = None  # None = the default word lists

    def __call__(self) -> OcrEngine:
        import scandex.ocr as ocr  # heavy (onnxruntime): imported in the worker only

        params = ocr.OcrParams(model=self.model, columns=self.columns)
        if self.lexicon is not None:
            params = dataclasses.replace(params, lexicon=self.lexicon)
        if self.max_pixels is not None:
            params = dataclasses.replace(params, max_pixels=self.max_pixels)
        # Load the model now, once per worker: a bad model stops the daemon at start, and
        # the first scan does not pay for it.
        ocr.get_recognizer(params.model, params.threads, params.lexicon)
        return _BoundEngine(ocr.ocr_file, params)


class EngineStartError(ScandexError):
    """The OCR engine could not be built in a worker (a bad model, say); it keeps the exit
    status of the error the worker met."""

    def __init__(self, reason: str, exit_code: ExitCode) -> None:
        super().__init__(f"the OCR engine cannot start: {reason}")
        self.exit_code = exit_code


@dataclass(frozen=True)
class Job:
    path: str  # absolute image path
    sha256: str
    hocr_path: str  # where the hOCR should go: next to the image
    fallback_hocr_path: str  # where it goes when that folder is not writable


@dataclass(frozen=True)
class JobResult:
    job: Job
    document: Document | None = None
    hocr_path: str | None = None  # where the hOCR was written
    fallback_reason: str | None = None  # why it is not next to the image
    error: str | None = None
    seconds: float = 0.0


def write_hocr_with_fallback(
    doc: Document, hocr: HocrFiles, preferred: Path, fallback: Path
) -> tuple[Path, str | None]:
    """Write hOCR next to the image, or in the fallback place when that folder is read-only.

    Returns where it went, and the reason when that is the fallback.
    """
    if is_foreign_hocr(preferred):
        reason = f"{preferred} exists and was not written by scandex (kept as it is)"
    else:
        try:
            hocr.write(doc, preferred)
            return preferred, None
        except OSError as exc:
            if exc.errno not in NOT_WRITABLE:
                raise
            reason = f"{preferred.parent} is not writable ({exc.strerror})"
    fallback.parent.mkdir(parents=True, exist_ok=True)
    hocr.write(doc, fallback)
    return fallback, reason


_META_TAG = re.compile(rb"<meta\b[^>]*>", re.IGNORECASE)


def is_foreign_hocr(path: Path) -> bool:
    """True when `path` exists and is not an hOCR file scandex wrote (e.g. tesseract's)."""
    try:
        with path.open("rb") as f:
            head = f.read(8192)
    except FileNotFoundError:
        return False
    except OSError:
        return True  # unreadable: certainly not ours to replace
    for tag in _META_TAG.findall(head):
        if b"ocr-system" in tag:
            return b"scandex" not in tag
    return True


def run_job(engine: OcrEngine, hocr: HocrFiles, job: Job) -> JobResult:
    """OCR one file and write its hOCR; every failure becomes a reason, never an exception."""
    started = time.monotonic()
    try:
        doc = engine.ocr_file(Path(job.path))
        doc = dataclasses.replace(doc, path=job.path)
        written, fallback_reason = write_hocr_with_fallback(
            doc, hocr, Path(job.hocr_path), Path(job.fallback_hocr_path)
        )
    except ScanError as exc:
        return JobResult(job, error=exc.reason, seconds=time.monotonic() - started)
    except ScandexError as exc:
        return JobResult(job, error=str(exc), seconds=time.monotonic() - started)
    except OSError as exc:
        reason = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
        return JobResult(job, error=reason, seconds=time.monotonic() - started)
    except Exception as exc:  # an engine bug must not take the daemon down
        reason = f"OCR error: {type(exc).__name__}: {exc}"
        return JobResult(job, error=reason, seconds=time.monotonic() - started)
    return JobResult(
        job,
        document=doc,
        hocr_path=str(written),
        fallback_reason=fallback_reason,
        seconds=time.monotonic() - started,
    )


def _worker_main(conn: Connection, make_engine: EngineFactory, hocr: HocrFiles) -> None:
    # Ctrl-C (and `timeout`, and systemd with KillMode=control-group) signal the whole
    # process group; the daemon decides when its workers stop, and kills them if it must.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        engine = make_engine()
    except BaseException as exc:
        if isinstance(exc, ScandexError):
            conn.send(("broken", (str(exc), exc.exit_code)))
        else:
            conn.send(("broken", (repr(exc), ExitCode.FAILED)))
        return
    conn.send(("ready", None))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):  # the daemon is gone
            return
        if job is None:
            return
        result = run_job(engine, hocr, job)
        try:
            conn.send(("result", result))
        except OSError:  # the daemon died while we worked; it redoes the file on restart
            return


@dataclass
class _Worker:
    process: Any  # multiprocessing.Process
    conn: Connection
    ready: bool = False
    job: Job | None = None
    started: float = 0.0  # monotonic time the current job was sent
    files_done: int = 0


class WorkerPool:
    """N worker processes, one file each; `collect` returns results, timeouts and crashes."""

    def __init__(
        self,
        size: int,
        make_engine: EngineFactory,
        hocr: HocrFiles,
        *,
        timeout_seconds: float,
    ) -> None:
        self.size = size
        self.make_engine = make_engine
        self.hocr = hocr
        self.timeout_seconds = timeout_seconds
        # spawn, not fork: the daemon runs watchdog threads, and forking a threaded process
        # can deadlock the child.
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []

    def start(self) -> None:
        """Start the workers and wait until each has built its engine."""
        self._workers = [self._spawn() for _ in range(self.size)]
        wait_seconds = WORKER_START_SECONDS
        deadline = time.monotonic() + wait_seconds
        while not all(w.ready for w in self._workers):
            if time.monotonic() > deadline:
                raise TemporaryError(
                    f"the OCR workers were not ready after {wait_seconds:.0f} s (a busy machine?)"
                )
            for result in self.collect(timeout_seconds=0.5):
                log.warning("unexpected result during start-up: %s", result.job.path)

    def _spawn(self) -> _Worker:
        parent_conn, child_conn = self._context.Pipe()
        process = self._context.Process(
            target=_worker_main,
            args=(child_conn, self.make_engine, self.hocr),
            name="scandex-ocr",
            daemon=True,
        )
        process.start()
        child_conn.close()
        return _Worker(process, parent_conn)

    @property
    def idle(self) -> int:
        return sum(1 for w in self._workers if w.ready and w.job is None)

    @property
    def busy_paths(self) -> set[str]:
        return {w.job.path for w in self._workers if w.job is not None}

    def submit(self, job: Job) -> bool:
        """Give `job` to an idle worker; False when that worker has just died (it is
        replaced at the next collect, and the job stays queued)."""
        worker = next(w for w in self._workers if w.ready and w.job is None)
        try:
            worker.conn.send(job)
        except OSError:
            return False
        worker.job = job
        worker.started = time.monotonic()
        return True

    def collect(self, timeout_seconds: float = 0.0) -> list[JobResult]:
        """Finished jobs, plus jobs whose worker died or ran past the timeout."""
        waitables: list[Any] = [w.conn for w in self._workers]
        waitables += [w.process.sentinel for w in self._workers]
        ready = set(wait(waitables, timeout=timeout_seconds)) if waitables else set()
        results: list[JobResult] = []
        for i, worker in enumerate(self._workers):
            if worker.conn in ready:
                message = self._receive(worker)
                if message is not None:
                    kind, payload = message
                    if kind == "ready":
                        worker.ready = True
                    elif kind == "broken":
                        raise EngineStartError(*payload)
                    elif kind == "result":
                        worker.job = None
                        worker.files_done += 1
                        results.append(payload)
                        if worker.files_done >= FILES_PER_WORKER:
                            self._retire(i)
                    continue
            if not worker.process.is_alive() or self._overdue(worker):
                results.extend(self._replace(i))
        return results

    def _receive(self, worker: _Worker) -> tuple[str, Any] | None:
        try:
            message: tuple[str, Any] = worker.conn.recv()
        except (EOFError, OSError):
            return None  # died; the liveness check below replaces it
        return message

    def _overdue(self, worker: _Worker) -> bool:
        return worker.job is not None and (time.monotonic() - worker.started > self.timeout_seconds)

    def _retire(self, index: int) -> None:
        """Replace a worker that has done its share with a fresh one."""
        worker = self._workers[index]
        with contextlib.suppress(OSError):
            worker.conn.send(None)
        worker.process.join(timeout=5.0)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join(timeout=5.0)
        worker.conn.close()
        self._workers[index] = self._spawn()

    def _replace(self, index: int) -> list[JobResult]:
        """Stop a dead or overdue worker and start a fresh one; fail the file it held."""
        worker = self._workers[index]
        overdue = self._overdue(worker)
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=5.0)
        worker.conn.close()
        if not worker.ready:  # it died while starting: a new one would too, in a loop
            raise ScandexError(
                "an OCR worker exited while starting"
                f" ({_exit_description(worker.process.exitcode)}); see the messages above"
            )
        self._workers[index] = self._spawn()
        if worker.job is None:
            if not overdue:
                log.warning(
                    "an OCR worker exited (code %s); started a new one", worker.process.exitcode
                )
            return []
        if overdue:
            reason = f"OCR took longer than ocr.timeout_seconds = {self.timeout_seconds:g} s"
        else:
            reason = f"the OCR worker died ({_exit_description(worker.process.exitcode)})"
        return [JobResult(worker.job, error=reason, seconds=time.monotonic() - worker.started)]

    def drain(self, grace_seconds: float, hurry: Callable[[], bool]) -> list[JobResult]:
        """Wait up to `grace_seconds` for the files in flight; the rest are handed back."""
        results: list[JobResult] = []
        deadline = time.monotonic() + grace_seconds
        while self.busy_paths and time.monotonic() < deadline and not hurry():
            results.extend(self.collect(timeout_seconds=0.2))
        return results

    def close(self) -> None:
        """Stop every worker; files still in flight are simply not reported (still pending)."""
        for worker in self._workers:
            if worker.job is None and worker.process.is_alive():
                with contextlib.suppress(OSError):
                    worker.conn.send(None)
        for worker in self._workers:
            worker.process.join(timeout=1.0 if worker.job is None else 0.0)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=5.0)
            worker.conn.close()
        self._workers = []


def _exit_description(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


def same_file_state(path: Path, size: int, mtime_ns: int) -> bool:
    """True when the file still has this size and modification time."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return st.st_size == size and st.st_mtime_ns == mtime_ns
