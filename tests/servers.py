"""Real Redis and PostgreSQL servers for the tests, started on loopback in temporary folders.

Debian's packages (`apt-get install redis-server postgresql`; `.ci/run` installs them). A
machine without them skips the tests that need them, with the reason; under CI ($CI set)
a missing server fails instead, so CI never silently skips them.

PostgreSQL refuses to run as root, so when the tests run as root (CI does) initdb and the
server run as the `postgres` user Debian's package creates, through runuser.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from polling import wait_for

START_SECONDS = 60.0


def missing(what: str, install: str) -> None:
    """Skip the test (fail it under CI): `what` is not installed."""
    message = f"{what} is not installed (Debian: {install})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must run these tests")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


# ----------------------------------------------------------------------------- Redis


@dataclass
class RedisServer:
    """One redis-server on 127.0.0.1:port, without persistence: a restart loses every key,
    as a crashed Redis without a snapshot would."""

    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port)]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for(lambda: _listening(self.port), "redis-server to listen", START_SECONDS)

    def stop(self) -> None:
        """Stop it abruptly (SIGKILL): what a crash or a pulled plug looks like."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        missing("redis-server", "apt-get install redis-server")
    pytest.importorskip("rq", reason="the queue extra is not installed (pip install -e '.[queue]')")
    folder.mkdir(parents=True, exist_ok=True)
    server = RedisServer(folder, free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


# ----------------------------------------------------------------------------- PostgreSQL


def _postgres_bin() -> Path | None:
    """Debian keeps the server's programs in /usr/lib/postgresql/VERSION/bin, off the PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class PostgresServer:
    folder: Path
    port: int
    bin: Path
    user: str | None  # run the server as this user (we are root); None = as ourselves
    databases: int = 0

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        # In our folder: the postgres user may not enter the directory the tests run in.
        subprocess.run(
            [*prefix, *command], check=True, capture_output=True, timeout=120, cwd=self.folder
        )

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def start(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            "--pgdata", str(self.data),
            "--username", "scandex",
            "--auth", "trust",
            "--encoding", "UTF8",
            "--locale", "C.UTF-8",
            "--no-sync",
        )  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port}"
            f" -c unix_socket_directories={self.folder}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=200 -c shared_buffers=64MB"
        )
        self._run(
            str(self.bin / "pg_ctl"), "--pgdata", str(self.data), "--log", str(self.folder / "log"),
            "--options", options, "--wait", "--timeout", str(int(START_SECONDS)), "start",
        )  # fmt: skip

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._run(
                str(self.bin / "pg_ctl"), "--pgdata", str(self.data), "-m", "immediate", "stop"
            )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://scandex@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        self.databases += 1
        name = f"test{self.databases}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE template0")
        return self.url(name)


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    binaries = _postgres_bin()
    if binaries is None:
        missing("PostgreSQL", "apt-get install postgresql postgresql-contrib")
        raise AssertionError("unreachable")
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    user = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            missing("the postgres user", "apt-get install postgresql")
        user = "postgres"
    folder = Path(tempfile.mkdtemp(prefix="scandex-pg-"))
    if user:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    server = PostgresServer(folder, free_port(), binaries, user)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def stop_process(process: subprocess.Popen[bytes], timeout_seconds: float = 30.0) -> int:
    """SIGTERM, then SIGKILL after `timeout_seconds`; the exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait(timeout=10)


def sleep_briefly() -> None:
    """For loops that poll a server: a short pause between looks."""
    time.sleep(0.05)
