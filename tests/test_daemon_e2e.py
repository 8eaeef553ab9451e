"""Acceptance: `scandex run` as a real process on a temporary config, with the real OCR
engine, real files, the real index; checked through `scandex search`, `scandex status`, the
hOCR files, the daemon's log and its sd_notify messages.

These tests skip until the real engine (scandex.ocr.ocr_file and its model) is installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest
from polling import wait_for as poll
from synth import SynthPage, render_page

from scandex.page import BBox

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

OCR_DEADLINE_SECONDS = 240.0  # generous: real OCR on a shared 2-core machine


@pytest.fixture(scope="module", autouse=True)
def real_engine() -> None:
    """Skip unless the real engine and its model load."""
    try:
        from scandex.ocr import get_recognizer, ocr_file  # noqa: F401
        from scandex.ocr.hocr import read_hocr_file  # noqa: F401

        get_recognizer()
    except Exception as exc:
        pytest.skip(f"the real OCR engine is not ready: {type(exc).__name__}: {exc}")


def page(seed: int) -> SynthPage:
    return render_page("one_column", dpi=150, font="sans", seed=seed)


def png_bytes(synth: SynthPage) -> bytes:
    ok, data = cv2.imencode(".png", synth.image)
    assert ok
    return data.tobytes()


def distinct_words(synth: SynthPage, others: list[SynthPage]) -> list[tuple[str, BBox]]:
    """Long words of this page that no other page has, each with its line's box."""
    taken = {w.strip(".,;:!?").lower() for other in others for line in other.lines for w in
             line.text.split()}  # fmt: skip
    found = []
    for line in synth.lines:
        for word in line.text.split():
            word = word.strip(".,;:!?\"'()")
            if len(word) >= 7 and word.isalpha() and word.lower() not in taken:
                found.append((word, line.bbox))
    assert found, "no distinct word on the page"
    return found


def scandex(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scandex", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = OCR_DEADLINE_SECONDS) -> Any:
    return poll(predicate, what, timeout_seconds=timeout, interval_seconds=0.25)


class Service:
    """A temp folder with config.toml and scans/, and `scandex run` on it as a process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.scans = root / "scans"
        self.scans.mkdir(parents=True, exist_ok=True)
        self.config = root / "config.toml"
        self.config.write_text(
            'state_dir = ".scandex"\n'
            "[watch]\n"
            'paths = ["scans"]\n'
            "settle_seconds = 2.0\n"
            "rescan_seconds = 30.0\n"
            "[ocr]\n"
            "retries = 1\n"
            "retry_seconds = 0.5\n"
            "timeout_seconds = 300.0\n",
            encoding="utf-8",
        )
        self.log_path = root / "daemon.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.notify: socket.socket | None = None
        self.notifications: list[bytes] = []  # every sd_notify datagram, in order

    def start(self, workers: int = 1) -> None:
        notify_path = self.root / f"notify-{time.monotonic_ns()}"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(notify_path))
        self.notifications = []
        threading.Thread(target=self._listen, args=(self.notify,), daemon=True).start()
        env = dict(os.environ, NOTIFY_SOCKET=str(notify_path), WATCHDOG_USEC="2000000")
        env.pop("SCANDEX_CONFIG", None)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "scandex",
                    "run",
                    "--config",
                    str(self.config),
                    "--workers",
                    str(workers),
                    "--verbose",
                ],  # fmt: skip
                stdout=log,
                stderr=log,
                env=env,
                start_new_session=True,
            )
        self.wait_notify(b"READY=1", 120.0)

    def _listen(self, sock: socket.socket) -> None:
        while True:
            try:
                self.notifications.append(sock.recv(4096))
            except OSError:  # closed
                return

    def wait_notify(self, wanted: bytes, timeout: float) -> None:
        def seen() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"the daemon exited early:\n{self.log()}")
            return any(wanted in message for message in self.notifications)

        wait_for(seen, f"{wanted!r} from the daemon", timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            if self.notify is not None:
                self.notify.close()
        return code

    def kill_everything(self) -> None:
        """kill -9 the daemon and its workers (its process group), as a crash or OOM would."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        if self.notify is not None:
            self.notify.close()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def status(self) -> dict[str, Any]:
        result = scandex("status", "--format", "json", "--config", str(self.config))
        assert result.returncode == 0, result.stderr
        report: dict[str, Any] = json.loads(result.stdout)
        return report

    def search(self, query: str, *extra: str) -> list[dict[str, Any]]:
        result = scandex("search", "--format", "json", "--config", str(self.config), *extra,
                         query)  # fmt: skip
        assert result.returncode == 0, result.stderr
        hits: list[dict[str, Any]] = json.loads(result.stdout)
        return hits

    def found(self, word: str) -> set[str]:
        return {hit["path"] for hit in self.search(word, "--fuzzy")}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    svc = Service(tmp_path)
    try:
        yield svc
    finally:
        if svc.process is not None and svc.process.poll() is None:
            svc.kill_everything()


def slow_copy(data: bytes, target: Path, chunks: int = 10, pause_seconds: float = 0.3) -> None:
    """Write like a scanner: in bursts, each pause shorter than settle_seconds."""
    step = len(data) // chunks + 1
    with target.open("wb") as out:
        for start in range(0, len(data), step):
            out.write(data[start : start + step])
            out.flush()
            time.sleep(pause_seconds)


def test_the_service_end_to_end(service: Service) -> None:
    one, two = page(1), page(2)
    candidates_one = distinct_words(one, [two])[:6]
    candidates_two = distinct_words(two, [one])[:6]
    service.start()
    scans = service.scans

    # A slow copy, and files that must fail with a reason without stopping anything.
    first = scans / "first.png"
    slow_copy(png_bytes(one), first)
    (scans / "empty.png").write_bytes(b"")
    data = png_bytes(two)
    (scans / "truncated.png").write_bytes(data[: len(data) // 2])
    (scans / "notes.png").write_text("a text file with an image name\n", encoding="utf-8")
    report = wait_for(
        lambda: (s := service.status())["counts"]["done"] == 1 and s["counts"]["failed"] == 3 and s,
        "one scan done and three failed",
    )
    reasons = {Path(f["path"]).name: f["error"] for f in report["failed"]}
    assert set(reasons) == {"empty.png", "truncated.png", "notes.png"}
    assert all(reasons.values()) and len(set(reasons.values())) == 3, reasons
    assert report["daemon"]["running"] and report["index"]["documents"] == 1
    log = service.log()
    assert f"failed: {first}" not in log and f"changed: {first}" not in log, "read too early"

    # The hOCR is next to the scan, and search finds the word with its line's box.
    assert first.with_suffix(".hocr").is_file()
    # The recognizer may misread a word or two: use the first of a few that it read.
    readable = next(
        (
            (w, box, hits)
            for w, box in candidates_one
            if (hits := service.search(w, "--fuzzy")) and hits[0]["path"] == str(first)
        ),
        None,
    )
    assert readable, f"none of {[w for w, _ in candidates_one]} finds {first}"
    word_one, box_one, hits = readable
    assert hits[0]["page"] == 1
    line_box = BBox(*hits[0]["lines"][0]["bbox"])
    assert line_box.iou(box_one) > 0.5, (line_box, box_one)
    word_box = BBox(*hits[0]["lines"][0]["words"][0]["bbox"])
    assert word_box.intersection_area(box_one) > 0.8 * word_box.area

    # Renamed: found under the new name, without OCR.
    renamed = scans / "renamed.png"
    first.rename(renamed)
    wait_for(lambda: service.found(word_one) == {str(renamed)}, "the rename in the index")
    assert renamed.with_suffix(".hocr").is_file() and not first.with_suffix(".hocr").exists()
    assert "(no OCR needed)" in service.log()

    # An identical copy: its own hOCR and search hit, OCR reused.
    copy = scans / "copy.png"
    shutil.copyfile(renamed, copy)
    wait_for(lambda: service.found(word_one) == {str(renamed), str(copy)}, "the copy")
    assert copy.with_suffix(".hocr").is_file() and "reused its OCR" in service.log()

    # Changed content: redone; the old text is no longer found under that name.
    renamed.write_bytes(png_bytes(two))
    wait_for(lambda: any(str(renamed) in service.found(w) for w, _ in candidates_two), "the change")
    wait_for(lambda: service.found(word_one) == {str(copy)}, "the old text to go")

    # Deleted: gone from search, and the hOCR scandex wrote for it too.
    copy.unlink()
    wait_for(lambda: service.found(word_one) == set(), "the deletion")
    assert not copy.with_suffix(".hocr").exists()

    # Searching while the daemon writes works.
    for i in range(3):
        (scans / f"more-{i}.png").write_bytes(png_bytes(page(10 + i)))
    for _ in range(5):
        assert service.search("the") is not None
    wait_for(lambda: service.status()["counts"]["done"] == 4, "the last three scans")

    assert service.stop() == 0
    assert "stopped" in service.log()
    kinds = {message.split(b"=")[0] for message in service.notifications}
    assert {b"READY", b"STATUS", b"WATCHDOG", b"STOPPING"} <= kinds, service.notifications
    assert service.status()["daemon"]["running"] is False


def test_restart_after_kill_9_catches_up_with_nothing_lost_or_doubled(service: Service) -> None:
    pages = {f"p{i:02d}.png": page(20 + i) for i in range(16)}
    service.start(workers=1)
    for name, synth in pages.items():
        (service.scans / name).write_bytes(png_bytes(synth))
    wait_for(lambda: "done: " in service.log(), "the first scan", timeout=OCR_DEADLINE_SECONDS)
    service.kill_everything()  # mid-batch: some done, some in flight, some queued
    first_run = service.log()
    assert all(str(service.scans / name) in first_run for name in pages)  # all were seen
    done_before = first_run.count("done: ")

    # While it is down: one scan added, one deleted.
    added = page(40)
    (service.scans / "added.png").write_bytes(png_bytes(added))
    (service.scans / "p00.png").unlink()
    expected = {str(service.scans / n) for n in pages if n != "p00.png"}
    expected.add(str(service.scans / "added.png"))

    service.start(workers=2)
    report = wait_for(
        lambda: (
            (s := service.status())["counts"]["done"] == len(expected)
            and s["counts"]["pending"] == 0
            and s
        ),
        "the catch-up",
    )
    assert report["counts"]["failed"] == 0
    assert report["index"]["documents"] == len(expected)
    assert report["index"]["pages"] == len(expected)  # one page each: nothing doubled
    assert not (service.scans / "p00.hocr").exists()
    second_run = service.log()[len(first_run) :]
    assert f"deleted: {service.scans / 'p00.png'}" in second_run
    assert f"new: {service.scans / 'added.png'}" in second_run
    # Killed mid-batch: some finished before the kill, the rest after the restart.
    assert 1 <= done_before < len(pages) and second_run.count("done: ") >= 1
    for path in expected:
        assert Path(path).with_suffix(".hocr").is_file()
    # Searchable: one of its longer words finds it (the recognizer may misread some).
    words = [w.strip(".,;:!?") for line in added.lines for w in line.text.split()]
    longer = sorted({w for w in words if len(w) >= 6 and w.isalpha()}, key=len, reverse=True)
    assert any(str(service.scans / "added.png") in service.found(w) for w in longer[:8])
    assert service.stop(signal.SIGINT) == 0


def model_in(hocr_path: Path) -> str:
    found = re.search(r'<meta name="scandex-model" content="([^"]+)"', hocr_path.read_text())
    assert found, f"no scandex-model in {hocr_path}"
    return found.group(1)


def test_a_reload_reads_the_archive_again_with_a_new_model(service: Service) -> None:
    """The loop of issue 12: a retrained model is configured, `systemctl reload` (SIGHUP),
    the archive is read again; a model that cannot load changes nothing."""
    import hashlib

    onnx = pytest.importorskip("onnx", reason="needs the train extra to copy a model")
    from scandex.ocr.recognize import capitals_companion, default_model_path

    shipped = default_model_path()
    # The model's bytes and its capitals companion's, where it has one, make its identity.
    companion = capitals_companion(shipped)
    read = shipped.read_bytes() + (companion.read_bytes() if companion.is_file() else b"")
    shipped_id = f"{shipped.name} sha256:{hashlib.sha256(read).hexdigest()}"
    synth = page(50)
    service.start()
    first = service.scans / "first.png"
    first.write_bytes(png_bytes(synth))
    wait_for(lambda: service.status()["counts"]["done"] == 1, "the first scan")
    assert model_in(first.with_suffix(".hocr")) == shipped_id
    report = service.status()["model"]
    assert (report["configured"], report["read_by_other_models"]) == (shipped_id, 0)

    # "Retrained": the same network in a file with other bytes (a note in its metadata).
    retrained = service.root / "retrained.onnx"
    model = onnx.load(str(shipped))
    model.doc_string = "a copy with other bytes"
    onnx.save(model, str(retrained))
    retrained_id = f"retrained.onnx sha256:{hashlib.sha256(retrained.read_bytes()).hexdigest()}"
    assert retrained_id != shipped_id
    base = service.config.read_text(encoding="utf-8")  # [ocr] is its last table
    service.config.write_text(base + 'model = "retrained.onnx"\n', encoding="utf-8")
    assert service.process is not None
    reloads = len([m for m in service.notifications if b"RELOADING=1" in m])
    service.process.send_signal(signal.SIGHUP)
    wait_for(
        lambda: (
            (s := service.status()["model"])["configured"] == retrained_id
            and s["read_by_other_models"] == 0
        ),
        "the archive to be read again with the new model",
    )
    assert model_in(first.with_suffix(".hocr")) == retrained_id
    words = [w for w, _ in distinct_words(synth, [])]
    assert any(str(first) in service.found(w) for w in words[:6])
    messages = service.notifications
    reloading = [i for i, m in enumerate(messages) if b"RELOADING=1" in m]
    assert len(reloading) == reloads + 1
    assert any(b"READY=1" in m for m in messages[reloading[-1] :]), messages

    # A model that does not load: the daemon says why and keeps reading with the one it has.
    (service.root / "broken.onnx").write_bytes(b"not an onnx model")
    service.config.write_text(base + 'model = "broken.onnx"\n', encoding="utf-8")
    service.process.send_signal(signal.SIGHUP)
    wait_for(lambda: "still using retrained.onnx" in service.log(), "the refused reload")
    second = service.scans / "second.png"
    second.write_bytes(png_bytes(page(51)))
    wait_for(lambda: service.status()["counts"]["done"] == 2, "a scan after it")
    assert model_in(second.with_suffix(".hocr")) == retrained_id
    assert service.stop() == 0
