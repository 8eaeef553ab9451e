"""Filesystem events as hints: "look at this path again". The only watchdog import.

The state store is the truth; an event only says where to look, so a dropped, doubled or
reordered event costs a little latency (the periodic rescan catches up), never correctness.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import queue
import threading
import weakref
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger("scandex.daemon")

# Events waiting for the main loop; past this the queue overflows and a full rescan is
# requested instead, so a copy of 100,000 files cannot grow memory without bound.
MAX_QUEUED_EVENTS = 10_000

INOTIFY_LIMIT_HELP = {
    errno.ENOSPC: (
        "the inotify watch limit is reached (one watch per folder); raise it with "
        "`sysctl fs.inotify.max_user_watches=524288` (persist it in /etc/sysctl.d/)"
    ),
    errno.EMFILE: (
        "the inotify instance limit is reached; raise it with "
        "`sysctl fs.inotify.max_user_instances=1024` (persist it in /etc/sysctl.d/)"
    ),
}


class EventSource(Protocol):
    """Where hints come from: watchdog in production, a scripted list in tests."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def get_hints(self, timeout_seconds: float, wake: Sequence[Any] = ()) -> tuple[set[Path], bool]:
        """Paths to look at again, and whether events were lost (rescan everything); waits
        up to `timeout_seconds` for the first hint, or until one of `wake` (objects
        `multiprocessing.connection.wait` takes: a worker's pipe, a process sentinel) is
        ready."""
        ...


class HintQueue:
    """A bounded, thread-safe set of paths that collapses repeats, with an overflow flag.

    A pipe says "something came" (a byte each time; a full pipe already says it), so the
    loop can wait for hints and for its workers' results in one `wait`.
    """

    def __init__(self, max_paths: int = MAX_QUEUED_EVENTS) -> None:
        self._queue: queue.Queue[Path] = queue.Queue(maxsize=max_paths)
        self._overflowed = threading.Event()
        self._signal_r, self._signal_w = os.pipe()
        os.set_blocking(self._signal_r, False)
        os.set_blocking(self._signal_w, False)
        weakref.finalize(self, _close_all, self._signal_r, self._signal_w)

    def _signal(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self._signal_w, b"!")

    def put(self, path: Path) -> None:
        try:
            self._queue.put_nowait(path)
        except queue.Full:
            self._overflowed.set()
        self._signal()

    def overflow(self) -> None:
        self._overflowed.set()
        self._signal()

    def take(self, timeout_seconds: float, wake: Sequence[Any] = ()) -> tuple[set[Path], bool]:
        """What came (waiting up to `timeout_seconds` for it, or for one of `wake`)."""
        wait([self._signal_r, *wake], timeout=timeout_seconds)
        # Empty the pipe before the queue: a hint put in between leaves a byte behind, and
        # the next take wakes at once for it instead of missing it.
        with contextlib.suppress(BlockingIOError):
            while os.read(self._signal_r, 4096):
                pass
        paths: set[Path] = set()
        while True:
            try:
                paths.add(self._queue.get_nowait())
            except queue.Empty:
                break
        overflowed = self._overflowed.is_set()
        self._overflowed.clear()
        return paths, overflowed


def _close_all(*fds: int) -> None:
    for fd in fds:
        os.close(fd)


def _as_path(raw: str | bytes) -> Path:
    return Path(raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else raw)


def _make_observer(polling: bool) -> Any:
    if polling:
        from watchdog.observers.polling import PollingObserver

        return PollingObserver(timeout=1.0)
    from watchdog.observers import Observer

    return Observer()


class WatchdogSource:
    """inotify (or the polling observer) over the watched folders, falling back to polling
    with a message naming the sysctl to raise when inotify's limits are reached."""

    def __init__(
        self,
        folders: Sequence[Path],
        *,
        recursive: bool,
        polling: bool,
        make_observer: Callable[[bool], Any] = _make_observer,
    ) -> None:
        self.folders = tuple(folders)
        self.recursive = recursive
        self.polling = polling
        self._make_observer = make_observer
        self._hints = HintQueue()
        self._observer: Any = None

    def start(self) -> None:
        try:
            self._observer = self._start_observer(self.polling)
        except OSError as exc:
            help_text = INOTIFY_LIMIT_HELP.get(exc.errno or 0)
            if self.polling or help_text is None:
                raise
            log.warning("%s; watching by polling instead (slower, more disk reads)", help_text)
            self.polling = True
            self._observer = self._start_observer(True)

    def _start_observer(self, polling: bool) -> Any:
        from watchdog.events import FileSystemEventHandler

        hints = self._hints

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                if event.event_type in ("opened", "closed_no_write"):
                    return  # reading a file changes nothing
                hints.put(_as_path(event.src_path))
                if getattr(event, "dest_path", ""):
                    hints.put(_as_path(event.dest_path))

        observer = self._make_observer(polling)
        handler = Handler()
        try:
            for folder in self.folders:
                if folder.is_dir():  # a missing one is watched again when it comes back
                    observer.schedule(handler, str(folder), recursive=self.recursive)
            observer.start()
        except BaseException:
            if observer.is_alive():
                observer.stop()
            raise
        return observer

    def stop(self) -> None:
        if self._observer is not None and self._observer.is_alive():
            self._observer.stop()
            self._observer.join(timeout=5.0)

    def get_hints(self, timeout_seconds: float, wake: Sequence[Any] = ()) -> tuple[set[Path], bool]:
        return self._hints.take(timeout_seconds, wake)


class NoEvents:
    """An event source that never fires: the daemon relies on rescans alone."""

    def __init__(self) -> None:
        self._stop = threading.Event()

    def start(self) -> None:
        self._stop.clear()

    def stop(self) -> None:
        self._stop.set()

    def get_hints(self, timeout_seconds: float, wake: Sequence[Any] = ()) -> tuple[set[Path], bool]:
        if wake:
            wait(list(wake), timeout=timeout_seconds)
        else:
            self._stop.wait(timeout_seconds)
        return set(), False
