"""`scandex serve`: the search site, served read-only while the daemon runs (or alone)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scandex.cli.app import app

if TYPE_CHECKING:
    from scandex.config import Config

log = logging.getLogger("scandex.web")
MAX_CONNECTIONS = 100


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

    _setup_logging(verbose)
    settings = load_config(config)
    web = dataclasses.replace(
        settings.web,
        host=host if host is not None else settings.web.host,
        port=port if port is not None else settings.web.port,
    )
    settings = dataclasses.replace(settings, web=web)
    raise typer.Exit(run_server(settings, verbose=verbose))


def run_server(settings: Config, *, verbose: bool) -> int:
    """Serve until SIGTERM or Ctrl-C; the exit status (scandex.errors.ExitCode)."""
    import asyncio
    import contextlib
    import signal

    from scandex.daemon.notify import sd_notify
    from scandex.errors import ConfigError, ExitCode, UsageError

    web = settings.web
    try:
        import uvicorn

        from scandex.web.app import LOOPBACK_NAMES, create_app, is_loopback
    except ImportError as exc:
        raise UsageError(
            f"scandex serve needs the web extra ({exc.name} is missing): pip install 'scandex[web]'"
        ) from None
    local = is_loopback(web.host)
    if not local and not web.token:
        raise ConfigError(
            "web.token",
            f"required to listen on {web.host}, which other machines can reach; set a long "
            "random token (python3 -c 'import secrets; print(secrets.token_urlsafe(24))')",
            settings.source,
        )
    # On loopback without a token, only loopback host names: a web page elsewhere cannot
    # reach this server through DNS rebinding. With a token, the token protects it.
    allowed = None if web.token else {*LOOPBACK_NAMES, web.host.strip("[]").lower()}
    application = create_app(settings, allowed_hosts=allowed)
    # uvicorn's own messages (a port already taken, say) go where scandex's go.
    uvicorn_log = logging.getLogger("uvicorn")
    uvicorn_log.handlers[:] = logging.getLogger("scandex").handlers
    uvicorn_log.setLevel(logging.INFO if verbose else logging.WARNING)
    uvicorn_log.propagate = False
    server = uvicorn.Server(
        uvicorn.Config(
            application,
            host=web.host,
            port=web.port,
            log_config=None,
            access_log=verbose,
            server_header=False,
            timeout_graceful_shutdown=5,
            # More open connections than this get 503 at once instead of piling up.
            limit_concurrency=MAX_CONNECTIONS,
        )
    )
    url_host = f"[{web.host}]" if ":" in web.host else web.host
    where = f"http://{url_host}:{web.port}/"
    access = "every request needs web.token" if web.token else "no token: this machine only"
    log.info("serving %s on %s (%s)", settings.index_dir, where, access)

    def stop(signum: int, frame: object) -> None:
        if server.should_exit:
            server.force_exit = True  # a second signal: do not wait for open connections
        server.should_exit = True
        log.info("%s received: stopping", signal.Signals(signum).name)

    async def serve() -> None:
        # uvicorn's way to say it could not start (it has logged why) is SystemExit.
        with contextlib.suppress(SystemExit):
            await server.serve()

    async def serve_and_notify() -> None:
        task = asyncio.create_task(serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        if server.started:
            # Ours, not uvicorn's: SIGTERM and Ctrl-C end with status 0, as `scandex run` does
            # (uvicorn's own handlers re-raise the signal after shutting down).
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
            sd_notify(f"READY=1\nSTATUS=serving {where}")
        await task

    asyncio.run(serve_and_notify())
    # Not started: the address is taken or not available yet; systemd tries again later.
    return ExitCode.OK if server.started else ExitCode.TEMPORARY
