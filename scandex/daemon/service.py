"""The daemon: watch folders, let files settle, OCR them, write hOCR beside them, index them.

`run()` is the whole life of the daemon, top to bottom. Each job of the loop has its own
module: `arrivals` (files appearing, changing, moving, leaving), `dispatch` (work for the
workers, their results, backoff), `records` (the state store and the index in step: a file
is done only after its index commit), `hocr_files` (which hOCR is scandex's and where each
goes), `worker` (the processes, and swapping them on reload), `status` (what `scandex
status` and systemd see). The SQLite state store is the truth and filesystem events are
hints: every decision is made by looking at the file and its record, so a missed, doubled or
reordered event cannot make the index wrong, only late.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from scandex.config import Config, load_config
from scandex.daemon.arrivals import Arrivals, read_rules
from scandex.daemon.dispatch import Dispatcher
from scandex.daemon.events import EventSource, WatchdogSource
from scandex.daemon.folders import check_readable, check_writable, rights_message
from scandex.daemon.hocr_files import HocrFiles, HocrOwner, HocrPlaces, ScandexHocr
from scandex.daemon.lock import DaemonLock
from scandex.daemon.notify import Notifier
from scandex.daemon.records import Records
from scandex.daemon.state import StateStore
from scandex.daemon.status import LiveNumbers, StatusBoard
from scandex.daemon.worker import EngineMaker, Workers, WorkerSet, scandex_engine
from scandex.errors import ConfigError, ScandexError
from scandex.indexer import IndexWriter

log = logging.getLogger("scandex.daemon")

TICK_SECONDS = 0.2  # how long the loop waits for events or results before looking around
REQUESTS_EVERY_SECONDS = 1.0  # how often `scandex reocr` requests are looked for
SHUTDOWN_GRACE_SECONDS = 20.0  # time given to files in flight at shutdown

# Settings a reload cannot change: the state store, the index and the watches hang on them.
RESTART_ONLY = (
    "state_dir",
    "watch.paths",
    "watch.recursive",
    "watch.polling",
    "queue",
    "index",
)


def run(
    config: Config,
    *,
    stop: threading.Event,
    hurry: threading.Event | None = None,
    reload: threading.Event | None = None,
    load: Callable[[], Config] | None = None,
    engine: EngineMaker | None = None,
    index: IndexWriter | None = None,
    events: EventSource | None = None,
    hocr: HocrFiles | None = None,
) -> int:
    """Run the daemon until `stop` is set (SIGTERM/SIGINT set it); returns the exit status.

    `hurry` (a second signal) cuts the wait for files in flight short. `reload` (SIGHUP) asks
    for the configuration to be read again with `load` (default: the same file) and applied
    without stopping: a new model is loaded by a new set of workers while the old ones keep
    working, and one that fails to load leaves the old one running. The engine, index, event
    source and hOCR files default to the real ones; tests pass small real ones.
    """
    hurry = hurry or threading.Event()
    reload = reload or threading.Event()
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
            from scandex.indexer import open_index_for

            index = open_index_for(config, writable=True)
        cleanup.callback(index.close)
        daemon = Daemon(config, store, index, hocr or ScandexHocr(), engine or scandex_engine)
        cleanup.callback(daemon.workers.close)
        daemon.arrivals.heartbeat = notifier.alive
        daemon.records.reconcile(daemon.hocr.read, notifier.alive)

        # 2. Watch before the start-up scan, so nothing written in between is missed.
        source = events or WatchdogSource(
            config.watch.paths, recursive=config.watch.recursive, polling=config.watch.polling
        )
        source.start()
        cleanup.callback(source.stop)

        # 3. Start the workers: each loads the model once (a bad model stops us here).
        daemon.workers.start(config.ocr, read_rules(config))
        daemon.workers.on_reloaded = lambda: daemon.reloaded(notifier)

        # 4. Catch up with whatever changed while we were down, then tell systemd we are up.
        daemon.arrivals.rescan()
        daemon.dispatcher.take_requests()
        notifier.ready(daemon.publish(now=True))
        log.info(
            "ready: watching %s with %d worker(s)%s; model %s",
            ", ".join(map(str, config.watch.paths)),
            daemon.workers.size,
            " (polling)" if getattr(source, "polling", False) else "",
            daemon.dispatcher.model,
        )

        # 5. The loop: events are hints; each step looks at the files and the state store.
        last_requests = time.monotonic()
        while not stop.is_set():
            if reload.is_set():
                reload.clear()
                notifier.reloading()
                if not daemon.reload(load or _same_file(config)):
                    notifier.ready(daemon.publish(now=True))  # nothing left to wait for
            # Wake for a file event or a worker's result, whichever comes first: a worker
            # holds one file at a time and waits idle until its next one is dispatched.
            hints, events_lost = source.get_hints(TICK_SECONDS, daemon.workers.waitables())
            daemon.arrivals.look_at(hints)
            if events_lost or daemon.arrivals.rescan_due():
                daemon.arrivals.rescan()
            if daemon.arrivals.watch_again:
                daemon.arrivals.watch_again = False
                source.stop()
                source.start()
            daemon.arrivals.settle()
            daemon.dispatcher.finish(daemon.workers.collect())
            daemon.arrivals.forget_vanished()
            if time.monotonic() - last_requests >= REQUESTS_EVERY_SECONDS:
                last_requests = time.monotonic()
                daemon.dispatcher.take_requests()
            daemon.dispatcher.dispatch()
            daemon.records.commit_if_due(busy=bool(daemon.dispatcher.in_flight))
            notifier.status(daemon.publish())
            notifier.alive()

        # 6. Shutdown (SIGTERM and Ctrl-C both end up here): take no more work, let the
        # files in flight finish for a while, hand back the rest (still pending), commit.
        notifier.stopping()
        source.stop()
        in_flight = len(daemon.dispatcher.in_flight)
        if in_flight:
            log.info(
                "stopping: waiting up to %.0f s for %d file(s)", SHUTDOWN_GRACE_SECONDS, in_flight
            )
        daemon.dispatcher.finish(daemon.workers.drain(SHUTDOWN_GRACE_SECONDS, hurry.is_set))
        handed_back = len(daemon.workers.busy_paths)
        daemon.workers.close()
        daemon.records.commit_if_due(busy=False, force=True)
        store.clear_meta()
        log.info("stopped%s", f"; {handed_back} file(s) left pending" if handed_back else "")
    return 0


def _same_file(config: Config) -> Callable[[], Config]:
    """Reading the configuration again: the file it came from (or the defaults)."""
    return lambda: load_config(config.source) if config.source else config


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


def _setting(config: Config, dotted: str) -> object:
    value: object = config
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


class Daemon:
    """The parts run()'s loop drives, built from one configuration and given the next one
    on reload. Only the loop's thread calls it."""

    def __init__(
        self,
        config: Config,
        store: StateStore,
        index: IndexWriter,
        hocr: HocrFiles,
        engine: EngineMaker,
    ) -> None:
        self.config = config
        self.records = Records(store, index)
        places = HocrPlaces(config.ocr.hocr_name, config.fallback_hocr_dir)
        self.hocr = HocrOwner(places, hocr, self.records, config.ocr.max_file_bytes)
        self.arrivals = Arrivals(config, self.records, self.hocr)
        self.workers: WorkerSet
        if config.queue.backend == "redis":
            from scandex.queue.remote import RemoteWorkers  # imports rq and redis

            self.workers = RemoteWorkers(config)
        else:
            self.workers = Workers(engine, hocr, config.state_dir)
        self.dispatcher = Dispatcher(config, self.records, self.hocr, self.arrivals, self.workers)
        self.board = StatusBoard(store)

    def reload(self, load: Callable[[], Config]) -> bool:
        """Read the configuration again and apply it; True while new workers are starting
        (they take over when ready), False when the reload is complete (or failed)."""
        try:
            new = load()
        except ScandexError as exc:
            log.error("reload: %s; keeping the configuration in use", exc)
            return False
        old = self.config
        for key in RESTART_ONLY:
            if _setting(new, key) != _setting(old, key):
                log.warning("reload: %s changed; that takes effect at the next restart", key)
        new = dataclasses.replace(
            new,
            state_dir=old.state_dir,
            source=old.source,
            queue=old.queue,
            index=old.index,
            watch=dataclasses.replace(
                new.watch,
                paths=old.watch.paths,
                recursive=old.watch.recursive,
                polling=old.watch.polling,
            ),
        )
        self.config = new
        if new.output != old.output:
            # Each file takes [output] as it is when dispatched (worker.Job.pdf, .pdfa).
            log.info(
                "reload: searchable PDFs %s for files read from now on",
                ("on (PDF/A-2b)" if new.output.pdfa else "on") if new.output.pdf else "off",
            )
        self.hocr.places = HocrPlaces(new.ocr.hocr_name, new.fallback_hocr_dir)
        self.hocr.max_bytes = new.ocr.max_file_bytes
        self.arrivals.apply(new)
        self.dispatcher.apply(new)
        starting = self.workers.reload(new.ocr, read_rules(new))
        if not starting:
            log.info("reload: configuration applied")
        return starting

    def reloaded(self, notifier: Notifier) -> None:
        """New workers took over (or were given up): files to read again are looked for at
        once, and systemd hears the reload is over."""
        self.dispatcher.apply(self.config)
        notifier.ready(self.publish(now=True))

    def publish(self, *, now: bool = False) -> str:
        """Write the live numbers for `scandex status`; return systemd's STATUS line."""
        live = LiveNumbers(
            in_progress=len(self.dispatcher.in_flight),
            rereading=len(self.dispatcher.rereading),
            settling=len(self.arrivals.settling),
            awaiting_commit=self.records.newly_done_count,
            workers=self.workers.size,
            model=self.dispatcher.model,
            reocr=self.config.ocr.reocr,
            queue=self.workers.report(),
        )
        return self.board.publish(live, now=now)
