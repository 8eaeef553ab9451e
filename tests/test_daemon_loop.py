"""The daemon's loop in-process: real files, real inotify, real worker processes, the real
Whoosh index and hOCR writer, and a tiny real engine (it decodes every page and reports page
sizes, no text), so the bookkeeping is tested without waiting for a recognizer.

The acceptance tests with the real engine and `scandex run` as a process are in
test_daemon_e2e.py.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from daemon_harness import (
    PageSizeEngine,
    TimedEngine,
    calls,
    daemon,
    indexed_paths,
    made,
    make_config,
    read_only,
    record,
    scan_png,
    state_of,
)
from polling import wait_for
from synth import render_page

from scandex.config import load_config
from scandex.daemon import run, service
from scandex.daemon.events import NoEvents, WatchdogSource
from scandex.daemon.lock import DaemonRunningError
from scandex.daemon.service import prepare_folders
from scandex.daemon.state import DONE, FAILED, PENDING
from scandex.daemon.status import read_status
from scandex.errors import ModelError, ScandexError
from scandex.page import Document

pytestmark = [pytest.mark.timeout(90)]


def test_a_slow_copy_is_read_once_after_it_settles(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    config = replace(config, watch=replace(config.watch, settle_seconds=2.0))
    engine = PageSizeEngine(str(tmp_path / "calls"))
    image = config.watch.paths[0] / "slow-copy.png"
    data = scan_png(1)
    with daemon(config, engine):
        with image.open("wb") as out:
            # A scanner writing in bursts: each pause is shorter than settle_seconds, the
            # whole write much longer.
            step = len(data) // 12 + 1
            for start in range(0, len(data), step):
                out.write(data[start : start + step])
                out.flush()
                time.sleep(0.3)
                assert state_of(config, image) is None, "read before the file settled"
        wait_for(lambda: state_of(config, image) == DONE, "the copy to be indexed")
    assert calls(engine) == [str(image)], "OCRed more than once: it was read half-written"
    done = record(config, image)
    assert done is not None and done.last_error is None
    assert done.hocr_path == str(image.with_suffix(".hocr"))
    assert Path(done.hocr_path).is_file()
    assert indexed_paths(config) == {str(image)}


def test_rename_copy_change_and_delete(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    engine = PageSizeEngine(str(tmp_path / "calls"))
    scans = config.watch.paths[0]
    a, b, c = scans / "a.png", scans / "sub" / "b.png", scans / "c.png"
    with daemon(config, engine):
        a.write_bytes(scan_png(1))
        wait_for(lambda: state_of(config, a) == DONE, "a.png to be indexed")
        assert a.with_suffix(".hocr").is_file()

        # Renamed into a subfolder: the hOCR follows, the index follows, no OCR.
        b.parent.mkdir()
        a.rename(b)
        wait_for(lambda: state_of(config, b) == DONE and record(config, a) is None, "rename")
        assert b.with_suffix(".hocr").is_file() and not a.with_suffix(".hocr").exists()
        assert calls(engine) == [str(a)]
        assert indexed_paths(config) == {str(b)}

        # An identical copy: its own hOCR and index entry, from the first one's OCR.
        shutil.copyfile(b, c)
        wait_for(lambda: state_of(config, c) == DONE, "the copy to be indexed")
        assert c.with_suffix(".hocr").is_file()
        assert calls(engine) == [str(a)]

        # A changed file (new content) is OCRed again.
        old_hash = record(config, b).sha256  # type: ignore[union-attr]
        b.write_bytes(scan_png(2))
        wait_for(
            lambda: (r := record(config, b)) and r.sha256 != old_hash and r.state == DONE,
            "the changed file to be redone",
        )
        assert calls(engine) == [str(a), str(b)]

        # A deleted file leaves the index, and the hOCR scandex wrote for it goes too.
        c.unlink()
        wait_for(lambda: record(config, c) is None, "the deletion")
        assert not c.with_suffix(".hocr").exists()
        wait_for(lambda: indexed_paths(config) == {str(b)}, "the index to drop c.png")


def test_bad_files_fail_at_once_and_never_stop_the_daemon(tmp_path: Path) -> None:
    config = make_config(tmp_path, retries=1, retry_seconds=0.3)
    engine = PageSizeEngine(str(tmp_path / "calls"))
    scans = config.watch.paths[0]
    png = scan_png(3)
    bad = {
        scans / "empty.png": b"",
        scans / "truncated.png": png[: len(png) // 2],
        scans / "text.png": b"this is a text file, not an image\n",
    }
    good = scans / "good.png"
    with daemon(config, engine):
        for path, data in bad.items():
            path.write_bytes(data)
        good.write_bytes(png)
        for path in bad:
            wait_for(lambda p=path: state_of(config, p) == FAILED, f"{path.name} to fail")
        wait_for(lambda: state_of(config, good) == DONE, "the good file")
        report = read_status(config)
    reasons = {Path(f["path"]).name: f["error"] for f in report["failed"]}
    assert set(reasons) == {"empty.png", "truncated.png", "text.png"}
    assert "empty" in reasons["empty.png"]
    assert len(set(reasons.values())) == 3, f"reasons should say what is wrong: {reasons}"
    # The file itself is bad: trying again cannot help, so it was tried once.
    assert all(f["attempts"] == 1 for f in report["failed"])
    assert sorted(calls(engine)) == sorted(str(p) for p in (good, *bad) if p.name != "empty.png")
    assert report["counts"] == {PENDING: 0, DONE: 1, FAILED: 3}
    assert not any(scans.glob("empty.hocr")) and not (scans / "text.hocr").exists()

    # `touch` asks for another try: the failed file is queued again with fresh attempts.
    before = calls(engine).count(str(scans / "text.png"))
    with daemon(config, engine):
        os.utime(scans / "text.png")
        wait_for(
            lambda: calls(engine).count(str(scans / "text.png")) == before + 1,
            "the touched file to be tried again",
        )
        wait_for(lambda: state_of(config, scans / "text.png") == FAILED, "it to fail again")


def test_a_transient_failure_is_retried_after_a_wait(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(tmp_path, retries=2, retry_seconds=0.5)
    engine = PageSizeEngine(str(tmp_path / "calls"))
    flaky = config.watch.paths[0] / "flaky.png"
    with caplog.at_level(logging.INFO, logger="scandex"), daemon(config, engine):
        flaky.write_bytes(scan_png(3))
        wait_for(lambda: state_of(config, flaky) == DONE, "the second attempt to succeed")
    assert calls(engine) == [str(flaky), str(flaky)]
    assert "out of memory while reading this scan (attempt 1 of 3; retry in 0.5 s)" in caplog.text


def test_catch_up_after_a_restart(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    engine = PageSizeEngine(str(tmp_path / "calls"))
    scans = config.watch.paths[0]
    a, b, c, d = (scans / f"{name}.png" for name in "abcd")
    with daemon(config, engine):
        for i, path in enumerate((a, b, c)):
            path.write_bytes(scan_png(10 + i))
        for path in (a, b, c):
            wait_for(lambda p=path: state_of(config, p) == DONE, f"{path.name}")

    # While the daemon is down: one file added, one deleted, one renamed, one changed.
    d.write_bytes(scan_png(20))
    a.unlink()
    b2 = scans / "b-renamed.png"
    b.rename(b2)
    c.write_bytes(scan_png(21))
    with daemon(config, engine):
        wait_for(lambda: state_of(config, d) == DONE, "the new file")
        wait_for(lambda: state_of(config, b2) == DONE, "the renamed file")
        wait_for(lambda: record(config, a) is None, "the deleted file to be forgotten")
        wait_for(lambda: record(config, b) is None, "the old name to be forgotten")
        wait_for(
            lambda: calls(engine).count(str(c)) == 2 and state_of(config, c) == DONE,
            "the changed file",
        )
    assert sorted(calls(engine)) == sorted(map(str, (a, b, c, c, d)))  # b-renamed: no OCR
    assert indexed_paths(config) == {str(b2), str(c), str(d)}
    assert not a.with_suffix(".hocr").exists() and not b.with_suffix(".hocr").exists()
    assert b2.with_suffix(".hocr").is_file()


def test_a_read_only_folder_gets_its_hocr_in_state_dir(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(tmp_path)
    engine = PageSizeEngine(str(tmp_path / "calls"))
    scans = config.watch.paths[0]
    image = scans / "scan.png"
    image.write_bytes(scan_png(4))
    with read_only(scans), caplog.at_level(logging.INFO, logger="scandex"):
        with daemon(config, engine):
            wait_for(lambda: state_of(config, image) == DONE, "the scan")
        done = record(config, image)
        assert done is not None and done.hocr_path is not None
        assert Path(done.hocr_path).is_relative_to(config.fallback_hocr_dir)
        assert Path(done.hocr_path).is_file()
        assert sorted(p.name for p in scans.iterdir()) == ["scan.png"]
    warnings = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert "lacks write permission" in warnings and str(scans) in warnings
    assert str(config.fallback_hocr_dir) in warnings


def test_a_file_over_the_time_limit_fails_and_the_worker_is_replaced(tmp_path: Path) -> None:
    config = make_config(tmp_path, timeout_seconds=1.0, retries=0)
    engine = PageSizeEngine(str(tmp_path / "calls"), slow_seconds=60.0)
    scans = config.watch.paths[0]
    slow, fast = scans / "slow.png", scans / "fast.png"
    with daemon(config, engine):
        slow.write_bytes(scan_png(5))
        wait_for(lambda: state_of(config, slow) == FAILED, "the slow file to time out")
        fast.write_bytes(scan_png(6))
        wait_for(lambda: state_of(config, fast) == DONE, "the next file, on a new worker")
    failed = record(config, slow)
    assert failed is not None and "ocr.timeout_seconds" in (failed.last_error or "")


def test_shutdown_hands_back_the_file_in_flight(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    engine = PageSizeEngine(str(tmp_path / "calls"), slow_seconds=60.0)
    slow = config.watch.paths[0] / "slow.png"
    with daemon(config, engine) as running:
        slow.write_bytes(scan_png(7))
        wait_for(lambda: calls(engine) == [str(slow)], "the slow file to be in a worker")
        running.hurry.set()  # as a second Ctrl-C does: do not wait for it
        started = time.monotonic()
        running.stop.set()
        running.thread.join(timeout=20)
        assert time.monotonic() - started < 15
    handed_back = record(config, slow)
    assert handed_back is not None
    assert (handed_back.state, handed_back.attempts, handed_back.last_error) == (PENDING, 0, None)


def test_a_second_daemon_on_the_same_state_dir_is_refused(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    engine = PageSizeEngine(str(tmp_path / "calls"))
    with daemon(config, engine):
        with pytest.raises(DaemonRunningError, match="already uses"):
            run(config, stop=threading.Event(), engine=made(engine))
        assert read_status(config)["daemon"]["pid"] == os.getpid()
    assert read_status(config)["daemon"]["running"] is False


def test_the_periodic_rescan_catches_what_events_missed(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    config = replace(config, watch=replace(config.watch, rescan_seconds=1.0))
    engine = PageSizeEngine(str(tmp_path / "calls"))
    image = config.watch.paths[0] / "unseen.png"
    with daemon(config, engine, events=NoEvents()):  # a share where inotify is blind
        image.write_bytes(scan_png(8))
        wait_for(lambda: state_of(config, image) == DONE, "the rescan to find the file")
        image.unlink()
        wait_for(lambda: record(config, image) is None, "the rescan to notice the deletion")


def test_a_missing_relative_watch_folder_is_created_at_start(tmp_path: Path) -> None:
    config_path = tmp_path / "config.toml"
    config_path.write_text('[watch]\npaths = ["inbox"]\n', encoding="utf-8")
    config = load_config(config_path)
    assert not (tmp_path / "inbox").exists()
    prepare_folders(config)
    assert (tmp_path / "inbox").is_dir()


def test_identical_copies_dropped_together_are_ocred_once(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    engine = PageSizeEngine(str(tmp_path / "calls"))
    scans = config.watch.paths[0]
    copies = [scans / f"copy-{i}.png" for i in range(3)]
    data = scan_png(9)
    with daemon(config, engine):
        for path in copies:
            path.write_bytes(data)
        for path in copies:
            wait_for(lambda p=path: state_of(config, p) == DONE, f"{path.name}")
    assert len(calls(engine)) == 1
    assert all(path.with_suffix(".hocr").is_file() for path in copies)
    assert indexed_paths(config) == {str(path) for path in copies}


def test_an_hocr_file_scandex_did_not_write_is_kept(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    engine = PageSizeEngine(str(tmp_path / "calls"))
    scans = config.watch.paths[0]
    theirs = scans / "scan.hocr"
    text = '<html><head><meta name="ocr-system" content="tesseract 5.3.0"/></head></html>\n'
    theirs.write_text(text, encoding="utf-8")
    image = scans / "scan.png"
    with daemon(config, engine):
        image.write_bytes(scan_png(11))
        wait_for(lambda: state_of(config, image) == DONE, "the scan")
        ours = record(config, image).hocr_path  # type: ignore[union-attr]
        image.unlink()
        wait_for(lambda: record(config, image) is None, "the deletion")
    assert theirs.read_text(encoding="utf-8") == text  # neither replaced nor deleted
    assert ours is not None and Path(ours).is_relative_to(config.fallback_hocr_dir)
    assert not Path(ours).exists()  # ours went with the image


@pytest.mark.slow
def test_a_big_drop_is_processed_completely(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    engine = PageSizeEngine(str(tmp_path / "calls"))
    scans = config.watch.paths[0]
    base = cv2.imdecode(np.frombuffer(scan_png(12), np.uint8), cv2.IMREAD_GRAYSCALE)
    count = 80
    with daemon(config, engine):
        for i in range(count):
            image = base.copy()
            image[0, :16] = [(i >> b) & 1 for b in range(16)]  # distinct content
            folder = scans / f"batch-{i % 4}"
            folder.mkdir(exist_ok=True)
            cv2.imwrite(str(folder / f"{i:03d}.png"), image)
        wait_for(
            lambda: read_status(config)["counts"][DONE] == count, "every file", timeout_seconds=80
        )
    assert len(calls(engine)) == count
    assert len(indexed_paths(config)) == count


def test_a_worker_gets_its_next_file_as_soon_as_it_is_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loop's tick made long, and no file events (the hOCR a worker writes would wake
    # the loop too, often just before its result is sent): a worker that waited for the
    # tick between files would lose about half a tick a file; woken by the result itself,
    # it loses a few milliseconds.
    monkeypatch.setattr(service, "TICK_SECONDS", 2.0)
    config = make_config(tmp_path)
    config = replace(config, watch=replace(config.watch, rescan_seconds=0.5))
    times = tmp_path / "times"
    engine = TimedEngine(str(times), seconds=0.2)
    count = 6
    with daemon(config, engine, events=NoEvents()):
        for i in range(count):
            (config.watch.paths[0] / f"{i}.png").write_bytes(scan_png(40 + i))
        wait_for(lambda: read_status(config)["counts"][DONE] == count, "every file")
    spans = sorted(tuple(map(float, line.split())) for line in times.read_text().splitlines())
    assert len(spans) == count
    idle_seconds = [
        began - ended for (_, ended), (began, _) in zip(spans[:-1], spans[1:], strict=True)
    ]
    # Waiting for the tick: about 9 s in all. Generous for a busy machine.
    assert sum(idle_seconds) < 1.5, idle_seconds


class CountingEvents(WatchdogSource):
    """The real event source, counting how often the loop asks it for hints."""

    waits = 0

    def get_hints(self, timeout_seconds: float, wake: Any = ()) -> tuple[set[Path], bool]:
        self.waits += 1
        return super().get_hints(timeout_seconds, wake)


def test_an_idle_daemon_sleeps(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    engine = PageSizeEngine(str(tmp_path / "calls"))
    image = config.watch.paths[0] / "a.png"
    events = CountingEvents(config.watch.paths, recursive=True, polling=False)
    with daemon(config, engine, events=events):
        image.write_bytes(scan_png(50))  # its worker's pipe has been used, then is quiet
        wait_for(lambda: state_of(config, image) == DONE, "the file")
        before = events.waits
        time.sleep(2.0)  # not a wait for something: the two idle seconds measured
        waits = events.waits - before
    # One wait a tick (0.2 s), and a few for the status and commits; a loop that did not
    # sleep would count thousands.
    assert waits < 2.0 / service.TICK_SECONDS * 2 + 10, waits


class UnreliableIndex:
    """A small real index in memory that refuses one document and fails its first commit,
    as a full disk or a damaged segment would."""

    def __init__(self) -> None:
        self.staged: dict[str, Document] = {}
        self.committed: dict[str, Document] = {}
        self.commit_failures = 1

    def add(self, doc: Document, *, hocr_path: str | None = None) -> None:
        if "refused" in doc.path:
            raise ValueError("document too large for a segment")
        self.staged[doc.path] = doc

    def remove(self, path: str) -> None:
        self.staged.pop(path, None)
        self.committed.pop(path, None)

    def commit(self) -> None:
        if self.commit_failures:
            self.commit_failures -= 1
            raise OSError(28, "No space left on device")
        self.committed.update(self.staged)
        self.staged.clear()

    def close(self) -> None:
        pass

    def paths(self) -> set[str]:
        return set(self.committed)


def test_index_failures_are_recorded_or_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scandex.daemon.records as records

    monkeypatch.setattr(records, "COMMIT_EVERY_SECONDS", 0.5)  # the wait after a failed commit
    config = make_config(tmp_path, retries=0)
    engine = PageSizeEngine(str(tmp_path / "calls"))
    scans = config.watch.paths[0]
    good, refused = scans / "good.png", scans / "refused.png"
    index = UnreliableIndex()
    with daemon(config, engine, index=index):
        good.write_bytes(scan_png(13))
        refused.write_bytes(scan_png(14))
        wait_for(lambda: state_of(config, good) == DONE, "the good file, after a failed commit")
        wait_for(lambda: state_of(config, refused) == FAILED, "the refused file")
    assert index.commit_failures == 0 and set(index.committed) == {str(good)}
    failed = record(config, refused)
    assert failed is not None and "indexing failed: ValueError" in (failed.last_error or "")


def test_a_folder_that_goes_away_keeps_its_index_and_is_watched_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(tmp_path)
    config = replace(config, watch=replace(config.watch, rescan_seconds=0.5))
    engine = PageSizeEngine(str(tmp_path / "calls"))
    scans = config.watch.paths[0]
    a, b = scans / "a.png", scans / "b.png"
    with caplog.at_level(logging.INFO, logger="scandex"), daemon(config, engine):
        a.write_bytes(scan_png(15))
        wait_for(lambda: state_of(config, a) == DONE, "a.png")
        scans.rename(tmp_path / "unmounted")  # as an unmounted share looks
        wait_for(lambda: f"watched folder {scans} is missing" in caplog.text, "the rescan")
        deadline = time.monotonic() + config.watch.settle_seconds + 2.0
        while time.monotonic() < deadline:  # longer than a deletion would take
            assert state_of(config, a) == DONE
            time.sleep(0.1)
        (tmp_path / "unmounted").rename(scans)
        wait_for(lambda: f"watched folder {scans} is back" in caplog.text, "the return")
        b.write_bytes(scan_png(16))
        wait_for(lambda: state_of(config, b) == DONE, "a new file in the folder")
    assert calls(engine) == [str(a), str(b)]
    assert indexed_paths(config) == {str(a), str(b)}


@dataclass(frozen=True)
class MissingModelEngine:
    """An engine whose model cannot be loaded."""

    def __call__(self) -> PageSizeEngine:
        raise ModelError("/models/none.onnx", "file not found")


def test_an_engine_that_cannot_start_stops_the_daemon_with_its_reason(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    expected = r"cannot start with .*en\.onnx \(en\.onnx sha256:[0-9a-f]{64}\): model /models/none"
    with pytest.raises(ScandexError, match=expected):
        run(config, stop=threading.Event(), engine=made(MissingModelEngine()))
    assert read_status(config)["daemon"]["running"] is False  # the lock was released


def test_two_scans_with_one_stem_get_two_hocr_files(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    engine = PageSizeEngine(str(tmp_path / "calls"))
    scans = config.watch.paths[0]
    png, jpg = scans / "scan.png", scans / "scan.jpg"
    with daemon(config, engine):
        png.write_bytes(scan_png(17))
        wait_for(lambda: state_of(config, png) == DONE, "scan.png")
        ok, data = cv2.imencode(".jpg", render_page("one_column", dpi=60, seed=18).image)
        jpg.write_bytes(data.tobytes())
        wait_for(lambda: state_of(config, jpg) == DONE, "scan.jpg")
    assert record(config, png).hocr_path == str(scans / "scan.hocr")  # type: ignore[union-attr]
    assert record(config, jpg).hocr_path == str(scans / "scan.jpg.hocr")  # type: ignore[union-attr]
    assert (scans / "scan.hocr").is_file() and (scans / "scan.jpg.hocr").is_file()


@dataclass(frozen=True)
class PidEngine(PageSizeEngine):
    """PageSizeEngine that also notes which worker process did each file."""

    pids: str = ""

    def __call__(self) -> PidEngine:
        return self

    def ocr_bytes(self, data: bytes, name: str) -> Document:
        with open(self.pids, "a", encoding="utf-8") as out:
            out.write(f"{os.getpid()}\n")
        return super().ocr_bytes(data, name)


def test_workers_are_replaced_after_their_share_of_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scandex.daemon.worker as worker

    monkeypatch.setattr(worker, "FILES_PER_WORKER", 2)
    config = make_config(tmp_path)
    engine = PidEngine(str(tmp_path / "calls"), pids=str(tmp_path / "pids"))
    scans = config.watch.paths[0]
    files = [scans / f"{i}.png" for i in range(5)]
    with daemon(config, engine):
        for i, path in enumerate(files):
            path.write_bytes(scan_png(30 + i))
        for path in files:
            wait_for(lambda p=path: state_of(config, p) == DONE, f"{path.name}")
    pids = (tmp_path / "pids").read_text().split()
    assert len(pids) == 5 and len(set(pids)) == 3  # 2 + 2 + 1 files


@dataclass(frozen=True)
class CrashingEngine:
    """An engine whose worker process dies while loading (as an out-of-memory kill would)."""

    def __call__(self) -> PageSizeEngine:
        os._exit(3)


def test_a_worker_dying_at_start_stops_the_daemon_instead_of_respawning(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with pytest.raises(ScandexError, match=r"exited while starting \(exit code 3\)"):
        run(config, stop=threading.Event(), engine=made(CrashingEngine()))
