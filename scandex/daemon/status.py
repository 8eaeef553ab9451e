"""What `scandex status` reports: read from the state store and the index, never written."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from scandex.config import Config
from scandex.daemon.lock import daemon_pid
from scandex.daemon.state import DONE, FAILED, PENDING, StateStore
from scandex.errors import ScandexError

# A daemon's numbers older than this are stale (it rewrites them at least every 10 s).
STALE_AFTER_SECONDS = 60.0


def read_status(config: Config, *, problem_limit: int = 100) -> dict[str, Any]:
    """Counts per state, queue, failed files with reasons, index size, daemon liveness."""
    pid = daemon_pid(config.state_dir)
    daemon: dict[str, Any] = {"running": pid is not None, "pid": pid if pid and pid > 0 else None}
    report: dict[str, Any] = {
        "daemon": daemon,
        "state_dir": str(config.state_dir),
        "watch": [str(p) for p in config.watch.paths],
        "counts": {PENDING: 0, DONE: 0, FAILED: 0},
        "queued": 0,
        "in_progress": 0,
        "settling": 0,
        "waiting_retry": 0,
        "failed": [],
        "retrying": [],
        "index": _index_stats(config),
    }
    if not config.db_path.exists():
        return report
    try:
        store = StateStore(config.db_path, readonly=True)
        return _fill(report, store, pid, problem_limit)
    except sqlite3.Error as exc:
        raise ScandexError(
            f"cannot read the state database {config.db_path}: {exc} (run as the daemon's user,"
            " or a member of its group)"
        ) from None


def _fill(
    report: dict[str, Any], store: StateStore, pid: int | None, problem_limit: int
) -> dict[str, Any]:
    daemon = report["daemon"]
    try:
        now = time.time()
        counts = store.counts()
        waiting = store.waiting_retry(now)
        meta = store.meta()
        report["counts"] = counts
        report["waiting_retry"] = waiting
        report["queued"] = max(0, counts[PENDING] - waiting)
        live = pid is not None and now - float(meta.get("updated", "0")) < STALE_AFTER_SECONDS
        if live:
            daemon["started"] = float(meta.get("started", "0"))
            for key in ("queued", "in_progress", "settling"):
                report[key] = int(meta.get(key, "0"))
        for record in store.problems(problem_limit):
            entry: dict[str, Any] = {
                "path": record.path,
                "error": record.last_error,
                "attempts": record.attempts,
            }
            if record.state == FAILED:
                report["failed"].append(entry)
            else:
                entry["retry_in_seconds"] = round(max(0.0, record.next_attempt - now), 1)
                report["retrying"].append(entry)
    finally:
        store.close()
    return report


def _index_stats(config: Config) -> dict[str, Any]:
    if not config.index_dir.exists():
        return {"documents": 0, "pages": 0, "size_bytes": 0}
    try:
        from scandex.indexer import open_index

        index = open_index(config.index_dir, writable=False)
        try:
            stats = index.stats()
        finally:
            index.close()
    except Exception as exc:  # status must report, not crash, whatever state the index is in
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {
        "documents": int(getattr(stats, "documents", 0)),
        "pages": int(getattr(stats, "pages", 0)),
        "size_bytes": int(getattr(stats, "size_bytes", 0)),
    }


def format_status(report: dict[str, Any]) -> str:
    """The report as a few lines of text for a terminal."""
    daemon = report["daemon"]
    if daemon["running"]:
        up = ""
        if daemon.get("started"):
            up = f", up {_duration(time.time() - daemon['started'])}"
        lines = [f"daemon:   running (pid {daemon['pid']}{up})"]
    else:
        lines = ["daemon:   not running"]
    counts = report["counts"]
    lines += [
        f"state:    {report['state_dir']}",
        f"watching: {', '.join(report['watch'])}",
        f"files:    {counts[DONE]} done, {counts[PENDING]} pending ({report['queued']} queued,"
        f" {report['in_progress']} in progress, {report['waiting_retry']} waiting to retry),"
        f" {counts[FAILED]} failed; {report['settling']} settling",
    ]
    index = report["index"]
    if "error" in index:
        lines.append(f"index:    unavailable ({index['error']})")
    else:
        lines.append(
            f"index:    {index['documents']} documents, {index['pages']} pages,"
            f" {index['size_bytes'] / 1e6:.1f} MB"
        )
    if report["failed"]:
        lines.append("failed:")
        lines += [
            f"  {f['path']}: {f['error']} (after {f['attempts']} attempts)"
            for f in report["failed"]
        ]
    if report["retrying"]:
        lines.append("retrying:")
        lines += [
            f"  {f['path']}: {f['error']} (attempt {f['attempts']},"
            f" next in {f['retry_in_seconds']:.0f} s)"
            for f in report["retrying"]
        ]
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
