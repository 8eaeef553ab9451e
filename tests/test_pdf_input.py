"""PDF input: pages as the scans inside them (placement, CropBox, /Rotate), born-digital text
indexed without OCR, and every kind of bad PDF reported by file and page."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pdfs
import pikepdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
import pytest
from PIL import Image
from typer.testing import CliRunner

from scandex.cli import app
from scandex.errors import ScanError
from scandex.ocr.hocr import read_hocr, to_hocr
from scandex.ocr.io import load_pages
from scandex.pdf.frame import PageFrame, apply
from scandex.pdf.ocr import ocr_pdf
from scandex.pdf.reader import PageFailure, PdfParams, read_pdf

pytestmark = pytest.mark.timeout(240)

DPI = 200


@pytest.fixture(scope="module")
def scan():
    return pdfs.small_scan(3, dpi=DPI)


def decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"))


def pages(data: bytes, **params) -> list:
    return list(read_pdf(data, "test.pdf", PdfParams(**params)))


# ---------------------------------------------------------------------------------------------
# Geometry


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_the_frame_maps_pixels_as_pdfium_shows_the_page(rotate: int) -> None:
    data = pdfs.edited(
        pdfs.born_digital([("x", 100, 100, 12)], (300, 400)),
        p1={"/CropBox": [20, 30, 260, 380], "/Rotate": rotate},
    )
    frame = PageFrame.of([0, 0, 300, 400], [20, 30, 260, 380], rotate)
    width, height = frame.pixels(150)
    to_px = frame.to_pixels(width, height)
    document = pdfium.PdfDocument(data)
    page = document[0]
    for x, y in [(20, 30), (260, 30), (20, 380), (100, 200)]:
        dx, dy = pdfium_raw.c_int(), pdfium_raw.c_int()
        pdfium_raw.FPDF_PageToDevice(
            page.raw, 0, 0, width, height, 0, x, y, pdfium_raw.byref(dx), pdfium_raw.byref(dy)
        )
        ours = apply(to_px, x, y)
        assert abs(ours[0] - dx.value) <= 1 and abs(ours[1] - dy.value) <= 1
    assert frame.size_pt == ((350.0, 240.0) if rotate in (90, 270) else (240.0, 350.0))
    page.close()
    document.close()


# ---------------------------------------------------------------------------------------------
# Scanned pages: the image inside, at its own resolution


def test_img2pdf_pages_give_their_images_unchanged(scan) -> None:
    jpeg = pdfs.encode(scan.image, "jpeg", DPI)
    g4 = pdfs.encode(scan.image, "g4", DPI)
    png = pdfs.encode(scan.image, "png", DPI)
    result = pages(pdfs.scans_pdf([jpeg, g4, png]))
    assert [p.number for p in result] == [1, 2, 3]
    assert all(p.source == "image" and p.dpi == DPI for p in result)
    assert all(p.size_pt == (612.0, 504.0) for p in result)
    assert np.array_equal(result[0].gray, decoded(jpeg))
    assert np.array_equal(result[1].gray, decoded(g4))
    assert np.array_equal(result[2].gray, scan.image)


@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_a_turned_page_is_read_as_it_is_shown(scan, rotate: int) -> None:
    stored = np.ascontiguousarray(np.rot90(scan.image, rotate // 90))  # counter-clockwise
    data = pdfs.edited(pdfs.scans_pdf([pdfs.encode(stored, "png", DPI)]), p1={"/Rotate": rotate})
    (page,) = pages(data)
    assert page.source == "image"
    assert np.array_equal(page.gray, scan.image)


def test_an_image_turned_by_its_matrix_is_read_upright(scan) -> None:
    stored = np.ascontiguousarray(np.rot90(scan.image, 1))
    width_pt, height_pt = 612, 504
    data = pdfs.drawn_with(
        pdfs.scans_pdf([pdfs.encode(stored, "png", DPI)]),
        [0, -height_pt, width_pt, 0, 0, height_pt],
        [0, 0, width_pt, height_pt],
    )
    (page,) = pages(data)
    assert page.source == "image"
    assert np.array_equal(page.gray, scan.image)


def test_the_cropbox_crops_the_extracted_scan(scan) -> None:
    data = pdfs.edited(
        pdfs.scans_pdf([pdfs.encode(scan.image, "png", DPI)]),
        p1={"/CropBox": [36, 72, 540, 468]},  # points from the bottom-left corner
    )
    (page,) = pages(data)
    assert page.source == "image"
    assert page.size_pt == (504.0, 396.0)
    to_px = DPI / 72
    top, left = round((504 - 468) * to_px), round(36 * to_px)
    expected = scan.image[top : top + round(396 * to_px), left : left + round(504 * to_px)]
    assert np.array_equal(page.gray, expected)


def test_extracted_pages_match_what_pdfium_renders(scan) -> None:
    """The extraction (ours) and PDFium (a real viewer) agree on turned, cropped pages."""
    stored = np.ascontiguousarray(np.rot90(scan.image, 3))
    data = pdfs.edited(
        pdfs.scans_pdf([pdfs.encode(stored, "png", DPI)]),
        p1={"/Rotate": 270, "/CropBox": [72, 36, 468, 576]},
    )
    (page,) = pages(data)
    document = pdfium.PdfDocument(data)
    rendered = document[0].render(scale=DPI / 72, grayscale=True).to_numpy()
    rendered = rendered[:, :, 0] if rendered.ndim == 3 else rendered
    assert page.gray.shape == rendered.shape
    assert np.mean(np.abs(page.gray.astype(int) - rendered.astype(int))) < 2.0
    document.close()


def test_a_scan_that_does_not_fill_the_page_is_rendered(scan) -> None:
    data = pdfs.drawn_with(
        pdfs.scans_pdf([pdfs.encode(scan.image, "png", DPI)]),
        [306, 0, 0, 252, 0, 0],
        [0, 0, 612, 504],
    )
    (page,) = pages(data, dpi=100)
    assert page.source == "render" and page.dpi == 100
    assert page.gray.shape == (700, 850)


def test_a_page_with_a_visible_stamp_on_the_scan_is_rendered_and_ocred(scan) -> None:
    data = pdfs.with_text_over(
        pdfs.scans_pdf([pdfs.encode(scan.image, "png", DPI)]), "RECEIVED", 400, 30, 14, 0
    )
    (page,) = pages(data)
    assert page.source == "render" and page.text is None  # not the stamp alone as its text


def test_an_earlier_invisible_ocr_layer_does_not_stop_ocr(scan) -> None:
    data = pdfs.with_text_over(
        pdfs.scans_pdf([pdfs.encode(scan.image, "png", DPI)]), "old ocr", 72, 400, 12, 3
    )
    (page,) = pages(data)
    assert page.source == "image"
    assert np.array_equal(page.gray, scan.image)


def test_load_pages_reads_a_pdf_like_a_multi_page_tiff(scan, tmp_path: Path) -> None:
    path = tmp_path / "two.pdf"
    path.write_bytes(pdfs.scans_pdf([pdfs.encode(scan.image, "png", DPI)] * 2))
    loaded = load_pages(path)
    assert [p.number for p in loaded] == [1, 2]
    assert all(p.dpi == DPI and np.array_equal(p.gray, scan.image) for p in loaded)


# ---------------------------------------------------------------------------------------------
# Born-digital pages


BORN = [
    ("Quarterly report of the harbour board", 72, 700, 18),
    ("Tonnage rose by 12%", 72, 660, 12),
]


def test_born_digital_text_is_indexed_with_its_boxes_without_ocr() -> None:
    (page,) = pages(pdfs.born_digital(BORN))
    assert page.source == "text" and page.gray is None
    text = page.text
    assert [line.text for line in text.lines] == [t for t, *_ in BORN]
    assert (text.width, text.height) == (2550, 3300)  # the page at 300 dpi
    first = text.lines[0].words[0]
    assert first.text == "Quarterly"
    # Drawn at x = 72 pt, baseline y = 700 pt from the bottom: (300, 383) at 300 dpi.
    assert abs(first.bbox.x0 - 300) <= 6
    assert abs(first.bbox.y1 - (792 - 700) * 300 / 72) <= 20
    assert first.bbox.height == pytest.approx(18 * 300 / 72, rel=0.35)


def test_pdf_text_modes_choose_between_text_and_ocr() -> None:
    data = pdfs.born_digital(BORN)
    assert pages(data, text="ocr")[0].source == "render"
    assert pages(data, text="text")[0].source == "text"
    blank = pdfs.born_digital([])
    assert pages(blank, text="auto")[0].source == "render"
    only_text = pages(blank, text="text")[0]
    assert only_text.source == "text" and only_text.text.lines == ()


# ---------------------------------------------------------------------------------------------
# Bad PDFs


def test_bad_pdfs_are_reported_with_the_reason(scan) -> None:
    good = pdfs.scans_pdf([pdfs.encode(scan.image, "jpeg", DPI)])
    cases = {
        "encrypted": (pdfs.encrypted(good), "skipped: the PDF is encrypted"),
        "truncated": (pdfs.truncated(good), "truncated PDF"),
        "damaged": (b"%PDF-1.7\n" + b"\x00garbage" * 100 + b"\n%%EOF\n", "damaged PDF"),
        "empty": (b"", "empty file"),
    }
    for name, (data, reason) in cases.items():
        with pytest.raises(ScanError) as caught:
            pages(data)
        assert reason in caught.value.reason, name


def test_a_page_bomb_is_refused_and_a_bad_page_does_not_stop_the_others(scan) -> None:
    good = pdfs.encode(scan.image, "png", DPI)
    with pytest.raises(ScanError, match="too many pages: 3, over the limit of 2"):
        pages(pdfs.scans_pdf([good] * 3), max_pages=2)
    huge = pdfs.edited(pdfs.scans_pdf([good] * 3), p2={"/MediaBox": [0, 0, 14400, 14400]})
    result = pages(huge)
    assert isinstance(result[1], PageFailure) and result[1].number == 2
    assert "too many pixels" in result[1].reason and "ocr.max_pixels" in result[1].reason
    assert [p.source for p in (result[0], result[2])] == ["image", "image"]


def test_an_owner_password_alone_does_not_stop_reading(scan) -> None:
    data = pdfs.scans_pdf([pdfs.encode(scan.image, "png", DPI)])
    with pikepdf.open(io.BytesIO(data)) as pdf:
        out = io.BytesIO()
        pdf.save(out, encryption=pikepdf.Encryption(user="", owner="owner"))
    (page,) = pages(out.getvalue())
    assert np.array_equal(page.gray, scan.image)


# ---------------------------------------------------------------------------------------------
# Through the OCR and the CLI


@pytest.fixture(scope="module")
def turned_pdf(scan) -> bytes:
    """Page 1: a scan stored sideways with /Rotate 90; page 2 cannot be read; page 3 is
    born-digital."""
    stored = np.ascontiguousarray(np.rot90(scan.image, 1))
    scans = pdfs.edited(
        pdfs.scans_pdf([pdfs.encode(stored, "jpeg", DPI)] * 2),
        p1={"/Rotate": 90},
        p2={"/MediaBox": [0, 0, 14400, 14400]},
    )
    return pdfs.joined(scans, pdfs.born_digital(BORN))


@pytest.mark.slow
def test_ocr_pdf_finds_the_words_where_they_were_drawn(scan, turned_pdf: bytes) -> None:
    result = ocr_pdf(turned_pdf, "turned.pdf")
    assert [p.number for p in result.document.pages] == [1, 3]
    assert result.sources == ("image", "text")
    assert [f.number for f in result.failures] == [2]
    assert result.failure_summary.startswith("page 2: too many pixels")
    first = result.document.pages[0]
    assert (first.width, first.height, first.dpi, first.size_pt) == (
        1700,
        1400,
        DPI,
        (612.0, 504.0),
    )
    truth = scan.lines[0]
    found = first.lines[0]
    assert found.bbox.iou(truth.bbox) > 0.8  # in the pixels of the page as shown
    assert truth.text.split()[0] in found.text
    assert result.document.pages[1].lines[0].text == BORN[0][0]
    # hOCR keeps the page's size in points and its resolution, and reads them back.
    again = read_hocr(to_hocr(result.document))
    assert [p.size_pt for p in again.pages] == [(612.0, 504.0), (612.0, 792.0)]
    assert again.pages[0].dpi == DPI


@pytest.mark.slow
def test_scandex_ocr_reads_pdfs_and_names_the_failed_page(
    turned_pdf: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "turned.pdf"
    path.write_bytes(turned_pdf)
    result = CliRunner().invoke(app, ["ocr", "--format", "jsonl", str(path)])
    assert result.exit_code == 1
    record = json.loads(result.stdout.strip().splitlines()[0])
    assert [p["page"] for p in record["pages"]] == [1, 3]
    assert f"{path}: page 2: too many pixels" in result.stderr
    encrypted = tmp_path / "locked.pdf"
    encrypted.write_bytes(pdfs.encrypted(turned_pdf))
    result = CliRunner().invoke(app, ["ocr", str(encrypted)])
    assert result.exit_code == 1
    assert "locked.pdf: skipped: the PDF is encrypted" in result.stderr


def test_load_pages_names_a_pdf_that_is_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "cut.pdf"
    path.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
    with pytest.raises(ScanError, match=r"cut\.pdf: truncated PDF"):
        load_pages(path)


def _saved(image: Image.Image, kind: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("kind", "make", "source"),
    [
        ("rgb jpeg", lambda g: _saved(Image.fromarray(g).convert("RGB"), "JPEG"), "image"),
        ("cmyk jpeg", lambda g: _saved(Image.fromarray(g).convert("CMYK"), "JPEG"), "render"),
        ("palette png", lambda g: _saved(Image.fromarray(g).convert("P"), "PNG"), "image"),
        ("bilevel png", lambda g: _saved(Image.fromarray(g).convert("1"), "PNG"), "image"),
        (
            "16-bit png",
            lambda g: _saved(Image.fromarray(g.astype(np.uint16) * 257), "PNG"),
            "render",
        ),
        ("lzw tiff", lambda g: _saved(Image.fromarray(g), "TIFF", compression="tiff_lzw"), "image"),
        ("jpeg 2000", lambda g: _saved(Image.fromarray(g), "JPEG2000"), "render"),
    ],
)
def test_every_kind_of_embedded_scan_reads_as_pdfium_shows_it(kind: str, make, source: str) -> None:
    """Extracted or rendered at the image's own resolution, the page is what a viewer shows."""
    gray = pdfs.small_scan(2, dpi=100).image
    data = pdfs.scans_pdf([make(gray)])
    (page,) = pages(data)
    assert page.source == source, kind
    document = pdfium.PdfDocument(data)
    rendered = document[0].render(scale=page.dpi / 72, grayscale=True).to_numpy()
    rendered = rendered[:, :, 0] if rendered.ndim == 3 else rendered
    document.close()
    assert page.gray.shape == rendered.shape == gray.shape
    assert np.mean(np.abs(page.gray.astype(int) - rendered.astype(int))) < 1.0, kind
