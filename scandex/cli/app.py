"""The typer app and the one place where user-facing errors become one-line messages."""

from __future__ import annotations

import os
import sys

import typer

from scandex.errors import ScandexError

app = typer.Typer(
    name="scandex",
    help="Make scanned paper searchable: OCR scans to hOCR, index them, search them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def error(message: str) -> None:
    """Print one user-facing error line to stderr."""
    typer.echo(f"scandex: error: {message}", err=True)


def main() -> None:
    """Entry point of the console script: ScandexError becomes one line, not a traceback, and
    the exit status of its kind (scandex.errors.ExitCode)."""
    try:
        app()
    except ScandexError as exc:
        if os.environ.get("SCANDEX_TRACEBACK"):
            raise
        error(str(exc))
        sys.exit(int(exc.exit_code))
