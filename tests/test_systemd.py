"""The systemd units verify cleanly with systemd-analyze and keep their promises."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SYSTEM_UNIT = REPO / "systemd" / "scandex.service"
USER_UNIT = REPO / "systemd" / "user" / "scandex.service"

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(
        shutil.which("systemd-analyze") is None,
        reason="systemd-analyze is not installed (Debian: apt-get install systemd)",
    ),
]


def _installed_scandex() -> str:
    """This environment's scandex command, standing in for /opt/scandex/bin/scandex."""
    script = Path(sys.executable).parent / "scandex"
    if script.is_file():
        return str(script)
    return f"{sys.executable} -m scandex"


def _local_copy(unit: Path, folder: Path) -> Path:
    """The unit with ExecStart's program pointing at this environment's scandex, since
    verify checks that the program exists."""
    text = unit.read_text(encoding="utf-8")
    text, count = re.subn(r"^ExecStart=\S+", f"ExecStart={_installed_scandex()}", text, flags=re.M)
    assert count == 1
    copy = folder / unit.name
    copy.write_text(text, encoding="utf-8")
    return copy


def _verify(unit: Path, *extra: str, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        ["systemd-analyze", *extra, "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        cwd=unit.parent,
    )
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and output == "", output


def _settings(unit: Path) -> dict[str, str]:
    settings: dict[str, str] = {}
    for line in unit.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            settings[key.strip()] = value.strip()
    return settings


def test_the_system_unit_verifies_without_warnings(tmp_path: Path) -> None:
    _verify(_local_copy(SYSTEM_UNIT, tmp_path))


def test_the_user_unit_verifies_without_warnings(tmp_path: Path) -> None:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), HOME=str(tmp_path))
    _verify(_local_copy(USER_UNIT, tmp_path), "--user", env=env)


def test_the_system_unit_is_sandboxed_and_speaks_notify() -> None:
    settings = _settings(SYSTEM_UNIT)
    expected = {
        "Type": "notify",
        "User": "scandex",
        "StateDirectory": "scandex",
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "KillMode": "mixed",
        "RestartPreventExitStatus": "2",
    }
    assert {k: settings.get(k) for k in expected} == expected
    assert settings["ReadWritePaths"]
    assert int(settings["WatchdogSec"]) > 0
    assert "--config /etc/scandex/config.toml" in settings["ExecStart"]
    # `systemctl reload scandex` is SIGHUP: the daemon reads its configuration again.
    assert settings["ExecReload"] == "/bin/kill -HUP $MAINPID"


def test_the_user_unit_runs_the_users_config() -> None:
    settings = _settings(USER_UNIT)
    assert settings["Type"] == "notify"
    command = settings["ExecStart"]
    assert command.startswith("%h/") and "--config %h/.config/scandex/" in command
    assert settings["WantedBy"] == "default.target"
    assert "User" not in settings
    assert settings["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert settings["RestartPreventExitStatus"] == "2"
