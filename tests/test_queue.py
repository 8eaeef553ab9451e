"""The daemon with OCR workers through Redis (RQ), against a real redis-server: jobs flow end
to end, and faults lose nothing and double nothing (a worker killed mid-job, Redis stopped
and restarted, a result for a file that changed meanwhile, identical scans, a daemon that
stops with jobs out)."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypdfium2
import pytest
from daemon_harness import (
    _word_page,
    calls,
    daemon,
    indexed_paths,
    make_config,
    record,
    scan_png,
    search_paths,
    state_of,
)
from polling import wait_for
from servers import RedisServer, redis_server

from scandex.config import Config, OutputConfig, QueueConfig
from scandex.daemon.searchable_pdfs import is_scandex_pdf
from scandex.daemon.status import format_status, read_status
from scandex.ocr.io import decode_pages
from scandex.page import Document

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path / "redis") as started:
        yield started


def queue_config(tmp_path: Path, server: RedisServer, **ocr: Any) -> Config:
    model = tmp_path / "model.txt"
    model.write_text("alpha\n", encoding="utf-8")
    config = make_config(tmp_path, model=model, **ocr)
    queue = QueueConfig(backend="redis", url=server.url, name="test")
    return dataclasses.replace(config, queue=queue)


@dataclasses.dataclass(frozen=True)
class LoggingEngine:
    """A tiny real engine whose "model" is a text file holding one word: each page gets one
    line, that word and the scan's name. Each read is logged as "PATH WORD PID"."""

    model: str
    calls: str
    slow_seconds: float = 0.0

    def __call__(self) -> LoggingEngine:
        return self

    def ocr_bytes(self, data: bytes, name: str) -> Document:
        word = Path(self.model).read_text(encoding="utf-8").strip()
        with open(self.calls, "a", encoding="utf-8") as log:
            log.write(f"{name} {word} {os.getpid()}\n")
        time.sleep(self.slow_seconds)
        pages = decode_pages(data, name)
        return Document(name, tuple(_word_page(p.number, word, Path(name).stem) for p in pages))


def logging_maker(calls_file: Path, slow_seconds: float) -> Any:
    return lambda ocr, model: LoggingEngine(str(model.path), str(calls_file), slow_seconds)


@dataclasses.dataclass
class Workers:
    thread: threading.Thread
    stop: threading.Event
    outcome: dict[str, Any]


@contextlib.contextmanager
def workers(config: Config, jobs: int, calls_file: Path, slow_seconds: float = 0.0):
    """`scandex worker --jobs N` (run_workers) in a thread, with the test engine."""
    from scandex.queue.worker import run_workers

    stop = threading.Event()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["rc"] = run_workers(
                config, jobs=jobs, stop=stop, engine=logging_maker(calls_file, slow_seconds)
            )
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="workers")
    thread.start()
    try:
        yield Workers(thread, stop, outcome)
    finally:
        stop.set()
        thread.join(timeout=60)
        assert not thread.is_alive(), "the workers did not stop"
    if "error" in outcome:
        raise outcome["error"]


class Calls:
    """The test engine's log: one line per file it read, "PATH WORD" (and the worker's pid)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def of(self, scan: Path) -> list[str]:
        return [line for line in calls(self) if line.split()[0] == str(scan)]

    @property
    def calls(self) -> str:
        return str(self.path)


def drop(folder: Path, name: str, seed: int) -> Path:
    path = folder / name
    temporary = folder / f".{name}.part"
    temporary.write_bytes(scan_png(seed))
    os.replace(temporary, path)
    return path


def all_done(config: Config, paths: list[Path]) -> bool:
    return all(state_of(config, p) == "done" for p in paths)


def test_jobs_flow_end_to_end_with_two_workers(tmp_path: Path, server: RedisServer) -> None:
    config = queue_config(tmp_path, server)
    log = Calls(tmp_path / "calls")
    scans = config.watch.paths[0]
    with workers(config, 2, log.path, slow_seconds=0.3), daemon(config, None, maker=True):
        dropped = [drop(scans, f"scan{i}.png", seed=i) for i in range(6)]
        wait_for(lambda: all_done(config, dropped), "six scans done", 90)
        # The daemon looks at the workers every few seconds: wait for a look after the last.
        status = wait_for(
            lambda: (
                (found := read_status(config))["queue"].get("workers")
                and sum(worker["files"] for worker in found["queue"]["workers"]) == 6
                and found
            ),
            "the workers and their files in scandex status",
        )
    assert indexed_paths(config) == {str(p) for p in dropped}
    assert search_paths(config, "alpha") == {str(p) for p in dropped}
    for scan in dropped:
        assert len(log.of(scan)) == 1  # each read once
        assert scan.with_suffix(".hocr").is_file()  # written by the worker, beside the scan
        assert record(config, scan).model.startswith("model.txt sha256:")
    queue = status["queue"]
    assert queue["backend"] == "redis" and queue["connected"] is True
    assert queue["queue"].startswith("test.")
    assert len(queue["workers"]) == 2
    assert sum(worker["files"] for worker in queue["workers"]) == 6
    assert sum(worker["files_per_minute"] for worker in queue["workers"]) > 0
    assert queue["depth"] == 0
    text = format_status(status)
    assert f"queue:    {queue['queue']} on {server.url}: 0 waiting," in text
    assert "2 worker(s) seen" in text and "files/min" in text


def test_a_worker_mounting_the_scans_elsewhere_maps_them(
    tmp_path: Path, server: RedisServer
) -> None:
    """queue.path_map: the worker's configuration watches none of the daemon's folders and
    mounts the scans at a link (as /mnt/scans -> /media/nas), read where the link leads."""
    from scandex.config import load_config

    config = queue_config(tmp_path, server)
    scans = config.watch.paths[0]
    (tmp_path / "mnt").symlink_to(scans)
    (tmp_path / "elsewhere").mkdir()
    worker_toml = tmp_path / "worker.toml"
    worker_toml.write_text(
        f'[watch]\npaths = ["{tmp_path / "elsewhere"}"]\n[ocr]\nmodel = "{config.ocr.model}"\n'
        f'[queue]\nbackend = "redis"\nurl = "{server.url}"\nname = "test"\n'
        f'path_map = {{ "{scans}" = "{tmp_path / "mnt"}" }}\n',
        encoding="utf-8",
    )
    log = Calls(tmp_path / "calls")
    with workers(load_config(worker_toml), 1, log.path), daemon(config, None, maker=True):
        scan = drop(scans, "page.png", seed=6)
        wait_for(lambda: state_of(config, scan) is not None and state_of(config, scan) != "pending",
                 "the scan read", 60)  # fmt: skip
    assert state_of(config, scan) == "done", record(config, scan)
    assert len(log.of(scan)) == 1
    assert scan.with_suffix(".hocr").is_file()
    assert search_paths(config, "alpha") == {str(scan)}


def test_a_result_for_a_file_deleted_meanwhile_is_dropped(
    tmp_path: Path, server: RedisServer
) -> None:
    config = queue_config(tmp_path, server)
    log = Calls(tmp_path / "calls")
    scans = config.watch.paths[0]
    with workers(config, 1, log.path, slow_seconds=1.5), daemon(config, None, maker=True):
        scan = drop(scans, "page.png", seed=1)
        wait_for(lambda: log.of(scan), "the worker to start on the scan", 60)
        scan.unlink()
        # One worker takes jobs in order: once this one is done, the first result was taken.
        after = drop(scans, "after.png", seed=2)
        wait_for(lambda: state_of(config, after) == "done", "the next scan done", 60)
    assert record(config, scan) is None
    assert indexed_paths(config) == {str(after)}
    assert not scan.with_suffix(".hocr").exists()  # the worker wrote it; the daemon removed it


def test_a_worker_killed_mid_job_loses_nothing(tmp_path: Path, server: RedisServer) -> None:
    config = queue_config(tmp_path, server, timeout_seconds=3.0, retry_seconds=0.2, retries=2)
    log = Calls(tmp_path / "calls")
    scans = config.watch.paths[0]
    with workers(config, 2, log.path, slow_seconds=1.5), daemon(config, None, maker=True):
        scan = drop(scans, "page.png", seed=1)
        wait_for(lambda: log.of(scan), "a worker to start on the scan", 60)
        pid = int(log.of(scan)[0].split()[-1])
        os.kill(pid, signal.SIGKILL)
        # RQ frees the job when its heartbeat runs out (timeout + grace); then it runs again.
        wait_for(lambda: state_of(config, scan) == "done", "the scan done after all", 90)
    assert len(log.of(scan)) == 2
    assert indexed_paths(config) == {str(scan)}
    assert record(config, scan).attempts == 0


def test_redis_stopped_and_restarted_during_a_drop(tmp_path: Path, server: RedisServer) -> None:
    config = queue_config(tmp_path, server)
    log = Calls(tmp_path / "calls")
    scans = config.watch.paths[0]
    with workers(config, 2, log.path, slow_seconds=0.2), daemon(config, None, maker=True):
        first = [drop(scans, f"a{i}.png", seed=i) for i in range(3)]
        server.stop()  # everything Redis held is gone
        second = [drop(scans, f"b{i}.png", seed=10 + i) for i in range(3)]
        wait_for(lambda: all(record(config, p) for p in second), "the second drop recorded", 30)
        # The queue finds Redis gone when it next talks to it and the status is published
        # once a second: the drop can be recorded before either (a CI run failed so).
        wait_for(
            lambda: read_status(config)["queue"]["connected"] is False,
            "the status to say Redis cannot be reached",
            30,
        )
        server.start()
        wait_for(lambda: all_done(config, first + second), "every scan done", 120)
    assert indexed_paths(config) == {str(p) for p in first + second}


def test_a_result_for_a_file_that_changed_is_dropped(tmp_path: Path, server: RedisServer) -> None:
    config = queue_config(tmp_path, server)
    log = Calls(tmp_path / "calls")
    scans = config.watch.paths[0]
    with workers(config, 1, log.path, slow_seconds=1.5), daemon(config, None, maker=True):
        scan = drop(scans, "page.png", seed=1)
        wait_for(lambda: log.of(scan), "the worker to start on the scan", 60)
        new_content = scan_png(2)
        drop(scans, "page.png", seed=2)
        expected = hashlib.sha256(new_content).hexdigest()
        wait_for(
            lambda: state_of(config, scan) == "done" and record(config, scan).sha256 == expected,
            "the new content done",
            90,
        )
    assert len(log.of(scan)) == 2  # the first result described content that was gone
    assert indexed_paths(config) == {str(scan)}


def test_identical_scans_are_read_once(tmp_path: Path, server: RedisServer) -> None:
    config = queue_config(tmp_path, server)
    log = Calls(tmp_path / "calls")
    scans = config.watch.paths[0]
    with workers(config, 2, log.path, slow_seconds=0.5), daemon(config, None, maker=True):
        copies = [drop(scans, f"copy{i}.png", seed=7) for i in range(3)]
        wait_for(lambda: all_done(config, copies), "every copy done", 90)
    assert sum(len(log.of(p)) for p in copies) == 1
    assert indexed_paths(config) == {str(p) for p in copies}
    assert all(p.with_suffix(".hocr").is_file() for p in copies)


def test_a_daemon_stopped_with_jobs_out_takes_their_results_at_restart(
    tmp_path: Path, server: RedisServer
) -> None:
    config = queue_config(tmp_path, server)
    log = Calls(tmp_path / "calls")
    scans = config.watch.paths[0]
    with workers(config, 1, log.path, slow_seconds=2.0):
        with daemon(config, None, maker=True):
            scan = drop(scans, "page.png", seed=3)
            wait_for(lambda: log.of(scan), "the worker to start on the scan", 60)
        assert state_of(config, scan) == "pending"  # its job is still out
        with daemon(config, None, maker=True):
            wait_for(lambda: state_of(config, scan) == "done", "the scan done", 60)
    assert len(log.of(scan)) == 1  # the result was taken, not the scan read again
    assert indexed_paths(config) == {str(scan)}


def test_hocr_the_worker_may_not_write_is_written_by_the_daemon(
    tmp_path: Path, server: RedisServer
) -> None:
    config = queue_config(tmp_path, server)
    log = Calls(tmp_path / "calls")
    scans = config.watch.paths[0]
    foreign = scans / "page.hocr"
    foreign.write_text(
        '<html><head><meta name="ocr-system" content="tesseract 5.3.0"/></head></html>',
        encoding="utf-8",
    )
    with workers(config, 1, log.path), daemon(config, None, maker=True):
        scan = drop(scans, "page.png", seed=4)
        wait_for(lambda: state_of(config, scan) == "done", "the scan done", 60)
    hocr = record(config, scan).hocr_path
    assert hocr == str(config.fallback_hocr_dir / scans.relative_to("/") / "page.hocr")
    assert Path(hocr).is_file()
    assert "tesseract" in foreign.read_text(encoding="utf-8")  # kept as it was
    assert search_paths(config, "alpha") == {str(scan)}


def test_the_worker_writes_the_searchable_pdf_while_output_pdf_is_on(
    tmp_path: Path, server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """[output] pdf travels with each job (Job.pdf in the Redis ticket): the worker, whose own
    configuration has it off, writes <stem>.ocr.pdf beside the scan while the daemon's is on,
    and none after a reload turns it off (the workers keep running)."""
    plain = queue_config(tmp_path, server)
    loaded = [dataclasses.replace(plain, output=OutputConfig(pdf=True))]
    log = Calls(tmp_path / "calls")
    scans = plain.watch.paths[0]

    def read(name: str, seed: int) -> Path:
        scan = drop(scans, name, seed)
        wait_for(lambda: state_of(plain, scan) == "done", f"{name} done", 60)
        # The worker wrote the hOCR beside the scan: the daemon did not take over the writing.
        assert record(plain, scan).hocr_path == str(scan.with_suffix(".hocr"))
        assert len(log.of(scan)) == 1
        return scan.with_name(scan.stem + ".ocr.pdf")

    with (
        caplog.at_level(logging.INFO, logger="scandex"),
        workers(plain, 1, log.path),
        daemon(loaded[0], None, maker=True, load=lambda: loaded[0]) as running,
    ):
        searchable = read("on.png", seed=5)
        assert is_scandex_pdf(searchable)
        pdf = pypdfium2.PdfDocument(searchable)
        try:
            assert "alpha" in pdf[0].get_textpage().get_text_range().split()
        finally:
            pdf.close()
        assert record(plain, searchable) is None  # never read as a scan
        loaded[0] = plain
        running.reload.set()
        wait_for(lambda: "searchable PDFs off" in caplog.text, "the reload")
        assert not read("off.png", seed=6).exists()
    assert searchable.exists()
    assert search_paths(plain, "alpha") == {str(scans / "on.png"), str(scans / "off.png")}


def test_a_job_past_the_timeout_fails_with_the_reason(tmp_path: Path, server: RedisServer) -> None:
    config = queue_config(tmp_path, server, timeout_seconds=1.0, retries=0)
    log = Calls(tmp_path / "calls")
    scans = config.watch.paths[0]
    with workers(config, 1, log.path, slow_seconds=3.0), daemon(config, None, maker=True):
        scan = drop(scans, "page.png", seed=5)
        wait_for(lambda: state_of(config, scan) == "failed", "the scan failed", 60)
        assert read_status(config)["failed"][0]["error"] == (
            "OCR took longer than ocr.timeout_seconds = 1 s"
        )
    assert indexed_paths(config) == set()
