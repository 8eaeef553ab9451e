"""The complete engine end to end: rendered pages with known text -> page model, CLI, hOCR."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from synth import render_page

from scandex.ocr import ocr_file, ocr_image
from scandex.ocr.hocr import read_hocr, to_hocr
from scandex.page import BBox, Document
from scandex.training.train import character_error_rate

# The shipped model's page-level character error rate on clean rendered 300 dpi pages.
MAX_PAGE_CER = 0.02


def _truth_text(page) -> str:
    return "\n".join(line.text for line in page.lines)


@pytest.fixture(scope="module")
def letter():
    synth = render_page("letter", dpi=300, seed=4)
    return synth, ocr_image(synth.image)


def test_letter_text_is_read_in_order_with_low_error(letter):
    synth, page = letter
    cer = character_error_rate([(_truth_text(synth), page.text)])
    assert cer < MAX_PAGE_CER, page.text
    assert len(page.lines) == len(synth.lines)


def test_line_word_and_char_boxes_lie_inside_the_page_and_on_ink(letter):
    synth, page = letter
    ink = synth.image < 128
    for line in page.lines:
        assert 0 <= line.bbox.x0 < line.bbox.x1 <= page.width
        assert 0 <= line.bbox.y0 < line.bbox.y1 <= page.height
        assert max(line.bbox.iou(t.bbox) for t in synth.lines) >= 0.7
        for word in line.words:
            box = word.bbox
            # Words sit inside their line (allowing a pixel of rounding) and cover ink.
            assert line.bbox.x0 - 2 <= box.x0 < box.x1 <= line.bbox.x1 + 2
            assert line.bbox.y0 - 2 <= box.y0 < box.y1 <= line.bbox.y1 + 2
            assert ink[box.y0 : box.y1, box.x0 : box.x1].mean() > 0.05
            assert 0.0 <= word.confidence <= 1.0
            assert word.confidence == pytest.approx(min(c.confidence for c in word.chars))
            assert "".join(c.text for c in word.chars) == word.text
        assert " ".join(w.text for w in line.words) == line.text


def test_word_boxes_follow_reading_order_within_a_line(letter):
    _, page = letter
    for line in page.lines:
        lefts = [w.bbox.x0 for w in line.words]
        assert lefts == sorted(lefts)


def test_two_columns_become_blocks_in_column_order():
    synth = render_page("two_column", dpi=300, seed=2)
    page = ocr_image(synth.image)
    assert len(page.blocks) >= 2
    left, right = page.blocks[0].bbox, page.blocks[1].bbox
    assert left.x1 <= right.x0
    cer = character_error_rate([(_truth_text(synth), page.text)])
    assert cer < MAX_PAGE_CER


def test_a_skewed_page_keeps_boxes_in_original_coordinates():
    synth = render_page("one_column", dpi=300, angle_deg=3.0, seed=5)
    page = ocr_image(synth.image)
    assert page.angle_deg == pytest.approx(3.0, abs=0.3)
    for line in page.lines:
        assert max(line.bbox.iou(t.bbox) for t in synth.lines) >= 0.7


def _turned_over(box: BBox, width: int, height: int) -> BBox:
    """A box of an image turned a half turn, in the upright image's pixels."""
    return BBox(width - box.x1, height - box.y1, width - box.x0, height - box.y0)


def test_a_page_scanned_upside_down_is_read_turned_over_with_its_boxes_on_the_scan():
    """A sheet fed the wrong way up: read as it lies, the page is letters the network is
    unsure of; read turned over it is the page's text, and every box still points at the
    scan as it lies (the upright reading's boxes turned with the image)."""
    synth = render_page("one_column", dpi=300, angle_deg=0.8, seed=6)
    upright = ocr_image(synth.image)
    height, width = synth.image.shape
    page = ocr_image(cv2.rotate(synth.image, cv2.ROTATE_180))
    assert page.turned_over and not upright.turned_over
    assert page.angle_deg == pytest.approx(180.0 + upright.angle_deg, abs=0.1)
    assert character_error_rate([(upright.text, page.text)]) < 0.01
    assert len(page.lines) == len(upright.lines)
    same_words = 0
    for line, upright_line in zip(page.lines, upright.lines, strict=True):
        assert _turned_over(line.bbox, width, height).iou(upright_line.bbox) > 0.8
        if [w.text for w in line.words] == [w.text for w in upright_line.words]:
            same_words += 1
            for word, upright_word in zip(line.words, upright_line.words, strict=True):
                assert _turned_over(word.bbox, width, height).iou(upright_word.bbox) > 0.5
    assert same_words >= 0.8 * len(page.lines)
    hocr = to_hocr(Document("upside-down.png", (page,)))
    assert hocr.count("textangle 180") == len(page.lines) and "baseline" not in hocr
    assert read_hocr(hocr).pages[0].text == page.text


def test_an_upright_page_is_analysed_once(letter, monkeypatch):
    """Turning a page over costs a second analysis; a page that reads sure as it lies
    never pays it."""
    import scandex.ocr.analyze as analyze

    synth, page = letter
    calls = []
    real = analyze.analyze_page
    monkeypatch.setattr(analyze, "analyze_page", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert ocr_image(synth.image).text == page.text
    assert len(calls) == 1


def test_blank_page_has_no_lines():
    page = ocr_image(np.full((1100, 850), 250, np.uint8))
    assert page.lines == ()


def test_multi_page_tiff_becomes_one_document_with_numbered_pages(tmp_path):
    first = render_page("one_column", dpi=150, seed=1).image
    second = render_page("letter", dpi=150, seed=2).image
    path = tmp_path / "two.tif"
    assert cv2.imwritemulti(str(path), [first, second])
    doc = ocr_file(path)
    assert [p.number for p in doc.pages] == [1, 2]
    assert all(p.lines for p in doc.pages)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scandex", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_cli_jsonl_schema_and_exit_status_with_good_and_bad_files(tmp_path):
    good = tmp_path / "good.png"
    cv2.imwrite(str(good), render_page("letter", dpi=150, seed=3).image)
    bad = tmp_path / "bad.png"
    bad.write_text("this is not an image")
    result = _cli("ocr", "--format", "jsonl", str(good), str(bad), cwd=tmp_path)
    assert result.returncode == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 1
    record = records[0]
    assert set(record) == {"path", "seconds", "pages"}
    page = record["pages"][0]
    assert {"page", "width", "height", "angle", "lines"} <= set(page)
    line = page["lines"][0]
    assert {"bbox", "text", "confidence", "words"} <= set(line)
    assert len(line["bbox"]) == 4 and {"bbox", "text", "confidence"} <= set(line["words"][0])
    # The bad file is named, once, on one line of stderr, without a traceback.
    errors = [e for e in result.stderr.splitlines() if "bad.png" in e]
    assert len(errors) == 1 and "Traceback" not in result.stderr


def test_cli_write_produces_hocr_that_reads_back(tmp_path):
    image = tmp_path / "scan.png"
    synth = render_page("one_column", dpi=150, seed=6)
    cv2.imwrite(str(image), synth.image)
    result = _cli("ocr", "--write", str(image), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    hocr = tmp_path / "scan.hocr"
    doc = read_hocr(hocr.read_text(encoding="utf-8"), hocr)
    assert len(doc.pages) == 1 and doc.pages[0].lines
    text = _cli("ocr", str(image), cwd=tmp_path).stdout.strip()
    assert text == doc.pages[0].text


def test_transcript_keeps_its_stops_markers_and_line_numbers():
    """Each numbered transcript line is one line, its full stops and Q./A. markers read."""
    synth = render_page("transcript", dpi=300, seed=8)
    page = ocr_image(synth.image)
    assert len(page.lines) == len(synth.lines)
    truth = _truth_text(synth)
    assert page.text.count(".") >= 0.95 * truth.count(".")
    for want, got in zip(synth.lines, page.lines, strict=True):
        assert got.text.split()[0] == want.text.split()[0]  # the line number comes first


def test_a_band_beside_a_photo_is_read_and_the_photo_is_in_the_hocr():
    from scandex.ocr.hocr import to_hocr
    from scandex.page import Document

    synth = render_page("photo_band", dpi=300, seed=3)
    page = ocr_image(synth.image)
    cer = character_error_rate([(_truth_text(synth), page.text)])
    assert cer < MAX_PAGE_CER, page.text
    assert [r.kind for r in page.regions] == ["photo"]
    hocr = to_hocr(Document("band.png", (page,)))
    assert hocr.count('class="ocr_photo"') == 1
    assert read_hocr(hocr).pages[0].regions == page.regions


def test_white_text_on_a_dark_banner_is_read():
    synth = render_page("shaded", dpi=300, seed=1)
    page = ocr_image(synth.image)
    assert "STATEMENT" in page.lines[0].text
