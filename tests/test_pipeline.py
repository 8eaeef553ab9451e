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


# How a box of an upright width x height page lies in the page turned by cv2.rotate.
_TURNED_BOXES = {
    cv2.ROTATE_180: lambda b, w, h: BBox(w - b.x1, h - b.y1, w - b.x0, h - b.y0),
    cv2.ROTATE_90_CLOCKWISE: lambda b, w, h: BBox(h - b.y1, b.x0, h - b.y0, b.x1),
    cv2.ROTATE_90_COUNTERCLOCKWISE: lambda b, w, h: BBox(b.y0, w - b.x1, b.y1, w - b.x0),
}


@pytest.mark.parametrize(
    ("turn", "text_angle"),
    [(cv2.ROTATE_180, 180), (cv2.ROTATE_90_CLOCKWISE, 270), (cv2.ROTATE_90_COUNTERCLOCKWISE, 90)],
)
def test_a_page_scanned_turned_is_read_turned_back_with_its_boxes_on_the_scan(turn, text_angle):
    """A sheet fed the wrong way up, or a page scanned sideways: read as it lies, the page
    is letters the network is unsure of; read turned back it is the page's text, and every
    box still points at the scan as it lies (the upright reading's boxes turned with it)."""
    synth = render_page("one_column", dpi=300, angle_deg=0.8, seed=6)
    upright = ocr_image(synth.image)
    height, width = synth.image.shape
    page = ocr_image(cv2.rotate(synth.image, turn))
    assert page.text_angle == text_angle and upright.text_angle == 0
    assert page.angle_deg == pytest.approx(text_angle + upright.angle_deg, abs=0.1)
    assert character_error_rate([(upright.text, page.text)]) < 0.01
    assert len(page.lines) == len(upright.lines)
    turned = _TURNED_BOXES[turn]
    same_words = 0
    for line, upright_line in zip(page.lines, upright.lines, strict=True):
        assert line.bbox.iou(turned(upright_line.bbox, width, height)) > 0.8
        if [w.text for w in line.words] == [w.text for w in upright_line.words]:
            same_words += 1
            for word, upright_word in zip(line.words, upright_line.words, strict=True):
                assert word.bbox.iou(turned(upright_word.bbox, width, height)) > 0.5
    assert same_words >= 0.8 * len(page.lines)
    hocr = to_hocr(Document("turned.png", (page,)))
    assert hocr.count(f"textangle {text_angle}") == len(page.lines) and "baseline" not in hocr
    assert read_hocr(hocr).pages[0].text == page.text


def test_a_negative_is_read_as_its_positive_with_the_same_boxes(letter):
    """A negative (a microfilm print: white letters on black paper) read as nothing; read
    inverted it is the page, and its boxes are the positive's."""
    synth, positive = letter
    page = ocr_image(255 - synth.image)
    assert page.text == positive.text
    assert [line.bbox for line in page.lines] == [line.bbox for line in positive.lines]


def test_a_page_that_reads_nothing_or_unsure_may_lie_turned():
    """Sideways, a typewritten page's letters stand in columns and six of the 22 real pages
    gave no line at all: reading nothing is as much a sign as reading unsure letters."""
    from scandex.ocr.pipeline import may_lie_turned
    from scandex.ocr.recognize import LineResult

    sure = [LineResult("The Secretary, Council for German Jewry, Woburn House", 0.99)]
    assert not may_lie_turned(sure)
    assert may_lie_turned([LineResult("Tpe Seoretarv, Couucil tor Germau Jewrv, Wobnrn", 0.8)])
    assert may_lie_turned([]) and may_lie_turned([LineResult("3", 0.99)])


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
