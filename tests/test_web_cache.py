"""The page-image cache stays within its size, drops the least recently used, never goes stale."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scandex.web.cache import FileCache, source_key

pytestmark = pytest.mark.timeout(60)


def test_entries_are_made_once_and_kept(tmp_path: Path) -> None:
    cache = FileCache(tmp_path / "cache", max_bytes=10_000)
    made: list[str] = []

    def make() -> bytes:
        made.append("x")
        return b"image bytes"

    assert cache.get_or_make("ab" * 32, ".jpg", make) == b"image bytes"
    assert cache.get_or_make("ab" * 32, ".jpg", make) == b"image bytes"
    assert made == ["x"]
    assert cache.get("cd" * 32, ".jpg") is None


def test_the_folder_stays_within_its_limit_dropping_the_least_recently_used(
    tmp_path: Path,
) -> None:
    cache = FileCache(tmp_path / "cache", max_bytes=10_000)
    keys = [f"{n:02x}" * 32 for n in range(30)]
    for age, key in enumerate(keys):
        cache.get_or_make(key, ".jpg", lambda: b"0" * 1000)
        path = next((tmp_path / "cache").rglob(f"{key}.jpg"))
        os.utime(path, (1_000_000 + age, 1_000_000 + age))  # made one after another
    total = sum(p.stat().st_size for p in (tmp_path / "cache").rglob("*.jpg"))
    assert total <= 10_000
    assert cache.get(keys[-1], ".jpg") is not None  # the newest stays
    assert cache.get(keys[0], ".jpg") is None  # the oldest went first


def test_nothing_is_kept_with_a_zero_limit(tmp_path: Path) -> None:
    cache = FileCache(tmp_path / "cache", max_bytes=0)
    assert cache.get_or_make("ab" * 32, ".jpg", lambda: b"x") == b"x"
    assert not (tmp_path / "cache").exists()


def test_a_replaced_scan_gets_a_new_key(tmp_path: Path) -> None:
    scan = tmp_path / "scan.png"
    scan.write_bytes(b"first")
    first = source_key(scan, "page", 1, 480)
    assert source_key(scan, "page", 1, 480) == first
    assert source_key(scan, "page", 2, 480) != first
    replacement = tmp_path / "new.png"
    replacement.write_bytes(b"second version")
    replacement.replace(scan)
    assert source_key(scan, "page", 1, 480) != first
    scan.unlink()
    with pytest.raises(FileNotFoundError):
        source_key(scan, "page", 1, 480)


def test_an_entry_that_cannot_be_stored_leaves_nothing_behind(tmp_path: Path) -> None:
    cache = FileCache(tmp_path / "cache", max_bytes=10_000)
    key = "ab" * 32
    (tmp_path / "cache" / "ab" / f"{key}.jpg").mkdir(parents=True)  # in the entry's way
    assert cache.get_or_make(key, ".jpg", lambda: b"image bytes") == b"image bytes"
    assert [p.name for p in (tmp_path / "cache" / "ab").iterdir()] == [f"{key}.jpg"]
