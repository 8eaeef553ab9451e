"""Replacing a file atomically: readers see the old content or the new, never a mix, and a
crash at any moment leaves one of the two.

The temporary file is created beside the target with mode 0o666, so the kernel applies the
process's umask itself: the published file gets the usual mode without anyone reading or
changing the process-wide umask (which other threads would see).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: Path, write: Callable[[BinaryIO], object], *, durable: bool = True) -> None:
    """Replace `path` with what `write(file)` writes: a synced temporary file in the same
    folder, renamed over it, and the folder synced so the rename is durable.

    `durable=False` skips both syncs, for files that are made again when lost (a cache):
    readers still see the old file or the whole new one, but a crash may leave it empty.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    while True:
        temp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(temp, flags, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    if durable:
        fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable; best effort where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
