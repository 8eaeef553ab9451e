"""Opening scans without surprises: the one place that decides what the daemon reads.

A scan is opened with O_NOFOLLOW and checked with fstat to be a regular file, so a symbolic
link or a FIFO swapped in after the file settled is refused, not followed or waited on; it
is read only up to `ocr.max_file_bytes`. A symbolic link in a watched folder is skipped
(and reported once) unless `watch.follow_symlinks` is on, and then followed only to a
regular file inside a watched folder. The worker hashes what it read and compares it with
the hash taken when the file settled, so the OCR is always of the content that settled.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from scandex.errors import ScandexError

CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class ReadRules:
    """What may be read: the watched folders, whether links are followed, the size cap."""

    roots: tuple[Path, ...]
    follow_symlinks: bool
    max_file_bytes: int


class ReadError(ScandexError):
    """A scan could not be read. `permanent` when reading again cannot help (a link, a
    device, too large); otherwise it is retried (gone for now, permission, I/O)."""

    def __init__(self, path: str, reason: str, *, permanent: bool, vanished: bool = False) -> None:
        self.path = path
        self.reason = reason
        self.permanent = permanent
        self.vanished = vanished  # nothing at the path (any more)
        super().__init__(f"{path}: {reason}")


def is_inside(path: str | Path, roots: tuple[Path, ...]) -> bool:
    return any(Path(path).is_relative_to(root) for root in roots)


def link_target(path: str, rules: ReadRules) -> tuple[str | None, str]:
    """Where a symbolic link leads when the rules allow following it; else None and why."""
    if not rules.follow_symlinks:
        return None, "a symbolic link (not followed; see watch.follow_symlinks)"
    target = os.path.realpath(path)
    if not is_inside(target, rules.roots):
        return None, f"a symbolic link to {target}, outside the watched folders (not followed)"
    return target, ""


def scan_stat(path: str, rules: ReadRules) -> os.stat_result:
    """The stat that tells whether a scan changed: the file's own (lstat), or for a link
    that may be followed, its target's. Raises OSError, or ReadError for a link that may
    not be followed."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        target, why = link_target(path, rules)
        if target is None:
            raise ReadError(path, why, permanent=True)
        st = os.lstat(target)
    return st


def open_scan(path: str, rules: ReadRules) -> tuple[int, os.stat_result]:
    """An open descriptor on the regular file `path` names (under the rules), and its fstat.

    Raises ReadError for anything else: a link that may not be followed, a device or FIFO
    (opened without blocking, then refused), a folder on the way replaced by a link, a file
    over the size cap, or an OSError.
    """
    target = path
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            followed, why = link_target(path, rules)
            if followed is None:
                raise ReadError(path, why, permanent=True)
            target = followed
        elif os.path.realpath(path) != os.path.abspath(path):
            raise ReadError(path, "a folder on its path is a symbolic link", permanent=True)
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        fd = os.open(target, flags)
    except OSError as exc:
        raise _read_error(path, exc) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ReadError(path, "not a regular file (a device, pipe or socket)", permanent=True)
        if st.st_size > rules.max_file_bytes:
            raise ReadError(path, _too_large(st.st_size, rules.max_file_bytes), permanent=True)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def _too_large(size: int, limit: int) -> str:
    return (
        f"file too large: {size:,} bytes, over ocr.max_file_bytes = {limit:,}"
        " (raise it in the configuration if the scan is genuine)"
    )


def too_large(size: int, rules: ReadRules) -> str | None:
    """Why a file of `size` bytes is refused, or None."""
    return _too_large(size, rules.max_file_bytes) if size > rules.max_file_bytes else None


def _read_error(path: str, exc: OSError) -> ReadError:
    if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link swapped in a moment ago
        return ReadError(path, "a symbolic link (not followed)", permanent=True)
    if exc.errno == errno.ENOENT:
        return ReadError(path, "the file vanished", permanent=False, vanished=True)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return ReadError(path, "cannot read the file: permission denied", permanent=False)
    return ReadError(path, f"cannot read the file: {exc.strerror or exc}", permanent=False)


def hash_scan(path: str, rules: ReadRules) -> tuple[str, os.stat_result]:
    """The SHA-256 of a scan's content and the fstat it was read under."""
    fd, st = open_scan(path, rules)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "rb", closefd=True) as f:
            while chunk := f.read(CHUNK_BYTES):
                digest.update(chunk)
    except OSError as exc:
        raise _read_error(path, exc) from None
    return digest.hexdigest(), st


def read_scan(path: str, rules: ReadRules, sha256: str) -> bytes:
    """A scan's bytes, which must be the content with hash `sha256` (the one that settled)."""
    fd, st = open_scan(path, rules)
    try:
        with os.fdopen(fd, "rb", closefd=True) as f:
            data = f.read(rules.max_file_bytes + 1)
    except OSError as exc:
        raise _read_error(path, exc) from None
    if len(data) > rules.max_file_bytes:  # it grew after the fstat
        raise ReadError(path, _too_large(len(data), rules.max_file_bytes), permanent=True)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ReadError(path, "the file changed while it was being read", permanent=False)
    return data


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of a file we trust (a model, say), following links."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
