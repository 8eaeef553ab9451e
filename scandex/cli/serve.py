"""`scandex serve`: the search site, served read-only while the daemon runs (or alone)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from scandex.cli.app import app


@app.command()
def serve(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Config file (default: $SCANDEX_CONFIG, else ./config.toml, else defaults).",
            dir_okay=False,
        ),
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (web.host).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help="Port (web.port).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every request.")] = False,
) -> None:
    """Search the index in a browser: every hit marked on its scan; JSON and IIIF for programs.

    Only reads the index and the scans. Any address but loopback needs web.token.
    Example: scandex serve --config config.toml   (then open http://127.0.0.1:8421/)
    """
    from scandex.cli.service import _setup_logging
    from scandex.config import load_config
    from scandex.errors import UsageError

    _setup_logging(verbose)
    settings = load_config(config)
    web = dataclasses.replace(
        settings.web,
        host=host if host is not None else settings.web.host,
        port=port if port is not None else settings.web.port,
    )
    settings = dataclasses.replace(settings, web=web)
    try:
        from scandex.web.server import serve as serve_site
    except ImportError as exc:
        raise UsageError(
            f"scandex serve needs the web extra ({exc.name} is missing): pip install 'scandex[web]'"
        ) from None
    raise typer.Exit(serve_site(settings, verbose=verbose))
