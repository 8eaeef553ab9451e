"""The worker units verify cleanly with systemd-analyze, like the daemon's."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from test_systemd import _local_copy, _settings, _verify

REPO = Path(__file__).resolve().parent.parent
SYSTEM_UNIT = REPO / "systemd" / "scandex-worker.service"
USER_UNIT = REPO / "systemd" / "user" / "scandex-worker.service"

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(
        shutil.which("systemd-analyze") is None,
        reason="systemd-analyze is not installed (Debian: apt-get install systemd)",
    ),
]


def test_the_system_worker_unit_verifies_and_is_sandboxed(tmp_path: Path) -> None:
    _verify(_local_copy(SYSTEM_UNIT, tmp_path))
    settings = _settings(SYSTEM_UNIT)
    assert settings["ExecStart"].endswith("scandex worker --config /etc/scandex/config.toml")
    assert (settings["Type"], settings["User"], settings["KillMode"]) == (
        "notify",
        "scandex",
        "mixed",
    )
    assert settings["RestartPreventExitStatus"] == "2"
    assert settings["ProtectSystem"] == "strict" and settings["ReadWritePaths"]
    assert "AF_INET" in settings["RestrictAddressFamilies"]  # it reaches Redis
    assert settings["ExecReload"] == "/bin/kill -HUP $MAINPID"


def test_the_user_worker_unit_verifies(tmp_path: Path) -> None:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), HOME=str(tmp_path))
    _verify(_local_copy(USER_UNIT, tmp_path), "--user", env=env)
    settings = _settings(USER_UNIT)
    assert settings["ExecStart"].startswith("%h/.local/bin/scandex worker --config %h/")
    assert "User" not in settings and settings["WantedBy"] == "default.target"
