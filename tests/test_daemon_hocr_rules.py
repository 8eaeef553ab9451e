"""The hOCR ownership rules, shared by the daemon and `scandex ocr --write`: the configured
name beside the scan, `{name}.hocr` for a second scan of one stem, and never writing over
(or deleting) hOCR that scandex did not write."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import pytest
from synth import render_page
from typer.testing import CliRunner

from scandex.daemon.hocr_files import HocrPlaces, plan_hocr_writes
from scandex.ocr.hocr import write_hocr
from scandex.page import Document, Page

pytestmark = [pytest.mark.timeout(300)]

TESSERACT_HOCR = '<html><head><meta name="ocr-system" content="tesseract 5.3.0"/></head></html>\n'


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
    assert plan[3] == f"{tmp_path / 'c.hocr'} exists and was not written by scandex (kept as it is)"
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
    assert result.exit_code == 1  # t.png was not written
    assert (scans / "a.ocr.html").is_file() and (scans / "a.jpg.hocr").is_file()
    assert (scans / "t.ocr.html").read_text(encoding="utf-8") == TESSERACT_HOCR
    assert "t.png: not written: " in result.output and "not written by scandex" in result.output
    head = (scans / "a.ocr.html").read_text(encoding="utf-8")
    assert re.search(r'<meta name="scandex-model" content="en\.onnx sha256:[0-9a-f]{64}"', head)
