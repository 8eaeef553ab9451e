"""The workers' side of the queue: `scandex worker` runs N RQ workers that OCR queued scans.

Each worker is a process that builds the OCR engine once (the model is loaded once) and then
runs RQ's SimpleWorker loop on the queue of that model, so every job runs in the process
that holds the engine; RQ enforces the job's timeout (ocr.timeout_seconds) with SIGALRM and
keeps a heartbeat on it. A supervisor keeps N of them alive: one that exits (Redis went
away, an engine error) is started again after a pause that grows while it keeps failing;
one that cannot build its engine at start stops `scandex worker` with its exit status.
SIGTERM and Ctrl-C let each finish its job and stop; a second one stops them at once (their
jobs are taken again by the daemon's cleanup). SIGHUP reads the configuration again: a new
model means new workers on its queue, each replacing an old one as that finishes its job.

The job (`ocr_job`) reads a scan where this machine mounts it (`queue.path_map`), checks
its size and hash, OCRs it and writes its hOCR and searchable PDF beside it by the
daemon's rules (`daemon.worker.run_job`, the same function local workers run), and
returns the page model as JSON.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import redis
from rq import Queue, SimpleWorker
from rq.job import Job as RqJob
from rq.serializers import JSONSerializer
from rq.timeouts import UnixSignalDeathPenalty

from scandex.config import Config, display_url
from scandex.daemon.hocr_files import ScandexHocr
from scandex.daemon.models import configured_model_path, snapshot
from scandex.daemon.notify import Notifier
from scandex.daemon.reading import ReadRules
from scandex.daemon.worker import (
    WORKER_START_SECONDS,
    EngineFactory,
    EngineMaker,
    EngineStartError,
    Job,
    JobResult,
    OcrEngine,
    WorkerSetup,
    run_job,
    scandex_engine,
)
from scandex.errors import ConfigError, ExitCode, ScandexError, TemporaryError
from scandex.memory import keep_freed_memory
from scandex.queue.jobs import HEARTBEAT_GRACE_SECONDS, Outcome, Ticket, queue_name

log = logging.getLogger("scandex.worker")

RESPAWN_SECONDS = 1.0  # a worker that exited is started again after this...
RESPAWN_MAX_SECONDS = 30.0  # ...doubling while it keeps exiting soon after it started
SHORT_LIFE_SECONDS = 10.0
STOP_GRACE_SECONDS = 20.0  # after SIGTERM, time to finish the job in hand
EXIT_REDIS = int(ExitCode.TEMPORARY)  # a worker process that lost Redis


class OcrTimeout(ScandexError):
    """A job ran past ocr.timeout_seconds (raised in the job by RQ's alarm)."""


# ----------------------------------------------------------------------------- the job


@dataclass(frozen=True)
class _Context:
    """What the job function needs, set once in each worker process."""

    engine: OcrEngine
    setup: WorkerSetup
    config: Config  # watch.paths, queue.path_map, follow_symlinks, max_file_bytes
    name: str  # this worker's name


_context: _Context | None = None


def ocr_job(payload: dict[str, Any]) -> dict[str, Any]:
    """RQ's job function: OCR the scan a ticket names; the result as JSON (jobs.Outcome)."""
    if _context is None:
        raise RuntimeError("ocr_job runs only in `scandex worker` processes")
    context = _context
    try:
        ticket = Ticket.from_wire(payload)
    except (ValueError, KeyError, TypeError) as exc:
        return Outcome(error=f"not a job this worker can read: {exc}", permanent=True).to_wire()
    root = local_root(context.config, Path(ticket.root))
    if root is None:
        reason = (
            f"{ticket.root} is not a folder this worker knows (worker {context.name}:"
            " list it in watch.paths, or map it in queue.path_map)"
        )
        return Outcome(error=reason, worker=context.name).to_wire()
    scan = root / ticket.path
    try:
        size = os.stat(scan).st_size
    except OSError as exc:
        reason = f"cannot read the file on worker {context.name}: {exc.strerror or exc}"
        return Outcome(error=reason, worker=context.name).to_wire()
    if size != ticket.size:
        reason = "the file changed after it was queued (handed back, not read)"
        return Outcome(error=reason, worker=context.name).to_wire()
    hocr = str(root / ticket.hocr)
    job = Job(ticket.scan, ticket.sha256, hocr, "", ticket.size, str(scan), ticket.pdf, ticket.pdfa)
    rules = ReadRules(
        (root,), context.config.watch.follow_symlinks, context.config.ocr.max_file_bytes
    )
    setup = dataclasses.replace(context.setup, rules=rules)
    return _outcome(run_job(context.engine, setup, job), root, context.name).to_wire()


def local_root(config: Config, root: Path) -> Path | None:
    """Where this machine sees the daemon's watched folder `root`: mapped by queue.path_map,
    or the same folder when it is one of this configuration's watch.paths."""
    mapped = config.queue.local_root(root)
    if mapped is not None:
        return mapped
    return root if root in config.watch.paths else None


def _outcome(result: JobResult, root: Path, worker: str) -> Outcome:
    hocr = str(Path(result.hocr_path).relative_to(root)) if result.hocr_path else None
    return Outcome(
        document=result.document,
        hocr=hocr,
        fallback_reason=result.fallback_reason,
        error=result.error,
        permanent=result.permanent,
        seconds=result.seconds,
        model=result.model,
        partial=result.partial,
        text_pages=tuple(sorted(result.text_pages)),
        worker=worker,
    )


# ----------------------------------------------------------------------------- one worker


class OcrDeathPenalty(UnixSignalDeathPenalty):
    """RQ's alarm for a job past its timeout, raising a scandex error: run_job reports it
    as a timeout, which the daemon retries like a local worker's."""

    def handle_death_penalty(self, signum: int, frame: object) -> None:
        raise OcrTimeout(f"OCR took longer than ocr.timeout_seconds = {self._timeout} s")


class OcrWorker(SimpleWorker):
    """RQ's SimpleWorker (each job in this process, which holds the engine), made for OCR."""

    death_penalty_class = OcrDeathPenalty

    def get_heartbeat_ttl(self, job: RqJob, working_time: float = 0.0) -> int:
        # This process cannot beat while it works: the whole job must fit. A worker killed
        # mid-job frees its job this long after the job began.
        return int(job.timeout or 0) + HEARTBEAT_GRACE_SECONDS

    def _install_signal_handlers(self) -> None:
        # SIGTERM (from the supervisor): finish the job, then stop. Ctrl-C reaches the
        # supervisor, which decides.
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@dataclass(frozen=True)
class WorkerSpec:
    """What each worker process is given (pickled to it)."""

    factory: EngineFactory
    model: str  # ModelRef.id
    queue: str
    config: Config
    verbose: bool = False


def _worker_main(conn: Connection, spec: WorkerSpec) -> None:
    global _context
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    _log_to_stderr(spec.verbose)
    keep_freed_memory()  # a process that only reads pages
    try:
        engine = spec.factory()
    except BaseException as exc:
        code = exc.exit_code if isinstance(exc, ScandexError) else ExitCode.FAILED
        conn.send(("broken", (str(exc) if isinstance(exc, ScandexError) else repr(exc), code)))
        return
    conn.send(("ready", None))
    name = f"{socket.gethostname()}.{os.getpid()}"
    rules = ReadRules((), spec.config.watch.follow_symlinks, spec.config.ocr.max_file_bytes)
    setup = WorkerSetup(spec.factory, ScandexHocr(), rules, spec.model)
    _context = _Context(engine, setup, spec.config, name)

    # No read timeout: RQ waits for jobs in a blocking pop of several minutes.
    connection = redis.Redis.from_url(spec.config.queue.url, socket_connect_timeout=5.0)
    queue = Queue(spec.queue, connection=connection, serializer=JSONSerializer)
    worker = OcrWorker([queue], connection=connection, name=name, serializer=JSONSerializer)
    try:
        worker.work(logging_level="DEBUG" if spec.verbose else "WARNING", with_scheduler=False)
    except redis.RedisError as exc:
        log.warning("worker %s: Redis: %s: %s", name, type(exc).__name__, exc)
        sys.exit(EXIT_REDIS)


def _log_to_stderr(verbose: bool) -> None:
    logger = logging.getLogger("scandex")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG if verbose else logging.INFO)


# ----------------------------------------------------------------------------- the supervisor


@dataclass
class _Process:
    process: Any  # multiprocessing.Process
    conn: Connection
    spec: WorkerSpec
    started: float  # monotonic
    ready: bool = False
    stopping: bool = False


class Supervisor:
    """N worker processes for one configuration; see the module's docstring."""

    def __init__(self, config: Config, jobs: int, make_engine: EngineMaker, verbose: bool):
        self.jobs = jobs
        self.make_engine = make_engine
        self.verbose = verbose
        self._context = multiprocessing.get_context("spawn")
        self._models = Path(tempfile.mkdtemp(prefix="scandex-worker-models-"))
        self._processes: list[_Process] = []
        self._respawn_at = 0.0
        self._respawn_seconds = RESPAWN_SECONDS
        self.spec = self._spec(config)

    def _spec(self, config: Config) -> WorkerSpec:
        """The model is copied (a file overwritten in place changes nothing until SIGHUP)
        and named by its hash, which names the queue of its jobs."""
        model = snapshot(config.ocr.model, self._models)
        factory = self.make_engine(config.ocr, model)
        return WorkerSpec(factory, model.id, queue_name(config.queue.name, model.sha256),
                          config, self.verbose)  # fmt: skip

    def start(self) -> None:
        """Start the workers and wait until each has built its engine."""
        self._processes = [self._spawn(self.spec) for _ in range(self.jobs)]
        deadline = time.monotonic() + WORKER_START_SECONDS
        while not all(p.ready for p in self._processes):
            if time.monotonic() > deadline:
                raise TemporaryError(
                    f"the OCR workers were not ready after {WORKER_START_SECONDS:.0f} s"
                )
            self.step(timeout_seconds=0.2)

    def _spawn(self, spec: WorkerSpec) -> _Process:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_worker_main, args=(child, spec), name="scandex-worker", daemon=False
        )
        process.start()
        child.close()
        return _Process(process, parent, spec, time.monotonic())

    def step(self, timeout_seconds: float = 0.5) -> None:
        """Take the workers' messages; start a worker again in place of one that exited."""
        from multiprocessing.connection import wait

        waitables: list[Any] = [p.conn for p in self._processes]
        waitables += [p.process.sentinel for p in self._processes]
        ready = set(wait(waitables, timeout=timeout_seconds)) if waitables else set()
        for entry in list(self._processes):
            if entry.conn in ready:
                with contextlib.suppress(EOFError, OSError):
                    kind, payload = entry.conn.recv()
                    if kind == "ready":
                        entry.ready = True
                    elif kind == "broken":
                        model = configured_model_path(entry.spec.config.ocr.model)
                        raise EngineStartError(payload[0], payload[1], f"{model}")
            if entry.process.is_alive():
                continue
            entry.process.join()
            entry.conn.close()
            self._processes.remove(entry)
            if not entry.ready:
                raise ScandexError(
                    f"an OCR worker exited while starting (exit code {entry.process.exitcode})"
                )
            if entry.stopping and entry.spec is not self.spec:
                self._processes.append(self._spawn(self.spec))  # a reload: the new model
            elif not entry.stopping:
                self._exited(entry)
        self._respawn_due()

    def _exited(self, entry: _Process) -> None:
        lived = time.monotonic() - entry.started
        if lived < SHORT_LIFE_SECONDS:
            self._respawn_seconds = min(self._respawn_seconds * 2, RESPAWN_MAX_SECONDS)
        else:
            self._respawn_seconds = RESPAWN_SECONDS
        why = "it lost Redis" if entry.process.exitcode == EXIT_REDIS else "it exited"
        log.warning(
            "an OCR worker stopped (%s, exit code %s); another starts in %.0f s",
            why,
            entry.process.exitcode,
            self._respawn_seconds,
        )
        self._respawn_at = time.monotonic() + self._respawn_seconds

    def _respawn_due(self) -> None:
        missing = self.jobs - len(self._processes)
        if missing > 0 and time.monotonic() >= self._respawn_at:
            for _ in range(missing):
                self._processes.append(self._spawn(self.spec))

    def reload(self, config: Config) -> None:
        """New settings: each worker finishes its job and is replaced by one that uses them."""
        try:
            self.spec = self._spec(config)
        except ScandexError as exc:
            log.error("reload: %s; the workers keep their configuration", exc)
            return
        log.info("reload: workers restart with %s on queue %s", self.spec.model, self.spec.queue)
        for entry in self._processes:
            if entry.process.is_alive():
                entry.stopping = True
                entry.process.terminate()  # SIGTERM: the job in hand is finished first

    def stop(self, hurry: Callable[[], bool]) -> None:
        """SIGTERM every worker, wait for the jobs in hand (a second signal: no longer)."""
        for entry in self._processes:
            entry.stopping = True
            if entry.process.is_alive():
                entry.process.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for entry in self._processes:
            while entry.process.is_alive() and time.monotonic() < deadline and not hurry():
                entry.process.join(timeout=0.2)
            if entry.process.is_alive():
                entry.process.kill()
            entry.process.join(timeout=5.0)
            entry.conn.close()
        self._processes = []
        shutil.rmtree(self._models, ignore_errors=True)

    @property
    def alive(self) -> int:
        return sum(1 for p in self._processes if p.process.is_alive())


def run_workers(
    config: Config,
    *,
    jobs: int,
    stop: threading.Event,
    hurry: threading.Event | None = None,
    reload: threading.Event | None = None,
    load: Callable[[], Config] | None = None,
    engine: EngineMaker | None = None,
    verbose: bool = False,
) -> int:
    """`scandex worker`: run `jobs` OCR workers on the queue until `stop`; the exit status."""
    if config.queue.backend != "redis":
        raise ConfigError(
            "queue.backend",
            'is "local": the daemon OCRs by itself; set it to "redis", and queue.url, here and'
            " on the daemon's machine to use workers",
            config.source,
        )
    hurry = hurry or threading.Event()
    reload = reload or threading.Event()
    notifier = Notifier()
    supervisor = Supervisor(config, jobs, engine or scandex_engine, verbose)
    try:
        supervisor.start()
        where = display_url(config.queue.url)
        ready = f"{jobs} worker(s) on {supervisor.spec.queue} at {where}"
        notifier.ready(ready)
        log.info("ready: %s with %s", ready, supervisor.spec.model)
        while not stop.is_set():
            if reload.is_set():
                reload.clear()
                try:
                    supervisor.reload(load() if load else config)
                except ScandexError as exc:
                    log.error("reload: %s; the workers keep their configuration", exc)
            supervisor.step(timeout_seconds=0.5)
            notifier.alive()
        notifier.stopping()
        log.info("stopping: %d worker(s) finish the job in hand", supervisor.alive)
    finally:
        supervisor.stop(hurry.is_set)
    return 0
