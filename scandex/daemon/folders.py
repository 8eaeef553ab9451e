"""The watched folders on disk: walking them for scans, and checking our rights on them."""

from __future__ import annotations

import errno
import grp
import logging
import os
import pwd
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from scandex.daemon.filters import FilterRules, is_scan, is_skipped_name

log = logging.getLogger("scandex.daemon")


@dataclass
class Walk:
    """The outcome of walking one folder: scans found, and folders that could not be read."""

    files: dict[str, os.stat_result] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)


def walk_scans(
    root: Path,
    rules: FilterRules,
    exclude: tuple[Path, ...] = (),
    progress: Callable[[], None] = lambda: None,
) -> Walk:
    """Every scan below `root` with its lstat, links to files included. Links to folders are
    never followed (no loops).

    `progress` is called every thousand files, so a long walk can tell systemd it is alive.
    """
    walk = Walk()
    for path, st in _walk(root, root, rules, exclude, walk.unreadable):
        walk.files[str(path)] = st
        if len(walk.files) % 1000 == 0:
            progress()
    return walk


def _walk(
    folder: Path,
    root: Path,
    rules: FilterRules,
    exclude: tuple[Path, ...],
    unreadable: list[str],
) -> Iterator[tuple[Path, os.stat_result]]:
    try:
        entries = list(os.scandir(folder))
    except OSError as exc:
        unreadable.append(str(folder))
        log.warning("cannot read folder %s: %s", folder, exc.strerror)
        return
    for entry in entries:
        path = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=False):
                wanted = rules.recursive and not is_skipped_name(entry.name, rules)
                if wanted and path not in exclude:
                    yield from _walk(path, root, rules, exclude, unreadable)
            elif is_scan(path, root, rules) and (
                entry.is_file(follow_symlinks=False) or entry.is_symlink()
            ):
                # Links are yielded with their own lstat: whether one is followed is the
                # daemon's decision (watch.follow_symlinks), never the walk's.
                yield path, entry.stat(follow_symlinks=False)
        except OSError:
            continue  # vanished while we looked


def _user_and_groups() -> tuple[str, str]:
    uid, gid = os.geteuid(), os.getegid()
    try:
        user = f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        user = f"uid {uid}"
    try:
        group = f"{grp.getgrgid(gid).gr_name} (gid {gid})"
    except KeyError:
        group = f"gid {gid}"
    return user, group


def _owner(st: os.stat_result) -> str:
    try:
        user = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        user = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return f"owned by {user}:{group}, mode {stat.filemode(st.st_mode)}"


def check_readable(folder: Path) -> str | None:
    """None when we can list `folder`; else a message saying who lacks which right."""
    try:
        with os.scandir(folder) as entries:
            next(entries, None)
        return None
    except OSError as exc:
        return rights_message(folder, "read", exc)


def check_writable(folder: Path) -> str | None:
    """None when we can create files in `folder` (tried for real, so root, ACLs and
    read-only mounts are all judged right); else a message saying who lacks which right."""
    try:
        fd, name = tempfile.mkstemp(prefix=".scandex-check-", suffix=".tmp", dir=folder)
    except OSError as exc:
        return rights_message(folder, "write", exc)
    os.close(fd)
    os.unlink(name)
    return None


def rights_message(folder: Path, right: str, exc: OSError) -> str:
    user, group = _user_and_groups()
    if exc.errno == errno.EROFS:
        return (
            f"{folder} is on a read-only file system, so user {user} cannot {right} there"
            " (under systemd, list it in ReadWritePaths=)"
        )
    try:
        owner = _owner(folder.stat())
    except OSError:
        owner = "cannot stat it"
    return (
        f"user {user}, group {group} lacks {right} permission on {folder} ({owner}): {exc.strerror}"
    )
