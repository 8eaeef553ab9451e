"""`scandex run` and `scandex status`: the watch-folder daemon and its bookkeeping."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scandex.cli.app import app

if TYPE_CHECKING:
    from scandex.config import Config

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (default: $SCANDEX_CONFIG, else ./config.toml, else built-in defaults).",
        dir_okay=False,
    ),
]

# journald reads a "<N>" prefix as the syslog priority of the line.
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3}


class _LogFormatter(logging.Formatter):
    """One line per event: journald adds time stamps itself, a terminal gets them from us."""

    def __init__(self, journal: bool) -> None:
        super().__init__("%(message)s" if journal else "%(asctime)s %(levelname)s %(message)s")
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record).replace("\n", " | ")
        if self.journal:
            return f"<{_PRIORITY.get(record.levelno, 6)}>{text}"
        return text


def _stderr_is_journal() -> bool:
    """True when stderr is connected to journald (systemd sets JOURNAL_STREAM to its
    device:inode; a shell started from a service inherits the variable but not the stream)."""
    device, _, inode = os.environ.get("JOURNAL_STREAM", "").partition(":")
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return False
    if not (device.isdigit() and inode.isdigit()):
        return False
    return (st.st_dev, st.st_ino) == (int(device), int(inode))


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LogFormatter(journal=_stderr_is_journal()))
    logger = logging.getLogger("scandex")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False


@app.command()
def run(
    config: ConfigOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every step.")] = False,
    workers: Annotated[
        int | None, typer.Option("--workers", "-w", min=1, help="OCR worker processes.")
    ] = None,
) -> None:
    """Watch folders: OCR every new scan, write hOCR next to it, and index it.

    Runs until SIGTERM or Ctrl-C; SIGHUP (systemctl reload scandex) reads the configuration
    again, loading a changed ocr.model without stopping. Example: scandex run --config
    config.toml
    """
    from scandex.config import load_config
    from scandex.daemon import run as run_daemon

    _setup_logging(verbose)

    def load() -> Config:
        settings = load_config(config)
        if workers:
            settings = dataclasses.replace(
                settings, ocr=dataclasses.replace(settings.ocr, workers=workers)
            )
        return settings

    settings = load()
    stop, hurry, reload = threading.Event(), threading.Event(), threading.Event()
    daemon_log = logging.getLogger("scandex.daemon")

    def on_signal(signum: int, frame: object) -> None:
        if stop.is_set():
            hurry.set()  # a second signal: do not wait for the files in flight
        stop.set()
        daemon_log.info("%s received: stopping", signal.Signals(signum).name)

    def on_hangup(signum: int, frame: object) -> None:
        reload.set()
        daemon_log.info("SIGHUP received: reloading the configuration")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_hangup)
    raise typer.Exit(run_daemon(settings, stop=stop, hurry=hurry, reload=reload, load=load))


@app.command()
def worker(
    config: ConfigOption = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Worker processes (default: ocr.workers)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every job.")] = False,
) -> None:
    """OCR scans queued by `scandex run` on another machine (queue.backend = "redis").

    Runs on any machine that mounts the watched folders (queue.path_map maps them when the
    mount point differs), with the model of ocr.model. SIGTERM or Ctrl-C finish the jobs in
    hand and stop; SIGHUP reads the configuration again. Example: scandex worker --config
    /etc/scandex/config.toml --jobs 4
    """
    from scandex.config import load_config
    from scandex.queue.worker import run_workers

    _setup_logging(verbose)
    settings = load_config(config)
    stop, hurry, reload = threading.Event(), threading.Event(), threading.Event()
    worker_log = logging.getLogger("scandex.worker")

    def on_signal(signum: int, frame: object) -> None:
        if stop.is_set():
            hurry.set()
        stop.set()
        worker_log.info("%s received: stopping", signal.Signals(signum).name)

    def on_hangup(signum: int, frame: object) -> None:
        reload.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_hangup)
    count = jobs or settings.ocr.worker_count
    raise typer.Exit(
        run_workers(
            settings,
            jobs=count,
            stop=stop,
            hurry=hurry,
            reload=reload,
            load=lambda: load_config(config),
            verbose=verbose,
        )
    )


@app.command()
def status(
    config: ConfigOption = None,
    output_format: Annotated[
        str, typer.Option("--format", "-f", help="text or json.", case_sensitive=False)
    ] = "text",
) -> None:
    """Show the daemon's progress: files per state, queue, failures with reasons, index size.

    Example: scandex status --format json
    """
    from scandex.config import load_config
    from scandex.daemon.status import format_status, read_status
    from scandex.errors import UsageError

    if output_format.lower() not in ("text", "json"):
        raise UsageError(f"--format: expected text or json, not {output_format!r}")
    report = read_status(load_config(config))
    if output_format.lower() == "json":
        typer.echo(json.dumps(report, indent=2))
    else:
        typer.echo(format_status(report))


@app.command()
def reocr(
    config: ConfigOption = None,
    path: Annotated[
        str | None,
        typer.Option("--path", help="Only scans whose path starts with this (a file or folder)."),
    ] = None,
) -> None:
    """Read scans again with the configured model (all done scans, or those under --path).

    The running daemon picks the request up within seconds (or at its next start) and reads
    them in the background after new scans, newest first; their old text stays searchable
    until the new text replaces it. Example: scandex reocr --path scans/1934
    """
    from scandex.config import load_config
    from scandex.daemon.requests import request_reocr

    typer.echo(request_reocr(load_config(config), path))
