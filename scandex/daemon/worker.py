"""OCR in worker processes: the engine is built once per worker, each file has a deadline.

A small pool of our own rather than ProcessPoolExecutor, because a file that runs past its
timeout must be stopped without losing the others: each worker holds one file at a time, so
killing it (and starting a fresh one) fails exactly that file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from scandex.daemon.hocr_files import HocrFiles, write_hocr_with_fallback
from scandex.daemon.models import (
    ModelRef,
    configured_model_path,
    model_ref,
    prune_snapshots,
    snapshot,
)
from scandex.daemon.reading import ReadError, ReadRules, read_scan
from scandex.daemon.searchable_pdfs import write_pdf
from scandex.errors import (
    ExitCode,
    ScandexError,
    ScanError,
    SegmentationError,
    TemporaryError,
)
from scandex.memory import keep_freed_memory
from scandex.page import Document

if TYPE_CHECKING:
    from scandex.config import OcrConfig
    from scandex.ocr.lexicon import LexiconParams

log = logging.getLogger("scandex.daemon")

# A worker is replaced after this many files, so memory a long-lived engine fragments or
# leaks is given back now and then (the next file waits for the model to load once more).
FILES_PER_WORKER = 500

# How long the workers may take to build their engines (load the model) at start.
WORKER_START_SECONDS = 300.0


class OcrEngine(Protocol):
    def ocr_bytes(self, data: bytes, name: str) -> Document:
        """OCR an image file's content; `name` is its path, for messages."""
        ...


@runtime_checkable
class PdfEngine(Protocol):
    """An engine that reads PDFs page by page (scandex.pdf.ocr.PdfResult): a page that fails
    is reported while the others are read, and pages with their own text are not OCRed."""

    def ocr_pdf(self, data: bytes, name: str) -> Any: ...


# Builds an engine inside a worker process (so the model is loaded once per worker). It is
# pickled to the worker, so it must be a module-level class or function.
EngineFactory = Callable[[], OcrEngine]
# Makes the engine factory for a configuration and the model snapshot to load; called in
# the daemon's process at start and at each reload.
EngineMaker = Callable[["OcrConfig", ModelRef], EngineFactory]


@dataclass(frozen=True)
class ScandexEngine:
    """The default engine factory: scandex's pipeline with the [ocr] settings."""

    model: Path  # the snapshot to load
    columns: int | None = None
    max_pixels: int | None = None
    lexicon: LexiconParams | None = None  # None = the default word lists
    pdf: Any = None  # scandex.pdf.PdfParams; None = the defaults
    reread: bool = True  # [ocr] reread

    def __call__(self) -> OcrEngine:
        import scandex.ocr as ocr  # heavy (onnxruntime): imported in the worker only

        params = ocr.OcrParams(model=self.model, columns=self.columns, reread=self.reread)
        if self.lexicon is not None:
            params = dataclasses.replace(params, lexicon=self.lexicon)
        if self.max_pixels is not None:
            params = dataclasses.replace(params, max_pixels=self.max_pixels)
        # Load the model now, once per worker: a bad model stops the daemon at start (or
        # fails a reload), and the first scan does not pay for it.
        recognizer = ocr.get_recognizer(params.model, params.threads, params.lexicon, params.reread)
        return _PipelineEngine(params, recognizer, self.pdf)


def scandex_engine(ocr: OcrConfig, model: ModelRef) -> EngineFactory:
    """The real engine for an [ocr] configuration."""
    return ScandexEngine(
        model.path, ocr.columns, ocr.max_pixels, ocr.lexicon_params, ocr.pdf_params, ocr.reread
    )


@dataclass(frozen=True)
class _PipelineEngine:
    params: Any  # scandex.ocr.OcrParams
    recognizer: Any
    pdf: Any = None  # scandex.pdf.PdfParams

    def ocr_pdf(self, data: bytes, name: str) -> Any:
        from scandex.pdf.ocr import ocr_pdf
        from scandex.pdf.reader import PdfParams

        pdf = self.pdf or PdfParams(max_pixels=self.params.max_pixels)
        return ocr_pdf(data, name, params=self.params, pdf=pdf, recognizer=self.recognizer)

    def ocr_bytes(self, data: bytes, name: str) -> Document:
        from scandex.ocr import ocr_image
        from scandex.ocr.io import decode_pages

        pages = decode_pages(data, name, max_pixels=self.params.max_pixels)
        return Document(
            path=name,
            pages=tuple(
                ocr_image(
                    p.gray,
                    number=p.number,
                    dpi=p.dpi,
                    params=self.params,
                    recognizer=self.recognizer,
                )
                for p in pages
            ),
        )


class EngineStartError(ScandexError):
    """The OCR engine could not be built in a worker (a bad model, say); it keeps the exit
    status of the error the worker met."""

    def __init__(self, reason: str, exit_code: ExitCode, model: str = "") -> None:
        with_model = f" with {model}" if model else ""
        super().__init__(f"the OCR engine cannot start{with_model}: {reason}")
        self.reason = reason
        self.exit_code = exit_code


@dataclass(frozen=True)
class WorkerSetup:
    """What every worker of a pool is given once: how to build its engine, how to write hOCR,
    what it may read, and the model it names in the hOCR it writes."""

    make_engine: EngineFactory
    hocr: HocrFiles
    rules: ReadRules
    model: str  # ModelRef.id


@dataclass(frozen=True)
class Job:
    path: str  # absolute image path (as the daemon sees it: the document's path)
    sha256: str  # the content that settled: the worker OCRs exactly this
    hocr_path: str  # where the hOCR should go: next to the image
    # Where it goes when that folder is not writable; "" (a worker on another machine):
    # nowhere, the daemon writes it.
    fallback_hocr_path: str
    size: int = -1  # bytes when it settled; -1: not known
    read_from: str = ""  # where this worker reads the scan, when not at `path`
    # [output] as configured when the file was dispatched (a reload applies to the next file).
    pdf: bool = False  # a searchable PDF beside the hOCR
    pdfa: bool = False  # ... made PDF/A-2b


@dataclass(frozen=True)
class JobResult:
    job: Job
    document: Document | None = None
    hocr_path: str | None = None  # where the hOCR was written
    fallback_reason: str | None = None  # why it is not next to the image
    error: str | None = None
    permanent: bool = False  # the error is in the file itself: trying again cannot help
    seconds: float = 0.0
    model: str = ""  # the model that read it (WorkerSetup.model)
    # Read, but not all of it: PDF pages that failed, a searchable PDF not written.
    partial: str = ""
    text_pages: frozenset[int] = frozenset()  # PDF pages read from their own text
    worker: str = ""  # which worker read it (a remote worker's name)


def run_job(engine: OcrEngine, setup: WorkerSetup, job: Job) -> JobResult:
    """OCR one file and write its hOCR; every failure becomes a reason, never an exception.

    Failures in the file's content (not an image, empty, truncated, a decompression bomb, a
    link or a device where a scan was) are permanent; the rest (gone for now, permission,
    out of memory, an engine error) may pass and are retried.
    """
    started = time.monotonic()

    def failed(reason: str, permanent: bool) -> JobResult:
        seconds = time.monotonic() - started
        return JobResult(job, error=reason, permanent=permanent, seconds=seconds)

    source = job.read_from or job.path
    fallback = Path(job.fallback_hocr_path) if job.fallback_hocr_path else None
    try:
        data = read_scan(source, setup.rules, job.sha256)
        doc, text_pages, problems = _read_document(engine, data, job.path)
        written, fallback_reason = write_hocr_with_fallback(
            doc, setup.hocr, Path(job.hocr_path), fallback, setup.model
        )
        if job.pdf and written is not None:
            problems.append(write_pdf(data, doc, text_pages, written, Path(source), pdfa=job.pdfa))
        del data
    except ReadError as exc:
        return failed(exc.reason, exc.permanent)
    except ScanError as exc:
        return failed(exc.reason, True)
    except SegmentationError as exc:
        return failed(str(exc), True)
    except MemoryError:
        return failed("out of memory while reading this scan", False)
    except ScandexError as exc:
        return failed(str(exc), False)
    except OSError as exc:
        reason = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
        return failed(reason, False)
    except Exception as exc:  # an engine bug must not take the daemon down
        return failed(f"OCR error: {type(exc).__name__}: {exc}", False)
    return JobResult(
        job,
        document=doc,
        hocr_path=str(written) if written is not None else None,
        fallback_reason=fallback_reason,
        seconds=time.monotonic() - started,
        model=setup.model,
        partial="; ".join(p for p in problems if p),
        text_pages=frozenset(text_pages),
    )


def _read_document(
    engine: OcrEngine, data: bytes, path: str
) -> tuple[Document, set[int], list[str]]:
    """(the document, numbers of PDF pages read from their own text, pages that failed)."""
    from scandex.pdf.reader import is_pdf

    if is_pdf(data) and isinstance(engine, PdfEngine):
        result = engine.ocr_pdf(data, path)
        text_pages = {
            page.number
            for page, source in zip(result.document.pages, result.sources, strict=True)
            if source == "text"
        }
        return result.document, text_pages, [result.failure_summary]
    return dataclasses.replace(engine.ocr_bytes(data, path), path=path), set(), []


def _worker_main(conn: Connection, setup: WorkerSetup) -> None:
    # Ctrl-C (and `timeout`, and systemd with KillMode=control-group) signal the whole
    # process group, and a terminal's hangup too; the daemon decides when its workers stop
    # (and reloads them on its own SIGHUP), and kills them if it must.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    keep_freed_memory()  # a process that only reads pages
    try:
        engine = setup.make_engine()
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
        result = run_job(engine, setup, job)
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
    """N worker processes, one file each; `collect` returns results, timeouts and crashes.

    A pool that is `retiring` (replaced by a reload) takes no new files and replaces no
    worker: it finishes the files it holds and is closed.
    """

    def __init__(self, size: int, setup: WorkerSetup, *, timeout_seconds: float) -> None:
        self.size = size
        self.setup = setup
        self.timeout_seconds = timeout_seconds
        self.retiring = False
        # spawn, not fork: the daemon runs watchdog threads, and forking a threaded process
        # can deadlock the child.
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []

    @property
    def model(self) -> str:
        return self.setup.model

    def start(self) -> None:
        """Start the workers; they report ready through `collect` once the model is loaded."""
        self._workers = [self._spawn() for _ in range(self.size)]

    def wait_ready(self) -> None:
        """Wait until every worker has built its engine (at most WORKER_START_SECONDS)."""
        deadline = time.monotonic() + WORKER_START_SECONDS
        while not self.ready:
            if time.monotonic() > deadline:
                raise TemporaryError(
                    f"the OCR workers were not ready after {WORKER_START_SECONDS:.0f} s"
                    " (a busy machine?)"
                )
            for result in self.collect(timeout_seconds=0.5):
                log.warning("unexpected result during start-up: %s", result.job.path)

    @property
    def ready(self) -> bool:
        return all(w.ready for w in self._workers)

    def _spawn(self) -> _Worker:
        parent_conn, child_conn = self._context.Pipe()
        process = self._context.Process(
            target=_worker_main, args=(child_conn, self.setup), name="scandex-ocr", daemon=True
        )
        process.start()
        child_conn.close()
        return _Worker(process, parent_conn)

    @property
    def idle(self) -> int:
        if self.retiring:
            return 0
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

    def waitables(self) -> list[Any]:
        """Ready when a worker has something to say (a result, ready, broken) or died."""
        return [w.conn for w in self._workers] + [w.process.sentinel for w in self._workers]

    def collect(self, timeout_seconds: float = 0.0) -> list[JobResult]:
        """Finished jobs, plus jobs whose worker died or ran past the timeout.

        Raises EngineStartError when a worker cannot build its engine, and ScandexError when
        one dies while building it (a fresh one would too).
        """
        waitables = self.waitables()
        ready = set(wait(waitables, timeout=timeout_seconds)) if waitables else set()
        results: list[JobResult] = []
        for worker in list(self._workers):
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
                        if worker.files_done >= FILES_PER_WORKER and not self.retiring:
                            self._retire(worker)
                    continue
            if not worker.process.is_alive() or self._overdue(worker):
                results.extend(self._replace(worker))
        return results

    def _receive(self, worker: _Worker) -> tuple[str, Any] | None:
        try:
            message: tuple[str, Any] = worker.conn.recv()
        except (EOFError, OSError):
            return None  # died; the liveness check below replaces it
        return message

    def _overdue(self, worker: _Worker) -> bool:
        return worker.job is not None and (time.monotonic() - worker.started > self.timeout_seconds)

    def _stop(self, worker: _Worker, *, gently: bool) -> None:
        if gently:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
            worker.process.join(timeout=5.0)
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=5.0)
        worker.conn.close()

    def _retire(self, worker: _Worker) -> None:
        """Replace a worker that has done its share with a fresh one."""
        self._stop(worker, gently=True)
        self._workers[self._workers.index(worker)] = self._spawn()

    def _replace(self, worker: _Worker) -> list[JobResult]:
        """Stop a dead or overdue worker and start a fresh one; fail the file it held."""
        overdue = self._overdue(worker)
        self._stop(worker, gently=False)
        if not worker.ready:  # it died while starting: a new one would too, in a loop
            raise ScandexError(
                "an OCR worker exited while starting"
                f" ({_exit_description(worker.process.exitcode)}); see the messages above"
            )
        if self.retiring:
            self._workers.remove(worker)
        else:
            self._workers[self._workers.index(worker)] = self._spawn()
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
        seconds = time.monotonic() - worker.started
        return [JobResult(worker.job, error=reason, seconds=seconds, model=self.model)]

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


class WorkerSet(Protocol):
    """Where the dispatcher sends files to be OCRed: the daemon's own processes (`Workers`)
    or workers on other machines through a queue (scandex.queue.remote.RemoteWorkers)."""

    model: ModelRef | None  # the model new files are read with
    on_reloaded: Callable[[], None]  # called when a reload is over

    def start(self, ocr: OcrConfig, rules: ReadRules) -> None:
        """Get ready to take files (a model that cannot be loaded stops the daemon)."""

    def reload(self, ocr: OcrConfig, rules: ReadRules) -> bool:
        """Apply new settings; True while new workers are still starting."""

    @property
    def idle(self) -> int:
        """How many more files may be given now."""

    @property
    def size(self) -> int:
        """How many workers there are."""

    @property
    def busy_paths(self) -> set[str]:
        """The files in flight."""

    def submit(self, job: Job) -> bool:
        """Give a file to a worker; False when it must wait (it stays queued)."""

    def waitables(self) -> list[Any]:
        """What the loop waits on beside file events, so it wakes as soon as a result is
        there to collect (for `multiprocessing.connection.wait`); empty when results
        cannot be waited for (they are looked for each tick)."""

    def collect(self, timeout_seconds: float = 0.0) -> list[JobResult]:
        """Results, including failures (a worker that died, a timeout)."""

    def drain(self, grace_seconds: float, hurry: Callable[[], bool]) -> list[JobResult]:
        """At shutdown: results of the files in flight that finish within `grace_seconds`."""

    def close(self) -> None:
        """Stop; files still in flight are not reported (they stay pending)."""

    def report(self) -> dict[str, Any]:
        """For `scandex status` (JSON): the backend and what it knows of its workers."""


def _exit_description(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


def _model_name(ocr: OcrConfig, model: ModelRef) -> str:
    """The configured model file and its identity (a worker only knows the snapshot)."""
    return f"{configured_model_path(ocr.model)} ({model.id})"


def same_engine(a: OcrConfig, b: OcrConfig) -> bool:
    """True when two [ocr] configurations run the same engine in the same pool (the model
    file's content is compared separately)."""
    keys: tuple[str, ...] = ("workers", "columns", "max_pixels", "lexicon", "languages")
    keys += ("user_words", "reread")
    keys += ("timeout_seconds", "max_file_bytes")
    return all(getattr(a, k) == getattr(b, k) for k in keys) and a.worker_count == b.worker_count


class Workers:
    """The pool that takes new files, the one a reload is starting, and old ones finishing.

    A reload starts a complete new pool beside the running one; only when all of its
    workers have loaded the model does it take over, and the old pool finishes the files it
    holds. A new pool whose model cannot be loaded is dropped, and the old one keeps going.
    """

    def __init__(
        self,
        make_engine: EngineMaker,
        hocr: HocrFiles,
        state_dir: Path,
    ) -> None:
        self.make_engine = make_engine
        self.hocr = hocr
        self.state_dir = state_dir
        self.current: WorkerPool | None = None
        self.model: ModelRef | None = None
        self._ocr: OcrConfig | None = None
        self._rules: ReadRules | None = None
        self._starting: tuple[WorkerPool, ModelRef, OcrConfig, ReadRules] | None = None
        self._retiring: list[WorkerPool] = []
        # Called when a reload is over: its pool took over, or was given up.
        self.on_reloaded: Callable[[], None] = lambda: None

    def _pool(self, ocr: OcrConfig, rules: ReadRules) -> tuple[WorkerPool, ModelRef]:
        model = snapshot(ocr.model, self.state_dir)
        setup = WorkerSetup(self.make_engine(ocr, model), self.hocr, rules, model.id)
        pool = WorkerPool(ocr.worker_count, setup, timeout_seconds=ocr.timeout_seconds)
        pool.start()
        return pool, model

    def start(self, ocr: OcrConfig, rules: ReadRules) -> None:
        """Start the first pool and wait until it is ready (a bad model stops the daemon)."""
        pool, model = self._pool(ocr, rules)
        try:
            pool.wait_ready()
        except EngineStartError as exc:
            raise EngineStartError(exc.reason, exc.exit_code, _model_name(ocr, model)) from None
        finally:
            if not pool.ready:
                pool.close()
        self.current, self.model, self._ocr, self._rules = pool, model, ocr, rules
        prune_snapshots(self.state_dir, keep={model.path})

    def reload(self, ocr: OcrConfig, rules: ReadRules) -> bool:
        """Start a pool for new settings when they change the engine; False when nothing
        needs restarting (or it cannot even begin, which is logged)."""
        assert self.model is not None and self._ocr is not None
        self._give_up_starting()
        try:
            model = model_ref(ocr.model)
        except ScandexError as exc:
            log.error("reload: %s; still using %s", exc, self.model.id)
            return False
        if model.id == self.model.id and same_engine(ocr, self._ocr) and rules == self._rules:
            return False
        try:
            pool, model = self._pool(ocr, rules)
        except ScandexError as exc:
            log.error("reload: %s; still using %s", exc, self.model.id)
            return False
        log.info(
            "reload: starting %d worker(s) with %s (%s keeps reading until they are ready)",
            pool.size,
            model.id,
            self.model.id,
        )
        self._starting = (pool, model, ocr, rules)
        return True

    def _give_up_starting(self) -> None:
        if self._starting is not None:
            self._starting[0].close()
            self._starting = None

    def _step_reload(self) -> None:
        assert self._starting is not None and self.model is not None
        pool, model, ocr, rules = self._starting
        try:
            for result in pool.collect():
                log.warning("unexpected result from a starting worker: %s", result.job.path)
        except ScandexError as exc:
            reason = exc.reason if isinstance(exc, EngineStartError) else str(exc)
            log.error(
                "reload: the OCR engine cannot start with %s: %s; still using %s",
                _model_name(ocr, model),
                reason,
                self.model.id,
            )
            self._give_up_starting()
            self.on_reloaded()
            return
        if not pool.ready:
            return
        self._starting = None
        if self.current is not None:
            self.current.retiring = True
            self._retiring.append(self.current)
        old = self.model
        self.current, self.model, self._ocr, self._rules = pool, model, ocr, rules
        log.info("reload: %d worker(s) ready with %s (was %s)", pool.size, model.id, old.id)
        self.on_reloaded()

    def collect(self, timeout_seconds: float = 0.0) -> list[JobResult]:
        """Results of the current pool and of retiring ones; moves a reload along."""
        if self._starting is not None:
            self._step_reload()
        results: list[JobResult] = []
        for pool in list(self._retiring):
            results.extend(pool.collect())
            if not pool.busy_paths:
                pool.close()
                self._retiring.remove(pool)
                if not self._retiring and self.model is not None:
                    prune_snapshots(self.state_dir, keep={self.model.path})
        if self.current is not None:
            results.extend(self.current.collect(timeout_seconds))
        return results

    def waitables(self) -> list[Any]:
        """Every pool's: the current one, retiring ones, and one a reload is starting."""
        pools = [p for p in (self.current, *self._retiring) if p is not None]
        if self._starting is not None:
            pools.append(self._starting[0])
        return [w for pool in pools for w in pool.waitables()]

    @property
    def idle(self) -> int:
        return self.current.idle if self.current is not None else 0

    @property
    def size(self) -> int:
        return self.current.size if self.current is not None else 0

    @property
    def busy_paths(self) -> set[str]:
        pools = [p for p in (self.current, *self._retiring) if p is not None]
        return set().union(*(p.busy_paths for p in pools))

    def submit(self, job: Job) -> bool:
        assert self.current is not None
        return self.current.submit(job)

    def drain(self, grace_seconds: float, hurry: Callable[[], bool]) -> list[JobResult]:
        """Wait up to `grace_seconds` for the files in flight in every pool."""
        self._give_up_starting()
        results: list[JobResult] = []
        deadline = time.monotonic() + grace_seconds
        while self.busy_paths and time.monotonic() < deadline and not hurry():
            for pool in [p for p in (self.current, *self._retiring) if p is not None]:
                results.extend(pool.collect(timeout_seconds=0.1))
        return results

    def close(self) -> None:
        self._give_up_starting()
        for pool in [p for p in (self.current, *self._retiring) if p is not None]:
            pool.close()
        self.current, self._retiring = None, []

    def report(self) -> dict[str, Any]:
        return {"backend": "local", "workers": self.size}
