"""The site's systemd units verify like the daemon's and keep the site read-only and local."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from test_systemd import _local_copy, _settings, _verify

REPO = Path(__file__).resolve().parent.parent
SYSTEM_UNIT = REPO / "systemd" / "scandex-web.service"
USER_UNIT = REPO / "systemd" / "user" / "scandex-web.service"

pytestmark = [pytest.mark.timeout(60)]
needs_systemd = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (Debian: apt-get install systemd)",
)


@needs_systemd
def test_the_system_unit_verifies_without_warnings(tmp_path: Path) -> None:
    _verify(_local_copy(SYSTEM_UNIT, tmp_path))


@needs_systemd
def test_the_user_unit_verifies_without_warnings(tmp_path: Path) -> None:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), HOME=str(tmp_path))
    _verify(_local_copy(USER_UNIT, tmp_path), "--user", env=env)


def test_the_system_unit_serves_the_daemons_config_sandboxed() -> None:
    settings = _settings(SYSTEM_UNIT)
    daemon = _settings(REPO / "systemd" / "scandex.service")
    for key in ("User", "Group", "StateDirectory", "ProtectSystem", "NoNewPrivileges"):
        assert settings[key] == daemon[key], key
    assert settings["Type"] == "notify"
    assert (
        settings["ExecStart"] == "/opt/scandex/bin/scandex serve --config /etc/scandex/config.toml"
    )
    assert settings["RestartPreventExitStatus"] == "2"
    assert "ReadWritePaths" not in settings  # scans are only read
    assert set(settings["RestrictAddressFamilies"].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    assert "scandex.service" in settings["After"]


def test_the_user_unit_runs_the_users_config() -> None:
    settings = _settings(USER_UNIT)
    assert settings["Type"] == "notify"
    assert (
        settings["ExecStart"]
        == "%h/.local/bin/scandex serve --config %h/.config/scandex/config.toml"
    )
    assert settings["WantedBy"] == "default.target"
    assert "User" not in settings
