"""hOCR: structure against the 1.2 spec, escaping, write-read round trip (Hypothesis), atomic
writes, parse errors, the JSON form, and real consumers (hocr-tools, OCRmyPDF's hocrtransform)
reading what we write."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scandex
from scandex.ocr.hocr import (
    HocrError,
    parse_title,
    read_hocr,
    read_hocr_file,
    to_hocr,
    write_hocr,
)
from scandex.ocr.jsonout import document_to_dict
from scandex.page import BBox, Block, Char, Document, Line, Page, Region, Word

NS = "{http://www.w3.org/1999/xhtml}"


def make_word(text: str, x0: int, y0: int, y1: int, *, char_px: int = 20, conf: float = 0.9):
    chars = tuple(
        Char(c, BBox(x0 + i * char_px, y0, x0 + (i + 1) * char_px, y1), conf - 0.01 * i)
        for i, c in enumerate(text)
    )
    return Word(text, BBox(x0, y0, x0 + len(text) * char_px, y1), conf, chars)


def make_line(texts: list[str], x0: int, y0: int, *, height: int = 40) -> Line:
    words, x = [], x0
    for text in texts:
        words.append(make_word(text, x, y0, y0 + height))
        x = words[-1].bbox.x1 + 20
    box = BBox.union_all(w.bbox for w in words)
    return Line(box, " ".join(texts), 0.87, tuple(words), baseline=(0.0015, -8.0))


def sample_document(path: str = "/scans/letter.png") -> Document:
    """A two-column page (a heading block and a column) and a second, blank page."""
    heading = make_line(["Dear", "Mr", "Smith,"], 100, 100)
    column = (make_line(["Thank", "you"], 100, 200), make_line(["for", "the", "café"], 100, 260))
    page1 = Page(
        number=1,
        width=1700,
        height=2200,
        angle_deg=0.7,
        dpi=300.0,
        blocks=(
            Block(heading.bbox, (heading,)),
            Block(BBox.union_all(line.bbox for line in column), column),
        ),
        regions=(
            Region("photo", BBox(900, 200, 1500, 700)),
            Region("separator", BBox(100, 330, 1500, 334)),
        ),
    )
    page2 = Page(number=2, width=1700, height=2200)
    return Document(path, (page1, page2))


def by_class(root: ET.Element, cls: str) -> list[ET.Element]:
    return [e for e in root.iter() if e.get("class") == cls]


# --- structure --------------------------------------------------------------------------------


def test_structure_follows_hocr_1_2():
    text = to_hocr(sample_document(), hocr_dir="/scans")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html')
    root = ET.fromstring(text)
    assert root.tag == f"{NS}html"
    metas = {m.get("name"): m.get("content") for m in root.iter(f"{NS}meta") if m.get("name")}
    assert metas["ocr-system"] == f"scandex {scandex.__version__}"
    capabilities = set(metas["ocr-capabilities"].split())
    assert {"ocr_page", "ocr_carea", "ocr_par", "ocr_line", "ocrx_word"} <= capabilities
    assert metas["ocr-number-of-pages"] == "2"

    pages = by_class(root, "ocr_page")
    assert [p.tag for p in pages] == [f"{NS}div"] * 2
    assert pages[0].get("title") == (
        'image "letter.png"; bbox 0 0 1700 2200; ppageno 0; scan_res 300 300; x_skew 0.7'
    )
    assert pages[1].get("title") == 'image "letter.png"; bbox 0 0 1700 2200; ppageno 1; x_skew 0'

    # Nesting: page > carea > par > line > word, and nothing else holds lines or words.
    areas = by_class(pages[0], "ocr_carea")
    assert [a.get("title") for a in areas] == ["bbox 100 100 380 140", "bbox 100 200 340 300"]
    for area in areas:
        [par] = list(area)
        assert par.tag == f"{NS}p" and par.get("class") == "ocr_par"
        assert all(line.get("class") == "ocr_line" for line in par)
        for line in par:
            assert all(word.get("class") == "ocrx_word" for word in line)
    lines = by_class(root, "ocr_line")
    assert [line.get("title") for line in lines] == [
        "bbox 100 100 380 140; baseline 0.0015 -8; x_wconf 87",
        "bbox 100 200 280 240; baseline 0.0015 -8; x_wconf 87",
        "bbox 100 260 340 300; baseline 0.0015 -8; x_wconf 87",
    ]
    # Document order is reading order; the line's text content is the line's text.
    assert ["".join(line.itertext()) for line in lines] == [
        "Dear Mr Smith,",
        "Thank you",
        "for the café",
    ]
    word = by_class(root, "ocrx_word")[0]
    props = parse_title(word.get("title"))
    assert props["bbox"] == "100 100 180 140"
    assert props["x_wconf"] == "90"
    assert props["x_confs"] == "90 89 88 87"
    assert props["x_bboxes"] == "100 100 120 140 120 100 140 140 140 100 160 140 160 100 180 140"
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids))


@pytest.mark.skipif(shutil.which("xmllint") is None, reason="xmllint not installed")
def test_valid_xhtml_against_the_dtd(tmp_path: Path):
    """Validated by libxml2 against the XHTML 1.0 Transitional DTD (from the local catalog)."""
    evil = Word('<script>"&"</script>', BBox(0, 0, 10, 10), 0.5)
    line = Line(BBox(0, 0, 10, 10), evil.text, 0.5, (evil,))
    odd = Document("/s/x.png", (Page(1, 10, 10, blocks=(Block(line.bbox, (line,)),)),))
    for number, doc in enumerate([sample_document(), odd, Document("/s/empty.png", ())]):
        path = tmp_path / f"{number}.hocr"
        path.write_text(to_hocr(doc), encoding="utf-8")
        result = subprocess.run(["xmllint", "--noout", "--valid", "--nonet", str(path)],
                                capture_output=True, text=True, timeout=60)  # fmt: skip
        if "failed to load" in result.stderr:
            pytest.skip("the XHTML DTD is not installed (apt-get install w3c-sgml-lib)")
        assert result.returncode == 0, result.stderr


def test_image_name_relative_to_the_hocr_folder():
    def image_in(text: str) -> str:
        return parse_title(by_class(ET.fromstring(text), "ocr_page")[0].get("title"))["image"]

    doc = sample_document("/data/scans/2024/a b.png")
    assert image_in(to_hocr(doc, hocr_dir="/data/scans/2024")) == '"a b.png"'
    assert image_in(to_hocr(doc, hocr_dir="/data/scans")) == '"2024/a b.png"'
    assert image_in(to_hocr(doc, hocr_dir="/var/lib/scandex/hocr")) == '"/data/scans/2024/a b.png"'
    assert image_in(to_hocr(doc)) == '"/data/scans/2024/a b.png"'
    # Read back next to where it was written, the name resolves to the image again.
    text = to_hocr(doc, hocr_dir="/data/scans")
    assert read_hocr(text, "/data/scans/a b.hocr").path == "/data/scans/2024/a b.png"
    assert read_hocr(to_hocr(doc, hocr_dir="/x"), "/x/y.hocr").path == doc.path


def test_awkward_image_names_survive():
    for name in ['/s/semi;colon.png', '/s/"quoted".png', "/s/100%.png", "/s/Müller.png",
                 "/s/bad-\udcff-byte.png"]:  # fmt: skip
        text = to_hocr(sample_document(name))
        title = by_class(ET.fromstring(text), "ocr_page")[0].get("title")
        assert title.count(";") == 4  # only the property separators
        assert read_hocr(text).path == name


class _TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)


def test_recognized_markup_comes_out_inert():
    evil = '<script>alert("x")&</script>'
    line = Line(BBox(0, 0, 400, 30), f"a {evil} b", 0.5,
                (make_word("a", 0, 0, 30), Word(evil, BBox(30, 0, 380, 30), 0.5),
                 make_word("b", 380, 0, 30)))  # fmt: skip
    page = Page(1, 400, 30, blocks=(Block(line.bbox, (line,)),))
    doc = Document('/scans/<img src=x onerror="alert(1)">.png', (page,))
    text = to_hocr(doc)
    assert "<script" not in text and "&lt;script&gt;" in text and "&amp;" in text
    assert "<img" not in text
    collector = _TagCollector()
    collector.feed(text)  # how a browser's tokenizer sees it
    assert "script" not in collector.tags and "img" not in collector.tags
    root = ET.fromstring(text)
    assert "".join(by_class(root, "ocrx_word")[1].itertext()) == evil
    assert read_hocr(text) == doc


def test_multi_page_is_one_file_with_one_ocr_page_each():
    pages = tuple(replace(sample_document().pages[0], number=n) for n in (1, 2, 3))
    doc = Document("/scans/fax.tif", pages)
    text = to_hocr(doc)
    titles = [parse_title(p.get("title")) for p in by_class(ET.fromstring(text), "ocr_page")]
    assert [t["ppageno"] for t in titles] == ["0", "1", "2"]
    assert [p.number for p in read_hocr(text).pages] == [1, 2, 3]


def test_sample_round_trip_is_exact():
    doc = sample_document()
    assert read_hocr(to_hocr(doc)) == doc


def test_characters_that_are_not_single_codepoints_use_cinfo_spans():
    chars = (Char("e\u0301", BBox(0, 0, 10, 20), 0.8), Char("t", BBox(10, 0, 20, 20), 0.9))
    word = Word("e\u0301t", BBox(0, 0, 20, 20), 0.85, chars)
    line = Line(word.bbox, word.text, 0.85, (word,))
    doc = Document("x.png", (Page(1, 50, 50, blocks=(Block(line.bbox, (line,)),)),))
    text = to_hocr(doc)
    cinfos = by_class(ET.fromstring(text), "ocrx_cinfo")
    assert [c.get("title") for c in cinfos] == ["x_bboxes 0 0 10 20; x_conf 80",
                                                "x_bboxes 10 0 20 20; x_conf 90"]  # fmt: skip
    assert read_hocr(text) == doc


# --- round trip, by property ------------------------------------------------------------------

# Word text: no whitespace (words are cut at spaces), nothing XML cannot carry.
_letters = st.one_of(
    st.sampled_from("<>&\"'‘’“”éèçñßÆœ…€ﬁ;%"),
    st.characters(exclude_categories=("Cs", "Cc", "Cn", "Co", "Zs", "Zl", "Zp")),
)
_word_text = st.text(_letters, min_size=1, max_size=6)
_conf = st.floats(0.0, 1.0)
_coord = st.integers(0, 5000)


@st.composite
def boxes(draw) -> BBox:
    x0, y0 = draw(_coord), draw(_coord)
    return BBox(x0, y0, x0 + draw(st.integers(0, 800)), y0 + draw(st.integers(0, 200)))


@st.composite
def words(draw) -> Word:
    text = draw(_word_text)
    kind = draw(st.sampled_from(["none", "codepoints", "clusters"]))
    if kind == "none":
        chars = ()
    elif kind == "codepoints":
        chars = tuple(Char(c, draw(boxes()), draw(_conf)) for c in text)
    else:  # split into clusters of 1..3 codepoints
        cuts = sorted(draw(st.sets(st.integers(1, max(1, len(text) - 1)), max_size=3)))
        pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        chars = tuple(Char(p, draw(boxes()), draw(_conf)) for p in pieces if p)
    return Word(text, draw(boxes()), draw(_conf), chars)


@st.composite
def lines(draw) -> Line:
    line_words = tuple(draw(st.lists(words(), max_size=4)))
    if line_words:
        gaps = [draw(st.sampled_from([" ", "  ", " - "])) for _ in line_words[1:]]
        text = line_words[0].text + "".join(g + w.text for g, w in zip(gaps, line_words[1:],
                                                                       strict=True))  # fmt: skip
    else:
        text = draw(st.text(_letters | st.just(" "), max_size=10))
    baseline = draw(st.none() | st.tuples(st.floats(-0.2, 0.2), st.floats(-60, 60)))
    return Line(draw(boxes()), text, draw(_conf), line_words, baseline)


@st.composite
def documents(draw) -> Document:
    pages = []
    for number in range(1, draw(st.integers(1, 3)) + 1):
        blocks = tuple(
            Block(draw(boxes()), tuple(draw(st.lists(lines(), max_size=3))))
            for _ in range(draw(st.integers(0, 3)))
        )
        pages.append(
            Page(
                number=number,
                width=draw(st.integers(1, 10000)),
                height=draw(st.integers(1, 10000)),
                angle_deg=draw(st.floats(-10, 10)),
                dpi=draw(st.none() | st.floats(50, 1200)),
                blocks=blocks,
            )
        )
    path = "/scans/" + draw(st.text(_letters | st.just(" "), min_size=1, max_size=12)) + ".tif"
    return Document(path, tuple(pages))


def as_written(doc: Document) -> Document:
    """The document at the precision hOCR carries (see the table in scandex/ocr/hocr.py)."""

    def percent(value: float) -> float:
        return round(value * 100) / 100

    def char(c: Char) -> Char:
        return replace(c, confidence=round(c.confidence * 100, 2) / 100, alternatives=())

    def word(w: Word) -> Word:
        return replace(w, confidence=percent(w.confidence), chars=tuple(map(char, w.chars)))

    def line(x: Line) -> Line:
        baseline = x.baseline and (round(x.baseline[0], 4), float(round(x.baseline[1])))
        return replace(x, confidence=percent(x.confidence), words=tuple(map(word, x.words)),
                       baseline=baseline)  # fmt: skip

    def page(p: Page) -> Page:
        blocks = tuple(replace(b, lines=tuple(map(line, b.lines))) for b in p.blocks)
        dpi = None if p.dpi is None else float(round(p.dpi))
        return replace(p, angle_deg=round(p.angle_deg, 3), dpi=dpi, blocks=blocks)

    return replace(doc, pages=tuple(map(page, doc.pages)))


def assert_documents_equal(got: Document, want: Document) -> None:
    """Equal, with floats compared to a hair (the written decimals parse back a hair away)."""
    assert got.path == want.path
    assert len(got.pages) == len(want.pages)
    for page_got, page_want in zip(got.pages, want.pages, strict=True):
        assert _flat(page_got) == pytest.approx(_flat(page_want), abs=1e-9)


def _flat(page: Page) -> list:
    """Every field of a page as one flat list (numbers compare with approx, text exactly)."""
    out: list = [page.number, page.width, page.height, page.angle_deg, page.dpi or -1.0]
    for block in page.blocks:
        out += ["block", *block.bbox.as_list()]
        for line in block.lines:
            out += ["line", *line.bbox.as_list(), line.text, line.confidence]
            out += list(line.baseline or ("no baseline",))
            for word in line.words:
                out += ["word", *word.bbox.as_list(), word.text, word.confidence]
                for char in word.chars:
                    out += ["char", char.text, *char.bbox.as_list(), char.confidence]
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_round_trip_by_property(doc: Document):
    text = to_hocr(doc)
    ET.fromstring(text)  # well-formed whatever the text
    back = read_hocr(text)
    assert_documents_equal(back, as_written(doc))
    assert to_hocr(back) == text  # what was read writes the very same file


# --- atomic writes ----------------------------------------------------------------------------


def test_write_hocr_replaces_atomically_and_leaves_no_temp_files(tmp_path: Path):
    target = tmp_path / "letter.hocr"
    target.write_text("old contents")
    doc = sample_document(str(tmp_path / "letter.png"))
    write_hocr(doc, target)
    assert os.listdir(tmp_path) == ["letter.hocr"]
    assert read_hocr_file(target) == doc
    page_title = by_class(ET.parse(target).getroot(), "ocr_page")[0].get("title")
    assert page_title.startswith('image "letter.png";')  # named relative to the hOCR's folder
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600
    write_hocr(replace(doc, pages=doc.pages[:1]), target)  # second write replaces the first
    assert len(read_hocr_file(target).pages) == 1
    assert os.listdir(tmp_path) == ["letter.hocr"]


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    target = tmp_path / "letter.hocr"
    target.write_text("old contents")

    def disk_full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_hocr(sample_document(), target)
    assert target.read_text() == "old contents"
    assert os.listdir(tmp_path) == ["letter.hocr"]


# --- reading bad files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("<html><body><div class='ocr_page' title='bbox 0 0 1 1'>", "not well-formed XML"),
        ("<html><body><p>hello</p></body></html>", "no ocr_page element"),
        (
            "<html><div class='ocr_page' title='image \"a\"'/></html>",
            "page 1: ocr_page has no bbox",
        ),
        ("<html><div class='ocr_page' title='bbox 0 0 x 9'/></html>", "page 1:"),
        (
            "<html><div class='ocr_page' title='bbox 0 0 9 9'><div class='ocr_carea'>"
            "<span class='ocr_line' title='bbox 1 2 3'/></div></div></html>",
            "bbox needs 4 numbers",
        ),
        (
            '<!DOCTYPE x [<!ENTITY a "aaaa">]><html><div class="ocr_page">&a;</div></html>',
            "entity declarations are not allowed",
        ),
    ],
)
def test_malformed_hocr_gives_a_clear_error(text: str, reason: str):
    with pytest.raises(HocrError) as caught:
        read_hocr(text, "/scans/bad.hocr")
    assert str(caught.value).startswith("/scans/bad.hocr: ")
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_damaged_hocr_reads_or_fails_cleanly(data: st.DataObject):
    """Cut, spliced or scribbled-on files give a Document or an HocrError, nothing else."""
    text = to_hocr(sample_document())
    titles = [m.end() for m in re.finditer('title="', text)]
    # Half the time anywhere, half the time inside a title, where the numbers are.
    start = data.draw(
        st.integers(0, len(text)) | st.tuples(st.sampled_from(titles), st.integers(0, 60)).map(sum)
    )
    end = data.draw(st.integers(start, min(len(text), start + 40)))
    insert = data.draw(st.sampled_from(["", "x", "-1", "nan", "inf", "1e999", ";", '"', "<", ">"]))
    damaged = text[:start] + insert + text[end:]
    try:
        read_hocr(damaged, "/scans/damaged.hocr")
    except HocrError as error:
        assert str(error).startswith("/scans/damaged.hocr: ")


def test_reading_a_missing_file(tmp_path: Path):
    with pytest.raises(HocrError, match="file not found"):
        read_hocr_file(tmp_path / "none.hocr")


def test_reads_tesseract_style_hocr():
    """A foreign file in the usual shape: single quotes, HTML lang, Tesseract's properties."""
    text = """<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en"><head><title></title>
<meta name='ocr-system' content='tesseract 5.3.0' /></head><body>
  <div class='ocr_page' id='page_1' title='image "scan.png"; bbox 0 0 640 480; ppageno 0; scan_res 70 70'>
   <div class='ocr_carea' id='block_1_1' title="bbox 36 92 580 180">
    <p class='ocr_par' id='par_1_1' lang='eng' title="bbox 36 92 580 180">
     <span class='ocr_line' id='line_1_1' title="bbox 36 92 580 122; baseline 0 -6; x_size 30; x_descenders 6; x_ascenders 7">
      <span class='ocrx_word' id='word_1_1' title='bbox 36 92 96 116; x_wconf 91'>Hello</span>
      <span class='ocrx_word' id='word_1_2' title='bbox 109 92 225 116; x_wconf 96'>world</span>
     </span>
    </p>
   </div>
  </div>
</body></html>"""  # noqa: E501
    doc = read_hocr(text, "/scans/scan.hocr")
    assert doc.path == "/scans/scan.png"
    [page] = doc.pages
    assert (page.number, page.width, page.height, page.dpi) == (1, 640, 480, 70.0)
    [line] = page.lines
    assert [w.text for w in line.words] == ["Hello", "world"]
    assert line.words[1].confidence == 0.96 and line.baseline == (0.0, -6.0)
    assert line.text.split() == ["Hello", "world"]


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract not installed")
def test_reads_what_tesseract_writes(tmp_path: Path):
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.truetype("DejaVuSans.ttf", 40)
    except OSError:
        pytest.skip("DejaVu Sans not installed")
    image = Image.new("L", (900, 200), 255)
    draw = ImageDraw.Draw(image)
    draw.text((30, 30), "Hello <world> & friends", font=font, fill=0)
    draw.text((30, 110), "Second line here", font=font, fill=0)
    image.save(tmp_path / "page.png", dpi=(300, 300))
    subprocess.run(["tesseract", "page.png", "page", "--psm", "3", "hocr"], cwd=tmp_path,
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    doc = read_hocr_file(tmp_path / "page.hocr")
    assert doc.path == str(tmp_path / "page.png")
    [page] = doc.pages
    assert (page.number, page.width, page.height, page.dpi) == (1, 900, 200, 300.0)
    assert len(page.lines) == 2
    for line in page.lines:
        assert line.text == " ".join(w.text for w in line.words)  # not Tesseract's indentation
        for word in line.words:
            assert (
                0 <= word.bbox.x0 < word.bbox.x1 <= 900 and 0 <= word.bbox.y0 < word.bbox.y1 <= 200
            )
            assert 0 < word.confidence <= 1
    assert page.lines[1].text == "Second line here"
    assert "<world>" in page.lines[0].text and "&" in page.lines[0].text
    assert read_hocr(to_hocr(doc)) == doc  # and we write it back faithfully


# --- JSON -------------------------------------------------------------------------------------


def test_json_form_has_the_documented_schema():
    doc = sample_document()
    data = json.loads(json.dumps(document_to_dict(doc, seconds=1.23456)))
    assert list(data) == ["path", "seconds", "pages"]
    assert data["path"] == "/scans/letter.png" and data["seconds"] == 1.235
    first, second = data["pages"]
    assert list(first) == ["page", "width", "height", "angle", "lines"]
    assert (first["page"], first["width"], first["height"], first["angle"]) == (1, 1700, 2200, 0.7)
    assert second["lines"] == []
    assert [line["text"] for line in first["lines"]] == ["Dear Mr Smith,", "Thank you",
                                                          "for the café"]  # fmt: skip
    line = first["lines"][0]
    assert list(line) == ["bbox", "text", "confidence", "words"]
    assert line["bbox"] == [100, 100, 380, 140] and line["confidence"] == 0.87
    assert line["words"][0] == {"bbox": [100, 100, 180, 140], "text": "Dear", "confidence": 0.9}
    assert "seconds" not in document_to_dict(doc)


# --- real consumers ---------------------------------------------------------------------------


def consumer_page(tmp_path: Path) -> tuple[Document, Path, Path]:
    """A 300 dpi page image with ink where the words are, its hOCR written beside it."""
    image = np.full((700, 1400), 255, np.uint8)
    lines_ = (make_line(["Invoice", "number", "4711"], 100, 100, height=50),
              make_line(["Paid", "in", "full"], 100, 300, height=50),
              make_line(["Thank", "you"], 100, 500, height=50))  # fmt: skip
    for line in lines_:
        for word in line.words:
            b = word.bbox
            image[b.y0 + 10 : b.y1 - 10, b.x0 + 2 : b.x1 - 2] = 0
    path = tmp_path / "invoice.png"
    cv2.imwrite(str(path), image)
    image[100:450, 900:1300] = 90  # a photograph beside the text, a rule under it
    image[600:606, 100:1300] = 0
    regions = (
        Region("photo", BBox(900, 100, 1300, 450)),
        Region("separator", BBox(100, 600, 1300, 606)),
    )
    page = Page(
        1, 1400, 700, dpi=300.0, blocks=(Block(BBox(100, 100, 600, 550), lines_),), regions=regions
    )
    doc = Document(str(path), (page,))
    hocr = tmp_path / "invoice.hocr"
    write_hocr(doc, hocr)
    return doc, path, hocr


def find_tool(name: str) -> str | None:
    beside_python = Path(sys.executable).parent / name
    return str(beside_python) if beside_python.exists() else shutil.which(name)


@pytest.mark.skipif(
    find_tool("hocr-check") is None,
    reason="hocr-tools not installed (pip install hocr-tools); CI installs it",
)
def test_hocr_tools_accept_our_output(tmp_path: Path):
    doc, _image, hocr = consumer_page(tmp_path)
    check = subprocess.run([find_tool("hocr-check"), str(hocr)], capture_output=True, text=True,
                           timeout=60)  # fmt: skip
    report = check.stdout + check.stderr
    assert check.returncode == 0, report
    assert "ok " in report and "not ok" not in report, report
    lines = subprocess.run([find_tool("hocr-lines"), str(hocr)], capture_output=True, text=True,
                           timeout=60, check=True)  # fmt: skip
    assert lines.stdout.splitlines() == [line.text for line in doc.pages[0].lines]
    # A multi-page file: hocr-check's overlap tests compare lines of ALL pages with each other
    # (its XPath starts at the root), so they are switched off (-o); the structure tests stay.
    multi = tmp_path / "multi.hocr"
    first = sample_document().pages[0]
    write_hocr(Document("/scans/fax.tif", (first, replace(first, number=2))), multi)
    check = subprocess.run([find_tool("hocr-check"), "-o", str(multi)], capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    report = check.stdout + check.stderr
    assert report.count("ok ") > 10 and "not ok" not in report, report


@functools.cache
def ocrmypdf_python() -> str | None:
    """A Python that can import OCRmyPDF's hOCR transform and pdfminer (which it depends on)."""
    for candidate in (sys.executable, shutil.which("python3"), "/usr/bin/python3"):
        if candidate and Path(candidate).exists():
            probe = subprocess.run(
                [candidate, "-c", "import ocrmypdf.hocrtransform, pdfminer.high_level"],
                capture_output=True,
                timeout=60,
            )
            if probe.returncode == 0:
                return candidate
    return None


_PDF_CHARS = """
import json, sys
from pdfminer.high_level import extract_pages
from pdfminer.layout import LTChar
def walk(item, out):
    if isinstance(item, LTChar):
        out.append([item.get_text(), item.x0, item.y0, item.x1, item.y1])
    elif hasattr(item, "__iter__"):
        for child in item:
            walk(child, out)
pages = []
for page in extract_pages(sys.argv[1]):
    chars = []
    walk(page, chars)
    pages.append({"width": page.width, "height": page.height, "chars": chars})
print(json.dumps(pages))
"""


@pytest.mark.skipif(
    ocrmypdf_python() is None,
    reason="OCRmyPDF not installed (apt-get install ocrmypdf, or pip install ocrmypdf)",
)
def test_ocrmypdf_puts_the_text_layer_on_our_words(tmp_path: Path):
    doc, image, hocr = consumer_page(tmp_path)
    pdf = tmp_path / "invoice.pdf"
    python = ocrmypdf_python()
    subprocess.run(
        [python, "-m", "ocrmypdf.hocrtransform", "-r", "300", "-i", str(image), str(hocr),
         str(pdf)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    extracted = subprocess.run([python, "-c", _PDF_CHARS, str(pdf)], check=True,
                               capture_output=True, text=True, timeout=120)  # fmt: skip
    [page] = json.loads(extracted.stdout)
    points_per_px = 72 / 300
    assert page["width"] == pytest.approx(1400 * points_per_px, abs=0.5)
    assert page["height"] == pytest.approx(700 * points_per_px, abs=0.5)
    for line in doc.pages[0].lines:
        for word in line.words:
            # The word's box in PDF points, y up from the bottom; 2 pt of slack.
            left, right = word.bbox.x0 * points_per_px - 2, word.bbox.x1 * points_per_px + 2
            top = page["height"] - line.bbox.y0 * points_per_px + 2
            bottom = page["height"] - line.bbox.y1 * points_per_px - 2
            inside = sorted(
                (c for c in page["chars"]
                 if left <= (c[1] + c[3]) / 2 <= right and bottom <= (c[2] + c[4]) / 2 <= top),
                key=lambda c: c[1],
            )  # fmt: skip
            assert "".join(c[0] for c in inside).strip() == word.text
