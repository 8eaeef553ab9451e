"""The hOCR ownership rules, shared by the daemon and `scandex ocr --write`: the configured
name beside the scan, `{name}.hocr` for a second scan of one stem, and never writing over
(or deleting) hOCR that scandex did not write: scandex's goes to state_dir/hocr instead, as
it does for a folder scandex may not write to."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import pytest
from daemon_harness import (
    PageSizeEngine,
    daemon,
    make_config,
    read_only,
    record,
    scan_png,
    state_of,
)
from polling import wait_for
from synth import render_page
from typer.testing import CliRunner

from scandex.daemon.hocr_files import HocrPlaces, plan_hocr_writes
from scandex.daemon.state import DONE
from scandex.ocr.hocr import read_hocr_file, write_hocr
from scandex.page import Document, Page

pytestmark = [pytest.mark.timeout(300)]

TESSERACT_HOCR = (
    '<html><head><meta name="ocr-system" content="tesseract 5.3.0"/></head><body>'
    "<div class='ocr_page' id='page_1' title='image \"t.png\"; bbox 0 0 10 10; ppageno 0'>"
    "</div></body></html>\n"
)


def test_a_second_scan_of_a_stem_gets_its_own_name_and_foreign_hocr_is_kept(
    tmp_path: Path,
) -> None:
    places = HocrPlaces("{stem}.hocr", tmp_path / "state" / "hocr")
    a_png, a_jpg, b_png, c_png = (tmp_path / n for n in ("a.png", "a.jpg", "b.png", "c.png"))
    # b.hocr already describes another image (an earlier run for b.tif); c.hocr is tesseract's.
    write_hocr(Document(str(tmp_path / "b.tif"), (Page(1, 10, 10),)), tmp_path / "b.hocr")
    (tmp_path / "c.hocr").write_text(TESSERACT_HOCR, encoding="utf-8")
    plan = plan_hocr_writes([a_png, a_jpg, b_png, c_png, a_png], places, 10**6)
    assert plan[:3] == [tmp_path / "a.hocr", tmp_path / "a.jpg.hocr", tmp_path / "b.png.hocr"]
    assert plan[3] == tmp_path / "c.hocr"  # meant for there; written to state_dir/hocr
    assert plan[4] == tmp_path / "a.hocr"  # the same image again: its own file
    # Rerunning on the image an hOCR file describes writes over it.
    write_hocr(Document(str(a_png), (Page(1, 10, 10),)), tmp_path / "a.hocr")
    assert plan_hocr_writes([a_png], places, 10**6) == [tmp_path / "a.hocr"]


def test_ocr_write_follows_the_daemons_rules(tmp_path: Path) -> None:
    from scandex.cli import app

    ok, data = cv2.imencode(".png", render_page("one_column", dpi=60, seed=1).image)
    assert ok
    scans = tmp_path / "scans"
    scans.mkdir()
    for name in ("a.png", "a.jpg", "t.png"):  # a.jpg is a PNG inside: content decides
        (scans / name).write_bytes(data.tobytes())
    (scans / "t.ocr.html").write_text(TESSERACT_HOCR, encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        '[watch]\npaths = ["scans"]\n[ocr]\nhocr_name = "{stem}.ocr.html"\n', encoding="utf-8"
    )
    images = [str(scans / n) for n in ("a.png", "a.jpg", "t.png")]
    result = CliRunner().invoke(app, ["ocr", "--write", "--config", str(config), *images])
    assert result.exit_code == 0, result.output
    assert (scans / "a.ocr.html").is_file() and (scans / "a.jpg.hocr").is_file()
    head = (scans / "a.ocr.html").read_text(encoding="utf-8")
    assert re.search(r'<meta name="scandex-model" content="en\.onnx sha256:[0-9a-f]{64}"', head)
    # tesseract's t.ocr.html is kept; scandex's goes where the daemon puts it, and says so.
    assert (scans / "t.ocr.html").read_text(encoding="utf-8") == TESSERACT_HOCR
    fallback = tmp_path / ".scandex" / "hocr" / scans.relative_to("/")
    assert read_hocr_file(fallback / "t.ocr.html").path == str(scans / "t.png")
    assert (
        f"scandex: {scans / 't.png'}: {scans / 't.ocr.html'} exists and was not written by "
        f"scandex (kept as it is); hOCR written to {fallback / 't.ocr.html'} instead\n"
    ) in result.output
    # A folder scandex may not write to: the same, each scan under its own name.
    for hocr in (scans / "a.ocr.html", scans / "a.jpg.hocr"):
        hocr.unlink()
    with read_only(scans):
        result = CliRunner().invoke(app, ["ocr", "--write", "--config", str(config), *images[:2]])
    assert result.exit_code == 0, result.output
    assert "is not writable" in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in scans.iterdir()) == ["a.jpg", "a.png", "t.ocr.html", "t.png"]
    for name, image in (("a.ocr.html", "a.png"), ("a.jpg.hocr", "a.jpg")):
        assert read_hocr_file(fallback / name).path == str(scans / image)
    # The index rebuilt from them is the daemon's: reindex takes them as its own.
    rebuilt = CliRunner().invoke(app, ["reindex", "--config", str(config)])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "ignoring" in rebuilt.output and "t.ocr.html: not written by scandex" in rebuilt.output
    assert "indexed 3 scans" in rebuilt.output, rebuilt.output


def test_a_read_only_folder_keeps_one_hocr_per_scan_of_a_stem(tmp_path: Path) -> None:
    """The daemon's fallback in state_dir/hocr keeps the name the hOCR would have had beside
    the scan, so two scans of one stem do not write over each other's there."""
    config = make_config(tmp_path)
    scans = config.watch.paths[0]
    for name, seed in (("a.png", 1), ("a.jpg", 2)):
        (scans / name).write_bytes(scan_png(seed))
    with read_only(scans), daemon(config, PageSizeEngine(str(tmp_path / "calls"))):
        for name in ("a.png", "a.jpg"):
            wait_for(lambda n=name: state_of(config, scans / n) == DONE, name)
    fallback = config.fallback_hocr_dir / scans.relative_to("/")
    hocr = {name: record(config, scans / name).hocr_path for name in ("a.png", "a.jpg")}  # type: ignore[union-attr]
    # Whichever was read first has a.hocr, the other its {name}.hocr.
    assert len(set(hocr.values())) == 2 and str(fallback / "a.hocr") in hocr.values()
    for name, path in hocr.items():
        assert Path(path).parent == fallback
        assert read_hocr_file(Path(path)).path == str(scans / name)
