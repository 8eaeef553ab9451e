"""Exit statuses of `scandex run` per kind of failure at start (scandex.errors.ExitCode):
2 only for usage and configuration, which systemd must not restart (RestartPreventExitStatus=2);
75 for what clears up by itself (a share mounted late, the index locked by `reindex`, another
daemon still stopping, slow workers), which systemd restarts."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from scandex.errors import ConfigError, ExitCode, MissingFolderError, QueryError, ScandexError

pytestmark = [pytest.mark.timeout(120)]


def scandex_run(config: Path, *args: str, timeout: float = 90.0) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scandex", "run", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"},
    )


def write_config(tmp_path: Path, text: str) -> Path:
    (tmp_path / "scans").mkdir(exist_ok=True)
    path = tmp_path / "config.toml"
    path.write_text('state_dir = "state"\n' + text, encoding="utf-8")
    return path


def test_the_error_kinds_carry_their_exit_status() -> None:
    assert ExitCode.USAGE == 2 and ExitCode.TEMPORARY == 75
    assert ConfigError("watch.paths", "x").exit_code is ExitCode.USAGE
    assert QueryError("x").exit_code is ExitCode.USAGE
    assert MissingFolderError("watch.paths", "x").exit_code is ExitCode.TEMPORARY
    assert ScandexError("x").exit_code is ExitCode.FAILED


def test_a_configuration_mistake_exits_2(tmp_path: Path) -> None:
    result = scandex_run(write_config(tmp_path, "[watch]\nsettle_seconds = 'soon'\n"))
    assert result.returncode == ExitCode.USAGE, result.stderr
    assert "watch.settle_seconds" in result.stderr and "Traceback" not in result.stderr


def test_a_model_that_cannot_load_exits_2(tmp_path: Path) -> None:
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"not a model at all")
    result = scandex_run(write_config(tmp_path, f"[ocr]\nworkers = 1\nmodel = '{model}'\n"))
    assert result.returncode == ExitCode.USAGE, result.stderr
    assert "broken.onnx" in result.stderr and "Traceback" not in result.stderr


def test_a_share_not_mounted_yet_exits_75(tmp_path: Path) -> None:
    missing = tmp_path / "mnt" / "nas"
    result = scandex_run(write_config(tmp_path, f"[watch]\npaths = ['{missing}']\n"))
    assert result.returncode == ExitCode.TEMPORARY, result.stderr
    assert "is the share mounted?" in result.stderr


def test_an_index_locked_by_reindex_exits_75(tmp_path: Path) -> None:
    from scandex.indexer.layout import WriterLock

    config = write_config(tmp_path, "")
    lock = WriterLock(tmp_path / "state" / "index")  # as `scandex reindex` holds it
    try:
        result = scandex_run(config)
    finally:
        lock.release()
    assert result.returncode == ExitCode.TEMPORARY, result.stderr
    assert f"being written by process {os.getpid()}" in result.stderr


def test_another_daemon_on_the_state_dir_exits_75(tmp_path: Path) -> None:
    from scandex.daemon.lock import DaemonLock

    config = write_config(tmp_path, "")
    lock = DaemonLock(tmp_path / "state")
    lock.acquire()
    try:
        result = scandex_run(config)
    finally:
        lock.release()
    assert result.returncode == ExitCode.TEMPORARY, result.stderr
    assert f"another scandex daemon (pid {os.getpid()})" in result.stderr


@dataclass(frozen=True)
class SlowStartEngine:
    """An engine whose model takes longer to load than the daemon waits."""

    def __call__(self) -> None:
        time.sleep(30)


def test_workers_slow_to_start_are_a_temporary_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scandex.daemon.worker as worker
    from scandex.config import Config, OcrConfig, WatchConfig
    from scandex.daemon import run

    monkeypatch.setattr(worker, "WORKER_START_SECONDS", 1.0)
    (tmp_path / "scans").mkdir()
    config = Config(
        state_dir=tmp_path / "state",
        watch=WatchConfig(paths=(tmp_path / "scans",)),
        ocr=OcrConfig(workers=1),
    )
    with pytest.raises(ScandexError, match="not ready after 1 s") as caught:
        run(config, stop=threading.Event(), engine=lambda ocr, model: SlowStartEngine())
    assert caught.value.exit_code is ExitCode.TEMPORARY
