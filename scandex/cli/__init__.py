"""The `scandex` command line. One module per command family, all on one typer app.

Commands parse their options, call one library function and print. Heavy modules
(onnxruntime, whoosh, torch) are imported inside the commands so `--help` stays instant.
"""

from __future__ import annotations

from scandex.cli.app import app, main

# Importing the command modules registers their commands on `app`.
from scandex.cli import ocr, segment, serve, service, search, train  # noqa: E402,F401  isort: skip

__all__ = ["app", "main"]
