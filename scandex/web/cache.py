"""A bounded folder of derived files (page images, page sizes), keyed by what they derive from.

Keys name the source file's identity (path, size, modification time, inode) and what was
made from it, so a scan replaced in place never shows a stale image and nothing has to be
invalidated: unused entries simply age out. When the folder grows past its limit, the least
recently used files are deleted down to three quarters of it.

Entries are written by scandex.atomic, so a reader sees a whole file or none; without
fsync, since a cache entry lost in a crash is only made again (an empty one counts as
missing).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

from scandex.atomic import atomic_write

PRUNE_TO_FRACTION = 0.75


def source_key(path: Path, *parts: object) -> str:
    """A cache key for something made from the file at `path` (FileNotFoundError if gone)."""
    st = path.stat()
    identity = "\0".join(str(p) for p in (path, st.st_size, st.st_mtime_ns, st.st_ino, *parts))
    return hashlib.sha256(identity.encode("utf-8", "surrogateescape")).hexdigest()


class FileCache:
    """Derived bytes by key, in `folder`, at most `max_bytes` of them (0 = keep nothing)."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._total_bytes: int | None = None  # counted on first write

    def get(self, key: str, suffix: str) -> bytes | None:
        """The entry for `key`, or None."""
        path = self._path(key, suffix)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used
        return data or None

    def get_or_make(self, key: str, suffix: str, make: Callable[[], bytes]) -> bytes:
        """The entry for `key`, made (and kept) when missing."""
        data = self.get(key, suffix)
        if data is None:
            data = make()
            if self.max_bytes > 0:
                self._store(self._path(key, suffix), data)
        return data

    def _path(self, key: str, suffix: str) -> Path:
        # Two levels, so no folder holds more than a few thousand entries.
        return self.folder / key[:2] / f"{key}{suffix}"

    def _store(self, path: Path, data: bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda out: out.write(data), durable=False)
        except OSError:
            return  # a read-only or full disk costs speed, never a page
        with self._lock:
            if self._total_bytes is None:
                self._total_bytes = self._measure()
            else:
                self._total_bytes += len(data)
            if self._total_bytes > self.max_bytes:
                self._total_bytes = self._prune()

    def _entries(self) -> list[tuple[float, int, Path]]:
        entries = []
        for folder in self.folder.iterdir() if self.folder.is_dir() else ():
            for entry in folder.iterdir() if folder.is_dir() else ():
                with contextlib.suppress(OSError):
                    st = entry.stat()
                    entries.append((st.st_mtime, st.st_size, entry))
        return entries

    def _measure(self) -> int:
        return sum(size for _, size, _ in self._entries())

    def _prune(self) -> int:
        entries = sorted(self._entries(), key=lambda entry: entry[0])
        total = sum(size for _, size, _ in entries)
        target = self.max_bytes * PRUNE_TO_FRACTION
        for _, size, entry in entries:
            if total <= target:
                break
            with contextlib.suppress(OSError):
                entry.unlink()
                total -= size
        return total
