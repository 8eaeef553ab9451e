"""Where an index lives on disk, who may write it, and how a rebuilt one replaces it.

The configured index directory (say `.scandex/index`) is a symbolic link to a generation
directory beside it (`.scandex/.index.<token>`). A rebuild fills a new generation and then
replaces the link with one rename(2), which is atomic: a search opens either the old index or
the new one, never a half-built or missing one. A plain directory (an index made by hand, or an
empty folder someone created) is accepted too and turned into the link layout by the next
rebuild.

One process writes at a time. It holds scandex.lockfile's lock on `<index>.lock` beside the
directory for as long as its index is open for writing; the kernel drops the lock when the
process dies, even by SIGKILL, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from pathlib import Path

from scandex.atomic import fsync_folder
from scandex.errors import TemporaryError
from scandex.lockfile import PidLock, lock_holder


class IndexLockedError(TemporaryError):
    """Another process (usually `scandex run`, or a `scandex reindex`) is writing this index."""

    def __init__(self, location: Path | str, holder: int | None) -> None:
        self.location = location
        who = f"process {holder}" if holder and holder > 0 else "another process"
        super().__init__(
            f"the index {location} is being written by {who} (probably `scandex run`); "
            f"stop that process first, or let it keep the index up to date"
        )


def lock_path(directory: Path) -> Path:
    return directory.parent / f"{directory.name}.lock"


class WriterLock:
    """The exclusive right to write the index at `directory`, held until `release()`."""

    def __init__(self, directory: Path) -> None:
        self._lock = PidLock(lock_path(directory))
        if not self._lock.acquire():
            raise IndexLockedError(directory, lock_holder(self._lock.path))

    def release(self) -> None:
        self._lock.release()


def live_directory(directory: Path) -> Path | None:
    """The directory holding the current index files, or None when there is none yet."""
    if directory.is_symlink():
        target = directory.resolve()
        return target if target.is_dir() else None
    return directory if directory.is_dir() else None


def new_generation(directory: Path) -> Path:
    """A fresh, empty generation directory beside `directory` (not yet live)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    generation = directory.parent / f".{directory.name}.{secrets.token_hex(6)}"
    generation.mkdir()
    return generation


def swap_in(directory: Path, generation: Path) -> None:
    """Make `generation` the live index at `directory` atomically; delete the old one."""
    link = directory.parent / f".{directory.name}.link-{secrets.token_hex(6)}"
    os.symlink(generation.name, link)
    old: Path | None = None
    if directory.is_symlink():
        old = directory.resolve()
    elif directory.is_dir():
        # A plain directory cannot be replaced by rename(2) in one step; move it aside first.
        # This happens once, after which the link layout makes every later swap atomic.
        old = directory.parent / f".{directory.name}.old-{secrets.token_hex(6)}"
        os.rename(directory, old)
    os.replace(link, directory)
    fsync_folder(directory.parent)
    if old is not None and old != generation:
        # Open readers keep their open files (POSIX); new readers already see the new index.
        shutil.rmtree(old, ignore_errors=True)


def remove_stale_generations(directory: Path) -> None:
    """Delete generation directories left by rebuilds that crashed (caller holds the lock)."""
    live = live_directory(directory)
    for candidate in directory.parent.glob(f".{directory.name}.*"):
        if candidate == live:
            continue
        if candidate.is_symlink() or candidate.is_file():
            candidate.unlink(missing_ok=True)
        elif candidate.is_dir():
            shutil.rmtree(candidate, ignore_errors=True)


def directory_size_bytes(path: Path) -> int:
    total = 0
    for entry in path.iterdir():
        with contextlib.suppress(OSError):
            if entry.is_file():
                total += entry.stat().st_size
    return total
