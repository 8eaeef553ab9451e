"""The [queue] and [index] tables of config.toml: defaults, checks, and messages naming keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from scandex.config import IndexConfig, QueueConfig, load_config, parse_config
from scandex.errors import ConfigError


def parse(tmp_path: Path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    (tmp_path / "scans").mkdir(exist_ok=True)
    return load_config(path)


def test_defaults_need_no_server() -> None:
    config = parse_config({}, base_dir=Path.cwd(), source=None)
    assert config.queue == QueueConfig()
    assert (config.queue.backend, config.index.backend) == ("local", "whoosh")
    assert config.index == IndexConfig()


def test_the_shipped_config_documents_every_key() -> None:
    config = load_config(Path(__file__).resolve().parent.parent / "config.toml")
    assert config.queue == QueueConfig()
    assert config.index == IndexConfig()


def test_redis_and_postgres(tmp_path: Path) -> None:
    config = parse(
        tmp_path,
        '[queue]\nbackend = "redis"\nurl = "redis://queue.example:6380/2"\nname = "archive-1"\n'
        'path_map = { "/srv/scans/" = "/mnt/scans" }\n'
        '[index]\nbackend = "postgres"\nurl = "postgresql://scandex@db/scandex"\n',
    )
    assert config.queue.backend == "redis"
    assert config.queue.url == "redis://queue.example:6380/2"
    assert config.queue.path_map == ((Path("/srv/scans"), Path("/mnt/scans")),)
    assert config.queue.local_root(Path("/srv/scans")) == Path("/mnt/scans")
    assert config.queue.local_root(Path("/srv/other")) is None
    assert config.index.url == "postgresql://scandex@db/scandex"


def test_a_mount_reached_by_a_link_is_mapped_to_where_it_leads(tmp_path: Path) -> None:
    # Scans are never read through a linked folder (reading.open_scan), so the worker's side
    # of path_map is resolved, as watch.paths are.
    (tmp_path / "nas").mkdir()
    (tmp_path / "mnt").symlink_to(tmp_path / "nas")
    config = parse(tmp_path, f'[queue]\npath_map = {{ "/srv/scans" = "{tmp_path}/mnt/" }}\n')
    assert config.queue.local_root(Path("/srv/scans")) == (tmp_path / "nas").resolve()


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ('[queue]\nbackend = "celery"', "queue.backend", "one of"),
        ('[queue]\nurl = "http://x"', "queue.url", "Redis URL"),
        ('[queue]\nname = "a b"', "queue.name", "letters"),
        ("[queue]\npath_map = 3", "queue.path_map", "table of folders"),
        ('[queue]\npath_map = { "scans" = "/mnt" }', "queue.path_map", "absolute"),
        ("[queue]\nworkers = 3", "queue.workers", "unknown key"),
        ('[index]\nbackend = "postgres"', "index.url", "must name the database"),
        ('[index]\nurl = "mysql://x"', "index.url", "PostgreSQL URL"),
        ('[index]\nbackend = "sqlite"', "index.backend", "one of"),
    ],
)
def test_mistakes_name_the_key(tmp_path: Path, text: str, key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(tmp_path, text)
    assert caught.value.key == key
    assert message in caught.value.reason


def test_a_worker_needs_the_redis_backend(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from scandex.cli import app
    from scandex.errors import ExitCode

    (tmp_path / "scans").mkdir()
    (tmp_path / "config.toml").write_text('[watch]\npaths = ["scans"]\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["worker", "--config", str(tmp_path / "config.toml")])
    assert isinstance(result.exception, ConfigError)
    assert result.exception.key == "queue.backend"
    assert result.exception.exit_code == ExitCode.USAGE
