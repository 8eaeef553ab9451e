"""Running the site: uvicorn on the configured address, ready and stop signals for systemd.

exit_code = serve(config, verbose=False)   # until SIGTERM or Ctrl-C
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import uvicorn

from scandex.config import Config
from scandex.daemon.notify import sd_notify
from scandex.errors import ConfigError, ExitCode
from scandex.indexer import index_location
from scandex.web.app import LOOPBACK_NAMES, create_app, is_loopback

log = logging.getLogger("scandex.web")
MAX_CONNECTIONS = 100


def serve(settings: Config, *, verbose: bool) -> ExitCode:
    """Serve until SIGTERM or Ctrl-C; the exit status."""
    web = settings.web
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
    log.info("serving %s on %s (%s)", index_location(settings), where, access)

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
