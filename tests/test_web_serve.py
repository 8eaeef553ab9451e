"""`scandex serve` as a user runs it: the real command, a real socket, systemd's notify."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from web_scans import index_documents, workspace_config, write_scan

pytestmark = pytest.mark.timeout(90)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _scandex(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-W", "error", "-m", "scandex", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serve_answers_reports_ready_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    config = workspace_config(tmp_path)
    index_documents(
        config, [(write_scan(tmp_path / "scans" / "a.png", ["treaty of Geneva"]), None)]
    )
    (tmp_path / "config.toml").write_text(
        'state_dir = "state"\n[watch]\npaths = ["scans"]\n', encoding="utf-8"
    )
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(60)
    port = _free_port()
    server = _scandex(
        "serve", "--config", "config.toml", "--port", str(port),
        cwd=tmp_path, env={"NOTIFY_SOCKET": str(tmp_path / "notify.sock")},
    )  # fmt: skip
    try:
        message = notify.recv(4096).decode()
        assert "READY=1" in message and f"http://127.0.0.1:{port}/" in message
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q=geneva") as answer:
            hits = json.loads(answer.read())
        assert [hit["path"] for hit in hits] == [str(tmp_path / "scans" / "a.png")]
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=30)
        assert server.returncode == 0
        assert "serving" in stderr and "SIGTERM received" in stderr and "Traceback" not in stderr
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate(timeout=10)
        notify.close()


def test_a_public_address_without_a_token_is_refused_with_exit_status_2(tmp_path: Path) -> None:
    workspace_config(tmp_path)
    (tmp_path / "config.toml").write_text(
        'state_dir = "state"\n[watch]\npaths = ["scans"]\n', encoding="utf-8"
    )
    server = _scandex("serve", "--config", "config.toml", "--host", "0.0.0.0", cwd=tmp_path)
    _, stderr = server.communicate(timeout=60)
    assert server.returncode == 2
    assert "web.token" in stderr and "0.0.0.0" in stderr and "Traceback" not in stderr


def test_a_taken_port_is_an_error_not_a_hang(tmp_path: Path) -> None:
    workspace_config(tmp_path)
    (tmp_path / "config.toml").write_text(
        'state_dir = "state"\n[watch]\npaths = ["scans"]\n', encoding="utf-8"
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = _scandex("serve", "--config", "config.toml", "--port", str(port), cwd=tmp_path)
        _, stderr = server.communicate(timeout=60)
    assert server.returncode == 75  # ExitCode.TEMPORARY: systemd tries again
    assert "address already in use" in stderr.lower() and "Traceback" not in stderr


def test_serve_help_is_instant_and_has_an_example() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "scandex", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "Example: scandex serve" in result.stdout
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
    assert not {"uvicorn", "starlette", "whoosh", "PIL"} & imported
