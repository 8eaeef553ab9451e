"""Failing safely: links are never followed by accident, files over ocr.max_file_bytes are
never read, and what reads a scan reads exactly the content that settled."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import replace
from pathlib import Path

import cv2
import pytest
from daemon_harness import (
    PageSizeEngine,
    calls,
    daemon,
    indexed_paths,
    make_config,
    record,
    scan_png,
    state_of,
)
from polling import wait_for
from synth import render_page

from scandex.daemon.events import NoEvents
from scandex.daemon.hocr_files import ScandexHocr, read_hocr_text
from scandex.daemon.reading import ReadError, ReadRules, hash_scan, read_scan
from scandex.daemon.state import DONE, FAILED
from scandex.errors import ScandexError

pytestmark = [pytest.mark.timeout(120)]


def rules(root: Path, *, follow: bool = False, max_bytes: int = 10**9) -> ReadRules:
    return ReadRules((root,), follow, max_bytes)


def test_a_link_is_skipped_and_reported_once_unless_following_is_allowed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(tmp_path)
    config = replace(config, watch=replace(config.watch, rescan_seconds=0.5))
    engine = PageSizeEngine(str(tmp_path / "calls"))
    scans = config.watch.paths[0]
    outside = tmp_path / "private" / "secret.png"
    outside.parent.mkdir()
    outside.write_bytes(scan_png(1))
    inside = scans / "real.png"
    inside.write_bytes(scan_png(2))
    (scans / "to-secret.png").symlink_to(outside)
    (scans / "to-real.png").symlink_to(inside)
    with caplog.at_level(logging.INFO, logger="scandex"), daemon(config, engine):
        wait_for(lambda: state_of(config, inside) == DONE, "real.png")
        wait_for(lambda: caplog.text.count("skipping") >= 2, "both links to be reported")
        deadline = time.monotonic() + 4 * config.watch.rescan_seconds
        while time.monotonic() < deadline:  # several rescans see the links again: no repeats
            assert caplog.text.count("skipping") == 2
            time.sleep(0.1)
    skipped = [r.getMessage() for r in caplog.records if "skipping" in r.getMessage()]
    assert len(skipped) == 2, skipped
    assert all("a symbolic link (not followed; see watch.follow_symlinks)" in m for m in skipped)
    assert calls(engine) == [str(inside)]
    assert indexed_paths(config) == {str(inside)}

    # Following is allowed: a link to a file inside a watched folder is a scan (here an
    # identical copy of it, so its OCR is reused); one leading outside is still refused.
    caplog.clear()
    config = replace(config, watch=replace(config.watch, follow_symlinks=True))
    with caplog.at_level(logging.INFO, logger="scandex"), daemon(config, engine):
        wait_for(lambda: state_of(config, scans / "to-real.png") == DONE, "the link inside")
        wait_for(lambda: "outside the watched folders" in caplog.text, "the link outside")
    assert record(config, scans / "to-secret.png") is None
    assert calls(engine) == [str(inside)]  # the link's content is real.png's: reused
    assert indexed_paths(config) == {str(inside), str(scans / "to-real.png")}


def test_a_link_swapped_in_after_the_file_settled_is_never_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(tmp_path, retries=3)
    engine = PageSizeEngine(str(tmp_path / "calls"), slow_seconds=3.0)
    scans = config.watch.paths[0]
    secret = tmp_path / "secret.png"
    secret.write_bytes(scan_png(3))
    slow, victim = scans / "slow.png", scans / "victim.png"
    slow.write_bytes(scan_png(4))
    victim.write_bytes(scan_png(5))
    # No events and no rescans: the daemon learns of the swap only by reading the file.
    with caplog.at_level(logging.INFO, logger="scandex"), daemon(config, engine, events=NoEvents()):
        wait_for(lambda: calls(engine) == [str(slow)], "slow.png to hold the only worker")
        assert state_of(config, victim) == "pending"  # settled and hashed, waiting its turn
        link = scans / ".swap"
        link.symlink_to(secret)
        os.replace(link, victim)
        wait_for(lambda: state_of(config, slow) == DONE, "slow.png")
        wait_for(lambda: record(config, victim) is None, "victim.png to be forgotten")
    assert calls(engine) == [str(slow)]  # the link was never read
    assert f"skipping {victim}: a symbolic link" in caplog.text
    assert indexed_paths(config) == {str(slow)}
    assert not victim.with_suffix(".hocr").exists()


def test_reading_refuses_links_devices_large_files_and_changed_content(tmp_path: Path) -> None:
    scan = tmp_path / "scan.png"
    scan.write_bytes(b"x" * 100)
    sha256, st = hash_scan(str(scan), rules(tmp_path))
    assert sha256 == hashlib.sha256(b"x" * 100).hexdigest() and st.st_size == 100
    assert read_scan(str(scan), rules(tmp_path), sha256) == b"x" * 100

    scan.write_bytes(b"y" * 100)  # changed after it settled: never OCRed as the old one
    with pytest.raises(ReadError, match="changed while it was being read") as caught:
        read_scan(str(scan), rules(tmp_path), sha256)
    assert not caught.value.permanent

    with pytest.raises(ReadError, match="too large: 100 bytes, over ocr.max_file_bytes = 99"):
        read_scan(str(scan), rules(tmp_path, max_bytes=99), sha256)

    link = tmp_path / "link.png"
    link.symlink_to(scan)
    with pytest.raises(ReadError, match="symbolic link") as caught:
        hash_scan(str(link), rules(tmp_path))
    assert caught.value.permanent
    assert hash_scan(str(link), rules(tmp_path, follow=True))[1].st_ino == scan.stat().st_ino
    with pytest.raises(ReadError, match="outside the watched folders"):
        hash_scan(str(link), rules(tmp_path / "elsewhere", follow=True))

    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    with pytest.raises(ReadError, match="not a regular file") as caught:  # and no hang
        hash_scan(str(fifo), rules(tmp_path))
    assert caught.value.permanent

    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a.png").write_bytes(b"z")
    (tmp_path / "via").symlink_to(tmp_path / "real")
    with pytest.raises(ReadError, match="a folder on its path is a symbolic link"):
        hash_scan(str(tmp_path / "via" / "a.png"), rules(tmp_path))

    with pytest.raises(ReadError, match="vanished") as caught:
        hash_scan(str(tmp_path / "gone.png"), rules(tmp_path))
    assert not caught.value.permanent


def test_a_file_over_the_size_limit_fails_at_once_without_being_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    small_png = scan_png(6)
    ok, data = cv2.imencode(".png", render_page("one_column", dpi=100, seed=7).image)
    big_png = data.tobytes()
    assert len(big_png) > len(small_png) + 1000
    config = make_config(tmp_path, max_file_bytes=len(small_png) + 500, retries=3)
    engine = PageSizeEngine(str(tmp_path / "calls"))
    scans = config.watch.paths[0]
    small, big = scans / "small.png", scans / "big.png"
    with caplog.at_level(logging.INFO, logger="scandex"), daemon(config, engine):
        big.write_bytes(big_png)
        small.write_bytes(small_png)
        wait_for(lambda: state_of(config, small) == DONE, "small.png")
        wait_for(lambda: state_of(config, big) == FAILED, "big.png to be refused")
    refused = record(config, big)
    assert refused is not None and refused.attempts == 1 and refused.sha256 == ""
    assert f"file too large: {len(big_png):,} bytes, over ocr.max_file_bytes" in (
        refused.last_error or ""
    )
    assert calls(engine) == [str(small)]
    assert "(not retried)" in caplog.text


def test_hocr_reads_are_capped_too(tmp_path: Path) -> None:
    hocr = tmp_path / "a.hocr"
    hocr.write_text("<html>" + " " * 5000 + "</html>", encoding="utf-8")
    with pytest.raises(ScandexError, match="too large"):
        read_hocr_text(hocr, 1000)
    with pytest.raises(ScandexError, match="too large"):
        ScandexHocr().read(hocr, 1000)
    link = tmp_path / "b.hocr"
    link.symlink_to(hocr)
    with pytest.raises(ScandexError, match="cannot read"):
        read_hocr_text(link, 10**6)


def test_a_file_that_cannot_be_read_is_retried_then_listed_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scandex.daemon.arrivals as arrivals

    locked = {"on": True}
    real_hash_scan = arrivals.hash_scan

    def hash_scan_denied(path: str, read_rules: ReadRules) -> tuple[str, os.stat_result]:
        # As a scan written by another user without read rights for ours (we run as root
        # here, where the permission bits would not stop us).
        if locked["on"] and Path(path).name.startswith("locked"):
            raise ReadError(path, "cannot read the file: permission denied", permanent=False)
        return real_hash_scan(path, read_rules)

    monkeypatch.setattr(arrivals, "hash_scan", hash_scan_denied)
    config = make_config(tmp_path, retries=1, retry_seconds=0.2)
    engine = PageSizeEngine(str(tmp_path / "calls"))
    locked_png = config.watch.paths[0] / "locked.png"
    with daemon(config, engine):
        locked_png.write_bytes(scan_png(8))
        wait_for(lambda: state_of(config, locked_png) == FAILED, "the unreadable file")
        failed = record(config, locked_png)
        assert failed is not None and failed.attempts == 2
        assert failed.last_error == "cannot read the file: permission denied"
        # The permission is fixed and the file touched: it is read.
        locked["on"] = False
        os.utime(locked_png)
        wait_for(lambda: state_of(config, locked_png) == DONE, "the file, readable now")
    assert calls(engine) == [str(locked_png)]
