"""What `scandex status` reports, and the daemon's side of it: the live numbers it publishes
in the state store (and as systemd's STATUS line). `read_status` never writes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from scandex.config import Config
from scandex.daemon.lock import daemon_pid
from scandex.daemon.state import DONE, FAILED, PENDING, StateStore
from scandex.errors import ScandexError

# A daemon's numbers older than this are stale (it rewrites them at least every 10 s).
STALE_AFTER_SECONDS = 60.0
PUBLISH_EVERY_SECONDS = 1.0  # status for `scandex status` and systemd
META_REFRESH_SECONDS = 10.0  # unchanged status is rewritten this often (status: "alive")


@dataclass(frozen=True)
class LiveNumbers:
    """What only the running daemon knows: work in its memory and in its workers."""

    in_progress: int
    rereading: int  # of in_progress: done files being read again
    settling: int
    awaiting_commit: int  # indexed, done with the next commit (not counting re-reads)
    workers: int
    model: str  # ModelRef.id of the pool taking new files
    reocr: str  # ocr.reocr
    queue: dict[str, Any] | None = None  # WorkerSet.report(): the backend and its workers


class StatusBoard:
    """Writes the live numbers for `scandex status`; makes systemd's STATUS line."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.started = time.time()
        self.line = ""
        self._last_publish = 0.0
        self._last_write = 0.0
        self._other_models = 0
        self._last_count = 0.0

    def publish(self, live: LiveNumbers, *, now: bool = False) -> str:
        """Publish (at most once a second unless `now`); returns systemd's STATUS line."""
        clock = time.monotonic()
        if not now and clock - self._last_publish < PUBLISH_EVERY_SECONDS and self.line:
            return self.line
        self._last_publish = clock
        counts = self.store.counts()
        waiting = self.store.waiting_retry(time.time())
        new_work = live.in_progress - live.rereading
        queued = max(0, counts[PENDING] - waiting - new_work - live.awaiting_commit)
        if now or clock - self._last_count >= META_REFRESH_SECONDS:
            self._other_models = self.store.read_by_other_models(live.model)
            self._last_count = clock
        line = (
            f"{queued} queued, {live.in_progress} in progress, {live.settling} settling,"
            f" {counts[DONE] + live.awaiting_commit} done, {counts[FAILED]} failed"
        )
        if self._other_models and live.reocr != "off":
            line += f", {self._other_models} to read again with the current model"
        # An idle daemon rewrites its unchanged numbers only now and then: fewer disk writes.
        if not now and line == self.line and clock - self._last_write < META_REFRESH_SECONDS:
            return line
        self.line = line
        self._last_write = clock
        self.store.set_meta(
            {
                "pid": str(os.getpid()),
                "started": f"{self.started:.3f}",
                "updated": f"{time.time():.3f}",
                "queued": str(queued),
                "in_progress": str(live.in_progress),
                "rereading": str(live.rereading),
                "settling": str(live.settling),
                "waiting_retry": str(waiting),
                "workers": str(live.workers),
                "model": live.model,
                "reocr": live.reocr,
                "queue": json.dumps(live.queue or {}),
            }
        )
        return line


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
        "partly_read": [],  # done, but with PDF pages that failed: {"path", "error"}
        "model": {
            "configured": None,
            "reocr": config.ocr.reocr,
            "read_by_other_models": 0,
            "rereading": 0,
            "reocr_requests": 0,
            "not_read_again": 0,  # reading them again failed ocr.retries + 1 times (see the log)
        },
        "index": _index_stats(config),
        # The OCR workers: "local" (the daemon's processes) or "redis" (queue depth, the
        # workers seen recently and each one's rate), as the running daemon last saw them.
        "queue": {"backend": config.queue.backend},
    }
    try:
        store = StateStore(config.db_path, readonly=True) if config.db_path.exists() else None
        if store is not None and store.created:
            return _fill(report, store, pid, problem_limit, config)
        if store is not None:  # a daemon is creating it this very moment
            store.close()
        report["model"]["configured"] = _configured_model(config)
        return report
    except sqlite3.Error as exc:
        raise ScandexError(
            f"cannot read the state database {config.db_path}: {exc} (run as the daemon's user,"
            " or a member of its group)"
        ) from None


def _fill(
    report: dict[str, Any], store: StateStore, pid: int | None, problem_limit: int, config: Config
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
        model = report["model"]
        if live:
            daemon["started"] = float(meta.get("started", "0"))
            for key in ("queued", "in_progress", "settling"):
                report[key] = int(meta.get(key, "0"))
            model["rereading"] = int(meta.get("rereading", "0"))
            model["reocr"] = meta.get("reocr", model["reocr"])
            report["queue"] = json.loads(meta.get("queue", "{}")) or report["queue"]
        # The running daemon's model; else the one it would load now.
        model["configured"] = meta.get("model") if live else _configured_model(config)
        if model["configured"] and not model["configured"].startswith("unreadable"):
            model["read_by_other_models"] = store.read_by_other_models(model["configured"])
        model["reocr_requests"] = len(store.requests())
        model["not_read_again"] = store.not_read_again(config.ocr.retries + 1)
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
        for record in store.partly_read(problem_limit):
            report["partly_read"].append({"path": record.path, "error": record.last_error})
    finally:
        store.close()
    return report


def _configured_model(config: Config) -> str:
    """The configured model's identity ("NAME sha256:HEX"), hashed where it lies."""
    from scandex.daemon.models import model_ref

    try:
        return model_ref(config.ocr.model).id
    except ScandexError as exc:
        return f"unreadable: {exc}"


def _index_stats(config: Config) -> dict[str, Any]:
    from scandex.indexer import NoIndexError, open_index_for

    empty = {"documents": 0, "pages": 0, "size_bytes": 0}
    if config.index.backend == "whoosh" and not config.index_dir.exists():
        return empty
    try:
        index = open_index_for(config, writable=False)
        try:
            stats = index.stats()
        finally:
            index.close()
    except NoIndexError:
        return empty
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
    model = report["model"]
    reread = f"{model['read_by_other_models']} file(s) read by another model"
    if model["read_by_other_models"]:
        reread += {
            "auto": ", being read again (ocr.reocr = auto)",
            "manual": "; `scandex reocr` reads them again (ocr.reocr = manual)",
            "off": " (ocr.reocr = off)",
        }.get(model["reocr"], "")
    if model["not_read_again"]:
        reread += f"; {model['not_read_again']} could not be read again (see the log)"
    lines.append(f"model:    {model['configured']}; {reread}")
    lines += _queue_lines(report.get("queue") or {})
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
    if report["partly_read"]:
        lines.append("read in part:")
        lines += [f"  {f['path']}: {f['error']}" for f in report["partly_read"]]
    if report["retrying"]:
        lines.append("retrying:")
        lines += [
            f"  {f['path']}: {f['error']} (attempt {f['attempts']},"
            f" next in {f['retry_in_seconds']:.0f} s)"
            for f in report["retrying"]
        ]
    return "\n".join(lines)


def _queue_lines(queue: dict[str, Any]) -> list[str]:
    if queue.get("backend") != "redis" or "queue" not in queue:
        return []
    reach = "" if queue.get("connected") else " (cannot be reached: scans wait)"
    lines = [
        f"queue:    {queue['queue']} on {queue['url']}{reach}: {queue['depth']} waiting,"
        f" {queue['in_flight']} given out; {len(queue['workers'])} worker(s) seen"
    ]
    for worker in queue["workers"]:
        seen = worker.get("last_seen_seconds")
        ago = f", seen {seen:.0f} s ago" if seen is not None else ""
        lines.append(
            f"  {worker['name']}: {worker['state']}, {worker['files']} files,"
            f" {worker['files_per_minute']:.1f} files/min{ago}"
        )
    return lines


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
