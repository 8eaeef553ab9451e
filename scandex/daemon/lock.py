"""One daemon per state_dir: an flock on state_dir/daemon.lock, holding the daemon's pid.

The kernel drops the lock when the process dies, even by kill -9, so a stale file never
blocks a restart. Other commands (status, reindex) ask `daemon_pid` whether one runs.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from scandex.errors import ScandexError

LOCK_NAME = "daemon.lock"


class DaemonRunningError(ScandexError):
    """Another scandex daemon already uses this state_dir."""


class DaemonLock:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid = daemon_pid(self.path.parent)
            raise DaemonRunningError(
                f"another scandex daemon (pid {pid}) already uses {self.path.parent}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def daemon_pid(state_dir: Path) -> int | None:
    """The pid of the daemon using `state_dir`, or None when none runs."""
    path = state_dir / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 32).decode("ascii", "replace").strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
