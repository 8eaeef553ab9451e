"""Asking the daemon for work from another process (`scandex reocr`).

A request is a row in the state store's requests table; the daemon looks for requests every
second (and at start), acts on them and deletes them, so it stays the only writer of the
files table and a request made while it is down waits for its next start.
"""

from __future__ import annotations

import os
from pathlib import Path

from scandex.config import Config
from scandex.daemon.lock import daemon_pid
from scandex.daemon.state import DONE, StateStore, under_prefix
from scandex.errors import ConfigError


def reocr_prefix(text: str | None) -> str:
    """The path prefix a `--path` selects: a file's own path, or a folder's files."""
    if not text:
        return ""
    path = Path(text).expanduser().resolve()
    return under_prefix(str(path)) if path.is_dir() or text.endswith(os.sep) else str(path)


def request_reocr(config: Config, path: str | None) -> str:
    """Ask the daemon to read done scans again (all, or those under `path`); what happened."""
    if config.ocr.reocr == "off":
        raise ConfigError(
            "ocr.reocr",
            'is "off", so scans are never read again; set it to "manual" (or "auto")',
            config.source,
        )
    prefix = reocr_prefix(path)
    where = f" under {path}" if path else ""
    if not config.db_path.exists():
        return f"no scans have been read yet (no state in {config.state_dir})"
    store = StateStore(config.db_path)
    try:
        selected = store.under(prefix.rstrip("/")) if prefix else list(store.all())
        count = sum(1 for record in selected if record.state == DONE)
        if count == 0:
            return f"no scans read yet{where}: nothing to read again"
        store.add_request("reocr", prefix)
    finally:
        store.close()
    pid = daemon_pid(config.state_dir)
    when = (
        f"the daemon (pid {pid}) reads them in the background"
        if pid
        else "the daemon reads them when it starts"
    )
    return f"queued {count} scan(s){where} to be read again; {when}"
