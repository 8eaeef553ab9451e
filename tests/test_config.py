"""config.toml: the documented defaults are the real ones, and every mistake names its key."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from scandex.config import Config, OcrConfig, WatchConfig, load_config, parse_config
from scandex.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(60)


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_repository_config_documents_every_key_with_its_default(tmp_path: Path) -> None:
    data = tomllib.loads((REPO / "config.toml").read_text(encoding="utf-8"))
    documented = {f"watch.{k}" for k in data["watch"]} | {f"ocr.{k}" for k in data["ocr"]}
    documented |= {k for k in data if not isinstance(data[k], dict)}
    fields = {f"watch.{f.name}" for f in dataclasses.fields(WatchConfig)}
    fields |= {f"ocr.{f.name}" for f in dataclasses.fields(OcrConfig)}
    fields |= {"state_dir"}
    assert documented == fields
    # Parsed from the same folder, the file and the built-in defaults are the same config.
    from_file = parse_config(data, base_dir=tmp_path, source=None)
    assert from_file == parse_config({}, base_dir=tmp_path, source=None)


def test_defaults_without_a_file_resolve_against_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCANDEX_CONFIG", raising=False)
    config = load_config()
    assert config.source is None
    assert config.state_dir == tmp_path / ".scandex"
    assert config.watch.paths == (tmp_path / "scans",)
    assert config.index_dir == tmp_path / ".scandex" / "index"
    assert config.db_path == tmp_path / ".scandex" / "state.sqlite3"
    assert config.fallback_hocr_dir == tmp_path / ".scandex" / "hocr"
    assert config.ocr.model is None and config.ocr.columns is None
    assert config.ocr.worker_count >= 1


def test_relative_paths_resolve_against_the_config_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf" / "inbox").mkdir(parents=True)
    path = write(tmp_path / "conf", 'state_dir = "state"\n[watch]\npaths = ["inbox"]\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(path)
    assert config.source == path
    assert config.state_dir == tmp_path / "conf" / "state"
    assert config.watch.paths == (tmp_path / "conf" / "inbox",)


def test_precedence_flag_then_environment_then_local_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    local = write(tmp_path, "[ocr]\nworkers = 1\n")
    from_env = write(tmp_path, "[ocr]\nworkers = 2\n", "env.toml")
    flag = write(tmp_path, "[ocr]\nworkers = 3\n", "flag.toml")
    monkeypatch.delenv("SCANDEX_CONFIG", raising=False)
    assert load_config().source == local
    monkeypatch.setenv("SCANDEX_CONFIG", str(from_env))
    assert load_config().ocr.workers == 2
    assert load_config(flag).ocr.workers == 3


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("[watch]\nsettle_secs = 2\n", "watch.settle_secs", "unknown key"),
        ("colour = 1\n", "colour", "unknown key"),
        ("[watch]\nsettle_seconds = '2'\n", "watch.settle_seconds", "must be a number"),
        ("[watch]\nsettle_seconds = -1\n", "watch.settle_seconds", "at least 0"),
        ("[watch]\nrecursive = 1\n", "watch.recursive", "true or false"),
        ("[watch]\npaths = 'scans'\n", "watch.paths", "list of non-empty strings"),
        ("[watch]\npaths = []\n", "watch.paths", "must not be empty"),
        ("[watch]\npatterns = ['*.png', 3]\n", "watch.patterns", "list of non-empty strings"),
        ("[ocr]\nworkers = true\n", "ocr.workers", "whole number"),
        ("[ocr]\nworkers = 1.5\n", "ocr.workers", "whole number"),
        ("[ocr]\ntimeout_seconds = 0\n", "ocr.timeout_seconds", "at least 1"),
        ("[ocr]\nmodel = 'missing.onnx'\n", "ocr.model", "does not exist"),
        ("[ocr]\nhocr_name = '{stem}.png'\n", "ocr.hocr_name", "would match watch.patterns"),
        ("[ocr]\nhocr_name = 'out/{stem}.hocr'\n", "ocr.hocr_name", "plain, visible"),
        ("[ocr]\nhocr_name = '{page}.hocr'\n", "ocr.hocr_name", "only {stem} and {name}"),
        ("[ocr]\nhocr_name = 'fixed.hocr'\n", "ocr.hocr_name", "must contain"),
        ("ocr = 3\n", "ocr", "must be a table"),
        ("[watch]\npaths = ['/nonexistent/scans']\n", "watch.paths", "does not exist"),
        ("[watch]\npaths = ['no/such/parent']\n", "watch.paths", "does not exist"),
        ("[watch]\npaths = ['a', 'a/b']\n", "watch.paths", "overlap"),
        ("state_dir = 'config.toml'\n", "state_dir", "not a folder"),
    ],
)
def test_mistakes_name_the_key_and_the_file(
    tmp_path: Path, text: str, key: str, reason: str
) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == key
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"{path}: {key}: ")


def test_a_missing_relative_folder_is_accepted_for_the_daemon_to_create(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[watch]\npaths = ['scans']\n"))
    assert config.watch.paths == (tmp_path / "scans",)
    assert not (tmp_path / "scans").exists()  # loading never writes; `scandex run` creates it


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[watch\n"))
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")


def test_the_cli_prints_one_line_for_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[watch]\nsettle_seconds = 'soon'\n")
    result = subprocess.run(
        [sys.executable, "-m", "scandex", "status", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"scandex: error: {path}: watch.settle_seconds: must be a number, not a string ('soon')"
    ]


def test_config_is_frozen(tmp_path: Path) -> None:
    config = parse_config({}, base_dir=tmp_path, source=None)
    assert isinstance(config, Config)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.state_dir = tmp_path  # type: ignore[misc]
