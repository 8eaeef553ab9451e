"""The daemon's parts on their own: filters, state store, lock, sd_notify, event sources."""

from __future__ import annotations

import errno
import multiprocessing
import os
import socket
import sqlite3
import stat
import threading
import time
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from daemon_harness import read_only
from hypothesis import given
from hypothesis import strategies as st

from scandex.config import DEFAULT_IGNORE, DEFAULT_PATTERNS
from scandex.daemon.events import HintQueue, WatchdogSource
from scandex.daemon.filters import FilterRules, is_scan, is_watched_folder
from scandex.daemon.folders import check_writable, walk_scans
from scandex.daemon.lock import DaemonLock, DaemonRunningError, daemon_pid
from scandex.daemon.notify import Notifier, sd_notify
from scandex.daemon.reading import file_sha256
from scandex.daemon.state import DONE, PENDING, FileRecord, StateStore

pytestmark = pytest.mark.timeout(60)

RULES = FilterRules(DEFAULT_PATTERNS, DEFAULT_IGNORE)
ROOT = PurePosixPath("/srv/scans")


@pytest.mark.parametrize(
    ("relative", "wanted"),
    [
        ("scan.png", True),
        ("2024/March/SCAN 01.JPG", True),  # scanners shout
        ("page.tiff", True),
        ("notes.txt", False),
        ("scan.hocr", False),  # our own output
        (".scan.hocr.a1b2.tmp", False),  # the atomic writer's temp file
        ("scan.png.part", False),
        ("~scan.png", False),
        (".hidden.png", False),
        ("@eaDir/scan.png/SYNOFILE_THUMB_M.jpg", False),  # Synology thumbnails
        (".stfolder/x.png", False),
        ("._scan.png", False),  # AppleDouble
        ("Thumbs.db", False),
        (".DS_Store", False),
        ("#recycle/old.png", False),
        (".scandex/hocr/x.png", False),
    ],
)
def test_filters(relative: str, wanted: bool) -> None:
    assert is_scan(ROOT / relative, ROOT, RULES) is wanted


def test_filters_outside_the_root_and_non_recursive() -> None:
    assert not is_scan(PurePosixPath("/elsewhere/scan.png"), ROOT, RULES)
    flat = FilterRules(DEFAULT_PATTERNS, DEFAULT_IGNORE, recursive=False)
    assert is_scan(ROOT / "a.png", ROOT, flat)
    assert not is_scan(ROOT / "sub" / "a.png", ROOT, flat)
    assert is_watched_folder(ROOT, ROOT, flat) and not is_watched_folder(ROOT / "sub", ROOT, flat)
    # A hidden watched folder itself is fine: only names below it are judged.
    hidden_root = PurePosixPath("/home/me/.scans")
    assert is_scan(hidden_root / "a.png", hidden_root, RULES)


@given(st.lists(st.from_regex(r"[A-Za-z0-9 ._~@#-]{1,12}", fullmatch=True), min_size=1))
def test_no_hocr_or_temp_file_is_ever_a_scan(parts: list[str]) -> None:
    for suffix in (".hocr", ".tmp", ".part"):
        assert not is_scan(ROOT.joinpath(*parts[:-1], parts[-1] + suffix), ROOT, RULES)


def test_walk_skips_litter_and_symlinks(tmp_path: Path) -> None:
    (tmp_path / "@eaDir").mkdir()
    (tmp_path / "@eaDir" / "a.png").write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.png").write_bytes(b"x")
    (tmp_path / "c.png").write_bytes(b"x")
    (tmp_path / "link.png").symlink_to(tmp_path / "c.png")
    (tmp_path / "loop").symlink_to(tmp_path)
    walk = walk_scans(tmp_path, RULES)
    # A link to a file is listed with its own lstat (the daemon decides whether to follow
    # it); a link to a folder is never walked into.
    assert sorted(walk.files) == [
        str(tmp_path / "c.png"),
        str(tmp_path / "link.png"),
        str(tmp_path / "sub" / "b.png"),
    ]
    assert stat.S_ISLNK(walk.files[str(tmp_path / "link.png")].st_mode)
    assert walk.unreadable == []


def test_state_store_is_readable_while_written(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite3"
    writer = StateStore(db)
    writer.put(FileRecord("/s/a.png", 3, 1, "h1", PENDING))
    reader = StateStore(db, readonly=True)
    writer.db.execute("BEGIN")
    writer.put(FileRecord("/s/b.png", 3, 1, "h1", DONE, hocr_path="/s/b.hocr"))
    # Uncommitted writes are invisible to the reader, and do not block it.
    assert reader.counts() == {"pending": 1, "done": 0, "failed": 0}
    writer.db.execute("COMMIT")
    assert reader.counts() == {"pending": 1, "done": 1, "failed": 0}
    assert {r.path for r in reader.with_hash("h1")} == {"/s/a.png", "/s/b.png"}
    assert [r.path for r in reader.under("/s")] == ["/s/a.png", "/s/b.png"]
    assert reader.under("/s/a") == []  # a prefix of a name is not a folder
    assert [r.path for r in reader.due(time.time(), 10)] == ["/s/a.png"]
    reader.close()
    writer.close()
    assert db.exists()


def test_the_read_only_store_opens_paths_that_look_like_uri_syntax(tmp_path: Path) -> None:
    folder = tmp_path / "scans?mode=rw#1 100%"
    writer = StateStore(folder / "state.sqlite3")
    writer.put(FileRecord("/s/a.png", 3, 1, "h1", PENDING))
    reader = StateStore(folder / "state.sqlite3", readonly=True)
    try:
        assert reader.get("/s/a.png") is not None
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.put(FileRecord("/s/b.png", 3, 1, "h2", PENDING))
    finally:
        reader.close()
        writer.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]  # no stray database


def test_status_while_the_daemon_is_still_creating_its_database(tmp_path: Path) -> None:
    from scandex.config import Config, WatchConfig
    from scandex.daemon.status import read_status

    (tmp_path / "scans").mkdir()
    (tmp_path / "state").mkdir()
    sqlite3.connect(tmp_path / "state" / "state.sqlite3").close()  # created, not laid out yet
    config = Config(state_dir=tmp_path / "state", watch=WatchConfig(paths=(tmp_path / "scans",)))
    report = read_status(config)
    assert report["counts"] == {"pending": 0, "done": 0, "failed": 0}
    assert report["model"]["configured"].startswith("en.onnx sha256:")


def test_file_sha256(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"abc")
    expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert file_sha256(path) == expected


def test_one_daemon_per_state_dir(tmp_path: Path) -> None:
    assert daemon_pid(tmp_path) is None
    lock = DaemonLock(tmp_path)
    lock.acquire()
    assert daemon_pid(tmp_path) == os.getpid()
    with pytest.raises(DaemonRunningError, match=f"pid {os.getpid()}"):
        DaemonLock(tmp_path).acquire()
    lock.release()
    assert daemon_pid(tmp_path) is None
    DaemonLock(tmp_path).acquire()  # free again


def _listen(tmp_path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(5.0)
    return sock


def test_sd_notify_speaks_the_protocol(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with _listen(tmp_path) as sock:
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
        monkeypatch.setenv("WATCHDOG_USEC", "100000")
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
        notifier = Notifier()
        assert notifier.watchdog_seconds == pytest.approx(0.05)
        notifier.ready("3 queued")
        assert sock.recv(4096) == b"READY=1\nSTATUS=3 queued"
        notifier.status("3 queued")  # unchanged: not sent again
        notifier.status("2 queued")
        assert sock.recv(4096) == b"STATUS=2 queued"
        notifier.alive()
        assert sock.recv(4096) == b"WATCHDOG=1"
        notifier.stopping()
        assert sock.recv(4096).startswith(b"STOPPING=1")


def test_sd_notify_never_blocks_on_a_receiver_that_stopped_reading(tmp_path: Path) -> None:
    with _listen(tmp_path):
        started = time.monotonic()
        sent = [sd_notify("STATUS=" + "x" * 1000, str(tmp_path / "notify")) for _ in range(2000)]
        assert time.monotonic() - started < 10
    assert sent[0] and not sent[-1]  # the queue filled up; later messages were dropped


def test_sd_notify_without_systemd_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sd_notify("READY=1") is False
    assert sd_notify("READY=1", "/nonexistent/socket") is False
    monkeypatch.setenv("WATCHDOG_USEC", "100000")
    monkeypatch.setenv("WATCHDOG_PID", "1")  # another process's watchdog
    assert Notifier().watchdog_seconds is None


def test_hint_queue_is_bounded_and_reports_overflow() -> None:
    hints = HintQueue(max_paths=3)
    for i in range(5):
        hints.put(Path(f"/s/{i}.png"))
    hints.put(Path("/s/0.png"))
    paths, lost = hints.take(0.0)
    assert len(paths) == 3 and lost
    assert hints.take(0.0) == (set(), False)


def test_hint_queue_wakes_for_a_hint_or_for_a_worker() -> None:
    hints = HintQueue()
    reader, writer = multiprocessing.Pipe(duplex=False)
    writer.send("result")
    started = time.monotonic()
    assert hints.take(30.0, [reader]) == (set(), False)  # the pipe woke it
    hint = threading.Timer(0.1, hints.put, [Path("/s/a.png")])
    hint.start()
    assert hints.take(30.0, [writer]) == ({Path("/s/a.png")}, False)
    assert time.monotonic() - started < 20  # neither waited out its 30 s
    hint.join()
    reader.close()
    writer.close()


class _LimitedObserver:
    """An inotify observer at the kernel's watch limit: it fails to start like the real one."""

    def __init__(self, err: int) -> None:
        self.err = err

    def schedule(self, handler: Any, path: str, recursive: bool) -> None:
        pass

    def start(self) -> None:
        raise OSError(self.err, "inotify limit reached")

    def is_alive(self) -> bool:
        return False


@pytest.mark.parametrize(
    ("err", "sysctl"),
    [
        (errno.ENOSPC, "fs.inotify.max_user_watches"),
        (errno.EMFILE, "fs.inotify.max_user_instances"),
    ],
)
def test_inotify_limits_fall_back_to_polling_with_advice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, err: int, sysctl: str
) -> None:
    from scandex.daemon.events import _make_observer

    def make(polling: bool) -> Any:
        return _make_observer(True) if polling else _LimitedObserver(err)

    source = WatchdogSource([tmp_path], recursive=True, polling=False, make_observer=make)
    source.start()
    try:
        assert source.polling
        assert sysctl in caplog.text and "polling" in caplog.text
        (tmp_path / "new.png").write_bytes(b"x")
        deadline = time.monotonic() + 20
        seen: set[Path] = set()
        while tmp_path / "new.png" not in seen and time.monotonic() < deadline:
            seen |= source.get_hints(0.2)[0]
        assert tmp_path / "new.png" in seen
    finally:
        source.stop()


def test_inotify_source_reports_moves_by_both_names(tmp_path: Path) -> None:
    source = WatchdogSource([tmp_path], recursive=True, polling=False)
    source.start()
    try:
        (tmp_path / "a.png").write_bytes(b"x")
        (tmp_path / "a.png").rename(tmp_path / "b.png")
        deadline = time.monotonic() + 10
        seen: set[Path] = set()
        while not {tmp_path / "a.png", tmp_path / "b.png"} <= seen:
            assert time.monotonic() < deadline, seen
            seen |= source.get_hints(0.2)[0]
    finally:
        source.stop()


def test_an_unwritable_folder_is_explained(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    assert check_writable(folder) is None
    assert list(folder.iterdir()) == []  # the probe cleans up after itself
    with read_only(folder):
        message = check_writable(folder)
    assert message is not None
    assert "lacks write permission" in message and str(folder) in message
    assert f"uid {os.geteuid()}" in message and "mode drwx" in message


def test_status_command_reports_counts_and_reasons(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    (tmp_path / "scans").mkdir()
    config = tmp_path / "config.toml"
    config.write_text('state_dir = "state"\n[watch]\npaths = ["scans"]\n', encoding="utf-8")
    store = StateStore(tmp_path / "state" / "state.sqlite3")
    scans = tmp_path / "scans"
    store.put(FileRecord(str(scans / "a.png"), 1, 1, "h1", DONE, hocr_path=str(scans / "a.hocr")))
    store.put(FileRecord(str(scans / "b.png"), 1, 1, "h2", "failed", 4, "truncated PNG"))
    retry_at = time.time() + 600
    store.put(FileRecord(str(scans / "c.png"), 1, 1, "h3", PENDING, 1, "OCR error", None, retry_at))
    store.close()

    def status(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "scandex", "status", "--config", str(config), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    report = json.loads(status("--format", "json"))
    assert report["daemon"] == {"running": False, "pid": None}
    assert report["counts"] == {"pending": 1, "done": 1, "failed": 1}
    assert (report["queued"], report["waiting_retry"]) == (0, 1)
    assert report["failed"] == [{"path": str(scans / "b.png"), "error": "truncated PNG",
                                 "attempts": 4}]  # fmt: skip
    assert report["retrying"][0]["error"] == "OCR error"
    assert 590 < report["retrying"][0]["retry_in_seconds"] <= 600
    assert report["index"] == {"documents": 0, "pages": 0, "size_bytes": 0}
    text = status()
    assert "daemon:   not running" in text
    assert f"{scans / 'b.png'}: truncated PNG (after 4 attempts)" in text
    assert "1 done, 1 pending (0 queued, 0 in progress, 1 waiting to retry), 1 failed" in text


@pytest.mark.parametrize("to_journal", [True, False])
def test_log_lines_carry_journal_priorities_only_when_stderr_is_the_journal(
    tmp_path: Path, to_journal: bool
) -> None:
    import subprocess
    import sys

    stderr_path = tmp_path / "stderr"
    stderr_path.touch()
    (tmp_path / "other").touch()
    code = (
        "import logging; from scandex.cli.service import _setup_logging; _setup_logging(False);"
        "logging.getLogger('scandex.daemon').warning('failed: x.png: truncated')"
    )
    st = (stderr_path if to_journal else tmp_path / "other").stat()
    with stderr_path.open("w") as stderr:
        env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
        subprocess.run([sys.executable, "-c", code], stderr=stderr, env=env, timeout=60, check=True)
    line = stderr_path.read_text().strip()
    if to_journal:
        assert line == "<4>failed: x.png: truncated"
    else:
        assert line.endswith("WARNING failed: x.png: truncated") and line[:4].isdigit()


class _FlakyIndex:
    """A small real index in memory whose next commit can be made to fail (a full disk)."""

    def __init__(self) -> None:
        self.staged: dict[str, object] = {}
        self.committed: dict[str, object] = {}
        self.fail_next_commit = False

    def add(self, doc: Any, *, hocr_path: str | None = None) -> None:
        self.staged[doc.path] = doc

    def remove(self, path: str) -> None:
        self.staged[path] = None

    def commit(self) -> None:
        if self.fail_next_commit:
            self.fail_next_commit = False
            raise OSError(28, "No space left on device")
        for path, doc in self.staged.items():
            if doc is None:
                self.committed.pop(path, None)
            else:
                self.committed[path] = doc
        self.staged.clear()

    def close(self) -> None:
        pass

    def paths(self) -> set[str]:
        return set(self.committed)


def test_a_file_is_done_only_after_its_index_commit(tmp_path: Path) -> None:
    from scandex.daemon.records import Records
    from scandex.page import Document, Page

    store = StateStore(tmp_path / "state.sqlite3")
    index = _FlakyIndex()
    records = Records(store, index)
    new = FileRecord("/s/new.png", 3, 1, "h1", PENDING)
    old = FileRecord("/s/old.png", 3, 1, "h2", DONE, hocr_path="/s/old.hocr", model="m1")
    store.put(new)
    store.put(old)
    records.indexed(new, Document(new.path, (Page(1, 10, 10),)), "/s/new.hocr", "m2")
    records.indexed(old, Document(old.path, (Page(1, 10, 10),)), "/s/old.hocr", "m2")

    def stored(path: str) -> FileRecord:
        found = store.get(path)
        assert found is not None
        return found

    # Indexed, not committed: the store still says what a kill -9 now must find.
    assert (stored(new.path).state, stored(old.path).model) == (PENDING, "m1")
    assert records.get(new.path).state == DONE  # type: ignore[union-attr]
    assert (records.uncommitted_count, records.newly_done_count) == (2, 1)
    index.fail_next_commit = True
    records.commit_if_due(busy=False)
    assert stored(new.path).state == PENDING
    records.commit_if_due(busy=False, force=True)
    assert (stored(new.path).state, stored(old.path).model) == (DONE, "m2")
    assert index.paths() == {new.path, old.path} and records.uncommitted_count == 0
    store.close()


@pytest.mark.parametrize("durable", [True, False])
def test_atomic_write_replaces_whole_files_with_the_umask_mode_and_cleans_up(
    tmp_path: Path, durable: bool
) -> None:
    from scandex.atomic import atomic_write

    target = tmp_path / "model.onnx"
    target.write_bytes(b"old")
    atomic_write(target, lambda out: out.write(b"new content"), durable=durable)
    assert target.read_bytes() == b"new content"
    umask = os.umask(0o022)  # the test reads it; scandex.atomic never touches it
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask

    def fail(out: Any) -> None:
        out.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        atomic_write(target, fail, durable=durable)
    assert target.read_bytes() == b"new content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
