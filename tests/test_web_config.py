"""The [web] section of config.toml: documented with its defaults, and mistakes name their key."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from scandex.config import WebConfig, parse_config
from scandex.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(60)


def test_the_repository_config_documents_every_web_key_with_its_default(tmp_path: Path) -> None:
    data = tomllib.loads((REPO / "config.toml").read_text(encoding="utf-8"))
    assert set(data["web"]) == {field.name for field in dataclasses.fields(WebConfig)}
    parsed = parse_config({"web": data["web"]}, base_dir=tmp_path, source=None)
    assert parsed.web == WebConfig()


def test_web_settings_are_read(tmp_path: Path) -> None:
    web = {
        "host": "0.0.0.0",
        "port": 9000,
        "token": "t",
        "search_timeout_seconds": 2,
        "cache_mb": 0,
    }
    parsed = parse_config({"web": web}, base_dir=tmp_path, source=None).web
    assert parsed == WebConfig("0.0.0.0", 9000, "t", 2.0, 0)


@pytest.mark.parametrize(
    ("web", "key", "reason"),
    [
        ({"port": "8421"}, "web.port", "must be a whole number"),
        ({"port": 70000}, "web.port", "at most 65535"),
        ({"port": 0}, "web.port", "at least 1"),
        ({"host": ""}, "web.host", "must not be empty"),
        ({"token": 5}, "web.token", "must be a string"),
        ({"search_timeout_seconds": 0}, "web.search_timeout_seconds", "at least 0.1"),
        ({"cache_mb": -1}, "web.cache_mb", "at least 0"),
        ({"listen": "x"}, "web.listen", "unknown key"),
        ({"cors_origins": "*"}, "web.cors_origins", "a list of non-empty strings"),
    ],
)
def test_mistakes_name_the_dotted_key(tmp_path: Path, web: dict, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"web": web}, base_dir=tmp_path, source=tmp_path / "config.toml")
    assert caught.value.key == key and reason in caught.value.reason
