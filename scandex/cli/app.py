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

# Exit statuses shared by every command.
EXIT_OK = 0
EXIT_FAILED = 1  # the command ran, but some input failed (reported on stderr)
EXIT_USAGE = 2  # bad arguments, configuration or query


def error(message: str) -> None:
    """Print one user-facing error line to stderr."""
    typer.echo(f"scandex: error: {message}", err=True)


def main() -> None:
    """Entry point of the console script: ScandexError becomes one line, not a traceback."""
    try:
        app()
    except ScandexError as exc:
        if os.environ.get("SCANDEX_TRACEBACK"):
            raise
        error(str(exc))
        sys.exit(EXIT_USAGE)
