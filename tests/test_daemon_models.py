"""Upgrading the model without losing search: every file records the model that read it
(state store and hOCR), files read by another model are read again (ocr.reocr), a reload
(SIGHUP) swaps the model without stopping, and a kill -9 while reading again loses nothing.

The engine is daemon_harness.WordEngine: its "model" is a file holding one word, which it
writes into every page it reads, so a search for the word shows which model read a file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from daemon_harness import (
    daemon,
    make_config,
    record,
    scan_png,
    search_paths,
    state_of,
    word_maker,
)
from polling import wait_for

from scandex.config import Config
from scandex.daemon.requests import request_reocr
from scandex.daemon.state import DONE
from scandex.daemon.status import read_status
from scandex.errors import ConfigError

pytestmark = [pytest.mark.timeout(180)]

TESTS = Path(__file__).resolve().parent


def word_model(folder: Path, word: str) -> Path:
    path = folder / f"{word}.model"
    path.write_text(word + "\n", encoding="utf-8")
    return path


def model_id(path: Path) -> str:
    return f"{path.name} sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}"


def hocr_meta(hocr_path: Path) -> dict[str, str]:
    head = hocr_path.read_text(encoding="utf-8")
    return dict(re.findall(r'<meta name="([^"]+)" content="([^"]*)"', head))


def with_model(config: Config, model: Path, **ocr: object) -> Config:
    return replace(config, ocr=replace(config.ocr, model=model, **ocr))


def called(tmp_path: Path) -> list[tuple[str, str]]:
    """(image path, model word) of every file the engine read, in order."""
    try:
        lines = (tmp_path / "calls").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [(line.rsplit(" ", 1)[0], line.rsplit(" ", 1)[1]) for line in lines]


def test_files_read_by_another_model_are_read_again_newest_first_after_new_scans(
    tmp_path: Path,
) -> None:
    alpha, beta = word_model(tmp_path, "alpha"), word_model(tmp_path, "beta")
    config = make_config(tmp_path, model=alpha)
    config = replace(config, watch=replace(config.watch, settle_seconds=0.0))
    scans = config.watch.paths[0]
    old = [scans / f"old-{i}.png" for i in range(4)]
    for i, path in enumerate(old):
        path.write_bytes(scan_png(40 + i))
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))  # old-3 is the newest
    with daemon(config, word_maker(str(tmp_path / "calls")), maker=True):
        for path in old:
            wait_for(lambda p=path: state_of(config, p) == DONE, f"{path.name}")

    # Each file and its hOCR name the engine and the model file (by its content's hash).
    assert record(config, old[0]).model == model_id(alpha)  # type: ignore[union-attr]
    meta = hocr_meta(old[0].with_suffix(".hocr"))
    assert meta["scandex-model"] == model_id(alpha)
    assert meta["ocr-system"].startswith("scandex ")

    # An upgrade: another model is configured. status says how many files it has to read.
    config = with_model(config, beta)
    report = read_status(config)["model"]
    assert report["configured"] == model_id(beta)
    assert (report["read_by_other_models"], report["reocr"]) == (4, "auto")
    new = scans / "new.png"
    new.write_bytes(scan_png(50))
    (tmp_path / "calls").unlink()
    everything = {str(p) for p in (*old, new)}
    ever_missing: set[str] = set()

    def all_read_by_beta() -> bool:
        # Old text stays searchable until the new text replaces it: at every moment each
        # old file is found by one word or the other.
        by_alpha, by_beta = search_paths(config, "alpha"), search_paths(config, "beta")
        ever_missing.update({str(p) for p in old} - by_alpha - by_beta)
        return by_beta == everything and not by_alpha

    with daemon(config, word_maker(str(tmp_path / "calls"), 0.3), maker=True):
        wait_for(all_read_by_beta, "every file to be read with beta")
        wait_for(
            lambda: read_status(config)["model"]["read_by_other_models"] == 0,
            "status to count no file read by another model",
        )
    assert not ever_missing, f"not searchable while being read again: {ever_missing}"
    # The new scan first; then the old ones, newest first.
    assert called(tmp_path) == [(str(new), "beta")] + [(str(p), "beta") for p in reversed(old)]
    for path in (*old, new):
        done = record(config, path)
        assert done is not None and (done.state, done.model) == (DONE, model_id(beta))
        assert hocr_meta(path.with_suffix(".hocr"))["scandex-model"] == model_id(beta)


def test_a_reload_switches_models_without_stopping_or_dropping_work(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    alpha, beta = word_model(tmp_path, "alpha"), word_model(tmp_path, "beta")
    broken = tmp_path / "broken.model"
    broken.write_text("%% not a model %%\n", encoding="utf-8")
    config = make_config(tmp_path, model=alpha)
    scans = config.watch.paths[0]
    loaded: list[Config | Exception] = [config]

    def load() -> Config:
        if isinstance(loaded[0], Exception):
            raise loaded[0]
        return loaded[0]

    first, in_flight, later = scans / "first.png", scans / "in-flight.png", scans / "later.png"
    engine = word_maker(str(tmp_path / "calls"), slow_seconds=1.5)
    with (
        caplog.at_level(logging.INFO, logger="scandex"),
        daemon(config, engine, maker=True, load=load) as running,
    ):
        first.write_bytes(scan_png(60))
        wait_for(lambda: state_of(config, first) == DONE, "first.png")
        in_flight.write_bytes(scan_png(61))
        wait_for(lambda: (str(in_flight), "alpha") in called(tmp_path), "a file in a worker")

        # SIGHUP with another model: new workers load it while the old one finishes its file.
        loaded[0] = with_model(config, beta)
        running.reload.set()
        wait_for(lambda: "ready with beta.model" in caplog.text, "the new workers")
        wait_for(
            lambda: all(
                (r := record(config, p)) and r.model == model_id(beta) for p in (first, in_flight)
            ),
            "both files to be read with beta",
        )
        assert called(tmp_path).count((str(in_flight), "alpha")) == 1  # finished, not dropped
        assert record(config, in_flight).attempts == 0  # type: ignore[union-attr]

        # A model that cannot be loaded: the daemon says why and keeps the one it has.
        loaded[0] = with_model(config, broken)
        running.reload.set()
        wait_for(lambda: "still using beta.model" in caplog.text, "the failed reload")
        assert "not a word model" in caplog.text
        # A configuration that does not load at all is not applied either.
        loaded[0] = ConfigError("ocr.model", "model file /gone.model does not exist")
        running.reload.set()
        wait_for(lambda: "keeping the configuration in use" in caplog.text, "the refused reload")
        later.write_bytes(scan_png(62))
        wait_for(lambda: state_of(config, later) == DONE, "a file after the failed reloads")
        assert record(config, later).model == model_id(beta)  # type: ignore[union-attr]
    assert "Traceback" not in caplog.text


def test_kill_9_while_reading_again_loses_nothing(tmp_path: Path) -> None:
    alpha, beta = word_model(tmp_path, "alpha"), word_model(tmp_path, "beta")
    config = make_config(tmp_path, model=alpha)
    scans = config.watch.paths[0]
    files = [scans / f"p{i}.png" for i in range(6)]
    with daemon(config, word_maker(str(tmp_path / "calls")), maker=True):
        for i, path in enumerate(files):
            path.write_bytes(scan_png(70 + i))
        for path in files:
            wait_for(lambda p=path: state_of(config, p) == DONE, f"{path.name}")
    everything = {str(p) for p in files}

    # The daemon restarted with beta in its own process, killed (all of it) mid-way.
    process = subprocess.Popen(
        [sys.executable, "-c", "import daemon_harness; daemon_harness.main()"]
        + [str(tmp_path), str(beta), "0.5"],
        cwd=TESTS,
        env={**os.environ, "PYTHONPATH": str(TESTS)},
        start_new_session=True,
    )
    try:
        wait_for(
            lambda: sum(1 for _, word in called(tmp_path) if word == "beta") >= 3,
            "some files to be read again",
            timeout_seconds=90,
        )
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    by_alpha, by_beta = search_paths(config, "alpha"), search_paths(config, "beta")
    assert by_alpha | by_beta == everything and not by_alpha & by_beta
    assert by_beta != everything, "killed too late to test anything"

    config = with_model(config, beta)
    with daemon(config, word_maker(str(tmp_path / "calls")), maker=True):
        wait_for(lambda: search_paths(config, "beta") == everything, "the rest to be read")
        wait_for(
            lambda: all((r := record(config, p)) and r.model == model_id(beta) for p in files),
            "every record to name beta",
        )
    from scandex.indexer import open_index

    index = open_index(config.index_dir, writable=False)
    try:
        assert (index.stats().documents, index.stats().pages) == (6, 6)  # nothing doubled
    finally:
        index.close()
    assert not search_paths(config, "alpha")
    for path in files:
        assert hocr_meta(path.with_suffix(".hocr"))["scandex-model"] == model_id(beta)


def test_manual_mode_reads_again_only_what_scandex_reocr_asks_for(tmp_path: Path) -> None:
    alpha, beta = word_model(tmp_path, "alpha"), word_model(tmp_path, "beta")
    config = make_config(tmp_path, model=alpha, reocr="manual")
    scans = config.watch.paths[0]
    (scans / "one").mkdir()
    (scans / "two").mkdir()
    a, b = scans / "one" / "a.png", scans / "two" / "b.png"
    with daemon(config, word_maker(str(tmp_path / "calls")), maker=True):
        a.write_bytes(scan_png(80))
        b.write_bytes(scan_png(81))
        for path in (a, b):
            wait_for(lambda p=path: state_of(config, p) == DONE, path.name)

    config = with_model(config, beta)
    with daemon(config, word_maker(str(tmp_path / "calls")), maker=True):
        wait_for(
            lambda: read_status(config)["model"]["read_by_other_models"] == 2,
            "status to count both files",
        )
        message = request_reocr(config, str(scans / "one"))
        assert message.startswith(f"queued 1 scan(s) under {scans / 'one'} to be read again")
        wait_for(lambda: search_paths(config, "beta") == {str(a)}, "a.png to be read again")
        assert read_status(config)["model"]["reocr_requests"] == 0
    assert called(tmp_path).count((str(b), "beta")) == 0  # not asked for: left as it was
    assert record(config, b).model == model_id(alpha)  # type: ignore[union-attr]
    assert "nothing to read again" in request_reocr(config, str(scans / "three"))

    with pytest.raises(ConfigError, match='ocr.reocr: is "off"'):
        request_reocr(replace(config, ocr=replace(config.ocr, reocr="off")), None)


def test_the_reocr_command_queues_while_the_daemon_is_down(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from scandex.cli import app
    from scandex.daemon.state import FileRecord, StateStore

    (tmp_path / "scans").mkdir()
    config_path = tmp_path / "config.toml"
    config_path.write_text('state_dir = "state"\n[watch]\npaths = ["scans"]\n', encoding="utf-8")
    store = StateStore(tmp_path / "state" / "state.sqlite3")
    image = str(tmp_path / "scans" / "a.png")
    store.put(FileRecord(image, 1, 1, "h1", DONE, hocr_path=image[:-4] + ".hocr", model="m"))
    store.close()
    result = CliRunner().invoke(app, ["reocr", "--config", str(config_path)])
    assert result.exit_code == 0, result.output
    assert "queued 1 scan(s) to be read again; the daemon reads them when it starts" in (
        result.output
    )
    store = StateStore(tmp_path / "state" / "state.sqlite3", readonly=True)
    try:
        assert [(r.kind, r.prefix) for r in store.requests()] == [("reocr", "")]
    finally:
        store.close()


def test_a_file_the_new_model_cannot_read_keeps_its_text(tmp_path: Path) -> None:
    alpha, beta = word_model(tmp_path, "alpha"), word_model(tmp_path, "beta")
    config = make_config(tmp_path, model=alpha, retries=1, retry_seconds=0.2)
    scans = config.watch.paths[0]
    stubborn, fine = scans / "stubborn.png", scans / "fine.png"
    engine = word_maker(str(tmp_path / "calls"), fails_on="beta")
    with daemon(config, engine, maker=True):
        stubborn.write_bytes(scan_png(90))
        fine.write_bytes(scan_png(91))
        for path in (stubborn, fine):
            wait_for(lambda p=path: state_of(config, p) == DONE, path.name)

    config = with_model(config, beta)
    with daemon(config, engine, maker=True):
        wait_for(lambda: search_paths(config, "beta") == {str(fine)}, "fine.png read again")
        wait_for(
            lambda: read_status(config)["model"]["not_read_again"] == 1,
            "the file beta cannot read to be given up on",
        )
    assert called(tmp_path).count((str(stubborn), "beta")) == 2  # the try and one retry
    assert search_paths(config, "alpha") == {str(stubborn)}  # still found, by its old text
    kept = record(config, stubborn)
    assert kept is not None and (kept.state, kept.model, kept.last_error) == (
        DONE,
        model_id(alpha),
        None,
    )
    report = read_status(config)
    assert report["model"]["read_by_other_models"] == 1 and report["partly_read"] == []


def test_a_models_capitals_companion_is_part_of_its_identity_and_its_snapshot(
    tmp_path: Path,
) -> None:
    """The workers load the daemon's copy of the model: without its companion beside the
    copy, the lines of capitals would be read by the model alone, and a new companion
    would not read the archive again."""
    from scandex.daemon.models import model_ref, prune_snapshots, snapshot

    model = tmp_path / "en.onnx"
    model.write_bytes(b"network")
    alone = snapshot(model, tmp_path / "state")
    assert alone.id == model_id(model)
    companion = tmp_path / "en-capitals.onnx"
    companion.write_bytes(b"capitals network")
    paired = snapshot(model, tmp_path / "state")
    assert paired.sha256 == model_ref(model).sha256 != alone.sha256
    assert paired.path.read_bytes() == b"network"
    copied_companion = paired.path.with_name(f"{paired.sha256}-capitals.onnx")
    assert copied_companion.read_bytes() == b"capitals network"
    companion.write_bytes(b"better capitals network")
    assert model_ref(model).sha256 != paired.sha256
    prune_snapshots(tmp_path / "state", keep={paired.path})
    assert sorted(p.name for p in paired.path.parent.iterdir()) == sorted(
        [paired.path.name, copied_companion.name]
    )
