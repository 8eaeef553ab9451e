"""The daemon's test harness: run() in a thread with small real engines, and helpers to look
at its state store and index. Used by the test_daemon_*.py modules, and run as a program by
the kill -9 test (`python -c "import daemon_harness; daemon_harness.main()" ...`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import pytest
from polling import wait_for
from synth import render_page

from scandex.config import Config, OcrConfig, WatchConfig
from scandex.daemon import run
from scandex.daemon.state import FileRecord, StateStore
from scandex.errors import ModelError
from scandex.ocr.io import decode_pages
from scandex.page import BBox, Block, Document, Line, Page, Word


@dataclass(frozen=True)
class PageSizeEngine:
    """A tiny real engine: decodes every page (bad files fail as they would in the real
    one) and returns the page sizes. Each call is appended to `calls`, so tests can count
    OCR runs across worker processes."""

    calls: str
    slow_seconds: float = 0.0  # files named slow* take this long

    def __call__(self) -> PageSizeEngine:
        return self

    def ocr_bytes(self, data: bytes, name: str) -> Document:
        with open(self.calls, "a", encoding="utf-8") as log:
            log.write(f"{name}\n")
        if Path(name).name.startswith("slow"):
            time.sleep(self.slow_seconds)
        if Path(name).name.startswith("flaky") and calls(self).count(name) == 1:
            raise MemoryError  # as a big page on a busy machine: worth another try
        pages = decode_pages(data, name)
        return Document(
            name,
            tuple(Page(p.number, p.gray.shape[1], p.gray.shape[0], dpi=p.dpi) for p in pages),
        )


@dataclass(frozen=True)
class TimedEngine:
    """Every file takes `seconds` (asleep); each call appends the monotonic times it began
    and ended to `times`, so tests can see how long a worker waited between files."""

    times: str
    seconds: float

    def __call__(self) -> TimedEngine:
        return self

    def ocr_bytes(self, data: bytes, name: str) -> Document:
        began = time.monotonic()
        time.sleep(self.seconds)
        pages = decode_pages(data, name)
        with open(self.times, "a", encoding="utf-8") as log:
            log.write(f"{began} {time.monotonic()}\n")
        sizes = tuple(Page(p.number, p.gray.shape[1], p.gray.shape[0]) for p in pages)
        return Document(name, sizes)


def made(factory: Any) -> Any:
    """An EngineMaker that always makes `factory` (whatever the configuration)."""
    return lambda ocr, model: factory


def scan_png(seed: int) -> bytes:
    page = render_page("one_column", dpi=60, seed=seed)
    ok, data = cv2.imencode(".png", page.image)
    assert ok
    return data.tobytes()


def make_config(tmp_path: Path, **ocr: Any) -> Config:
    scans = tmp_path / "scans"
    scans.mkdir(exist_ok=True)
    ocr_config = OcrConfig(workers=1, retries=1, retry_seconds=0.2, timeout_seconds=60.0)
    return Config(
        state_dir=tmp_path / "state",
        watch=WatchConfig(paths=(scans,), settle_seconds=0.5, rescan_seconds=0.0),
        ocr=replace(ocr_config, **ocr),
    )


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make `folder` unwritable, even for root (the immutable attribute)."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("running as root without chattr: cannot make a folder read-only")
        result = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
        if result.returncode != 0:
            pytest.skip(f"chattr +i is not supported here: {result.stderr.decode().strip()}")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)


def record(config: Config, path: Path) -> FileRecord | None:
    if not config.db_path.exists():
        return None
    store = StateStore(config.db_path, readonly=True)
    try:
        return store.get(str(path))
    finally:
        store.close()


def state_of(config: Config, path: Path) -> str | None:
    found = record(config, path)
    return found.state if found else None


def calls(engine: Any) -> list[str]:
    try:
        return Path(engine.calls).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []


def indexed_paths(config: Config) -> set[str]:
    from scandex.indexer import open_index

    index = open_index(config.index_dir, writable=False)
    try:
        return index.paths()
    finally:
        index.close()


@dataclass
class Running:
    stop: threading.Event
    hurry: threading.Event
    reload: threading.Event  # as SIGHUP sets it
    thread: threading.Thread
    outcome: dict[str, Any]


@contextlib.contextmanager
def daemon(config: Config, engine: Any, **options: Any) -> Iterator[Running]:
    """run() in a thread until the block ends; the block starts once the daemon is ready.

    `engine` is an engine factory (used whatever the configuration), or an EngineMaker when
    `maker=True` is given.
    """
    stop, hurry, reload = threading.Event(), threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}
    maker = engine if options.pop("maker", False) else made(engine)

    def target() -> None:
        try:
            outcome["rc"] = run(
                config, stop=stop, hurry=hurry, reload=reload, engine=maker, **options
            )
        except BaseException as exc:  # re-raised in the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="daemon")
    thread.start()
    running = Running(stop, hurry, reload, thread, outcome)
    try:
        wait_for(lambda: "error" in outcome or _published(config), "the daemon to be ready")
        if "error" in outcome:
            raise outcome["error"]
        yield running
    finally:
        stop.set()
        thread.join(timeout=40)
        assert not thread.is_alive(), "the daemon did not stop"
    if "error" in outcome:
        raise outcome["error"]
    assert outcome["rc"] == 0


def _published(config: Config) -> bool:
    if not config.db_path.exists():
        return False
    store = StateStore(config.db_path, readonly=True)
    try:
        return "updated" in store.meta()
    except Exception:
        return False
    finally:
        store.close()


@dataclass(frozen=True)
class WordEngine:
    """A tiny real engine whose "model" is a text file holding one word (a file with
    anything else fails to load, as a corrupt model does). Every page it reads gets one
    line: that word and the image's name, so searches tell which model read a file."""

    model: str  # the model file (the daemon's snapshot of it)
    calls: str
    slow_seconds: float = 0.0  # each file takes this long
    fails_on: str = ""  # the model word that cannot read files named stubborn*

    def __call__(self) -> WordEngine:
        text = Path(self.model).read_text(encoding="utf-8", errors="replace").strip()
        if not text.isalpha():
            raise ModelError(self.model, "not a word model")
        return self

    def ocr_bytes(self, data: bytes, name: str) -> Document:
        word = Path(self.model).read_text(encoding="utf-8").strip()
        with open(self.calls, "a", encoding="utf-8") as log:
            log.write(f"{name} {word}\n")
        time.sleep(self.slow_seconds)
        if word == self.fails_on and Path(name).name.startswith("stubborn"):
            raise RuntimeError(f"{word} cannot read this one")
        pages = decode_pages(data, name)
        return Document(name, tuple(_word_page(p.number, word, Path(name).stem) for p in pages))


def _word_page(number: int, *texts: str) -> Page:
    words, x = [], 10
    for text in texts:
        words.append(Word(text, BBox(x, 10, x + 10 * len(text), 30), 0.9))
        x += 10 * len(text) + 10
    line = Line(BBox.union_all(w.bbox for w in words), " ".join(texts), 0.9, tuple(words))
    return Page(number, 400, 100, blocks=(Block(line.bbox, (line,)),))


def word_maker(calls: str, slow_seconds: float = 0.0, fails_on: str = "") -> Any:
    """The EngineMaker for WordEngine: each configuration's model file is its word."""
    return lambda ocr, model: WordEngine(str(model.path), calls, slow_seconds, fails_on)


def search_paths(config: Config, word: str) -> set[str]:
    from scandex.indexer import open_index

    index = open_index(config.index_dir, writable=False)
    try:
        return {hit.path for hit in index.search(word, limit=1000)}
    finally:
        index.close()


def main() -> None:
    """Run the daemon on TMP_PATH with WordEngine until SIGTERM (for the kill -9 test).

    argv: TMP_PATH MODEL SLOW_SECONDS
    """
    import signal

    tmp_path, model, slow = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    config = make_config(tmp_path, model=model)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    run(config, stop=stop, engine=word_maker(str(tmp_path / "calls"), slow))
