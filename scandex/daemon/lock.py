"""One daemon per state_dir: scandex.lockfile's lock on state_dir/daemon.lock.

Other commands (status, reindex) ask `daemon_pid` whether a daemon runs.
"""

from __future__ import annotations

from pathlib import Path

from scandex.errors import TemporaryError
from scandex.lockfile import PidLock, lock_holder

LOCK_NAME = "daemon.lock"


class DaemonRunningError(TemporaryError):
    """Another scandex daemon already uses this state_dir (it may be about to exit)."""


class DaemonLock:
    def __init__(self, state_dir: Path) -> None:
        self._lock = PidLock(state_dir / LOCK_NAME)

    def acquire(self) -> None:
        if not self._lock.acquire():
            state_dir = self._lock.path.parent
            raise DaemonRunningError(
                f"another scandex daemon (pid {daemon_pid(state_dir)}) already uses {state_dir}"
            )

    def release(self) -> None:
        self._lock.release()


def daemon_pid(state_dir: Path) -> int | None:
    """The pid of the daemon using `state_dir`, or None when none runs."""
    return lock_holder(state_dir / LOCK_NAME)
