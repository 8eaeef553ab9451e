"""The searchable PDF, checked by real consumers: poppler's pdftotext finds the words and puts
them on their boxes, qpdf finds nothing wrong, PDFium reads the same text, and the scan is
embedded as it was."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pdfs
import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image
from typer.testing import CliRunner

from scandex.cli import app
from scandex.errors import UsageError
from scandex.ocr import ocr_file
from scandex.page import Page
from scandex.pdf.ocr import ocr_pdf
from scandex.pdf.writer import PRODUCER_KEY, searchable_pdf, written_by_scandex

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]

DPI = 200
needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) not installed"
)
needs_qpdf = pytest.mark.skipif(shutil.which("qpdf") is None, reason="qpdf not installed")


@pytest.fixture(scope="module")
def scan():
    return pdfs.small_scan(4, dpi=DPI)


@pytest.fixture(scope="module")
def jpeg_case(scan, tmp_path_factory):
    """A JPEG scan, its OCR and its searchable PDF."""
    folder = tmp_path_factory.mktemp("jpeg")
    image = folder / "scan.jpg"
    image.write_bytes(pdfs.encode(scan.image, "jpeg", DPI))
    doc = ocr_file(image)
    out = folder / "scan.ocr.pdf"
    out.write_bytes(searchable_pdf(image.read_bytes(), doc.pages))
    return image, doc.pages, out


@pytest.fixture(scope="module")
def pdf_case(scan, tmp_path_factory):
    """A PDF with a sideways scan shown upright by /Rotate 90 and cropped, a G4 page and a
    born-digital page; its OCR and its searchable PDF."""
    folder = tmp_path_factory.mktemp("pdf")
    stored = np.ascontiguousarray(np.rot90(scan.image, 1))
    scans = pdfs.edited(
        pdfs.scans_pdf([pdfs.encode(stored, "jpeg", DPI), pdfs.encode(scan.image, "g4", DPI)]),
        p1={"/Rotate": 90, "/CropBox": [18, 36, 486, 600]},
    )
    data = pdfs.joined(scans, pdfs.born_digital([("Annual accounts of the society", 72, 700, 16)]))
    source = folder / "in.pdf"
    source.write_bytes(data)
    result = ocr_pdf(data, str(source))
    ocred = [p for p, s in zip(result.document.pages, result.sources, strict=True) if s != "text"]
    out = folder / "in.ocr.pdf"
    out.write_bytes(searchable_pdf(data, ocred))
    return source, result, out


def words_of(pages: list[Page]) -> list[str]:
    return [w.text for page in pages for line in page.lines for w in line.words if w.text.strip()]


def pdftotext_words(path: Path) -> list[str]:
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
    return text.stdout.split()


def bbox_layout(path: Path) -> list[list[tuple[str, tuple[float, float, float, float]]]]:
    """pdftotext -bbox-layout: per page, each word and its box in points from the top-left
    corner of the page as shown (the CropBox, turned by /Rotate)."""
    xml = subprocess.run(
        ["pdftotext", "-cropbox", "-bbox-layout", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    xml = re.sub(r"<!DOCTYPE[^>]*>", "", xml)
    root = ET.fromstring(xml)
    out = []
    for page in root.iter("{http://www.w3.org/1999/xhtml}page"):
        words = []
        for word in page.iter("{http://www.w3.org/1999/xhtml}word"):
            box = tuple(float(word.get(k)) for k in ("xMin", "yMin", "xMax", "yMax"))
            words.append((word.text or "", box))
        out.append(words)
    return out


def found_share(recognized: list[str], extracted: list[str]) -> float:
    pool: dict[str, int] = {}
    for word in extracted:
        pool[word] = pool.get(word, 0) + 1
    hits = 0
    for word in recognized:
        if pool.get(word, 0):
            pool[word] -= 1
            hits += 1
    return hits / max(len(recognized), 1)


def assert_words_on_their_boxes(out: Path, pages: list[Page], pdf_page_of: dict[int, int]) -> None:
    """Every word pdftotext reports lies on the OCR box of the word it is (within 1.5 pt
    across, and inside its line's band down the page)."""
    layout = bbox_layout(out)
    for page in pages:
        scale_x = page.size_pt[0] / page.width if page.size_pt else 72 / page.dpi
        scale_y = page.size_pt[1] / page.height if page.size_pt else 72 / page.dpi
        expected = [(w, line) for line in page.lines for w in line.words if w.text.strip()]
        extracted = layout[pdf_page_of[page.number] - 1]
        assert len(extracted) == len(expected)
        for (text, (x0, y0, x1, y1)), (word, line) in zip(
            extracted, sorted(expected, key=lambda pair: 0), strict=True
        ):
            assert text == word.text
            assert abs(x0 - word.bbox.x0 * scale_x) <= 1.5
            assert abs(x1 - word.bbox.x1 * scale_x) <= 1.5
            assert y0 >= line.bbox.y0 * scale_y - 1.5 and y1 <= line.bbox.y1 * scale_y + 1.5
            assert y1 >= word.bbox.y0 * scale_y and y0 <= word.bbox.y1 * scale_y  # overlaps


def images_of(pdf: pikepdf.Pdf) -> list[bytes]:
    """The raw (still encoded) bytes of every image the pages draw."""
    out = []
    for page in pdf.pages:
        for xobject in page.obj.Resources.get("/XObject", {}).values():
            out.append(bytes(xobject.read_raw_bytes()))
    return out


def pdfium_text(path: Path) -> list[str]:
    document = pdfium.PdfDocument(str(path))
    words = []
    for index in range(len(document)):
        page = document[index]
        textpage = page.get_textpage()
        words += textpage.get_text_range().split()
        textpage.close()
        page.close()
    document.close()
    return words


# ---------------------------------------------------------------------------------------------
# From an image


@needs_poppler
def test_pdftotext_finds_the_words_of_an_image_scan_on_their_boxes(jpeg_case) -> None:
    _, pages, out = jpeg_case
    recognized = words_of(pages)
    assert len(recognized) > 100
    assert found_share(recognized, pdftotext_words(out)) >= 0.98
    assert_words_on_their_boxes(out, pages, {1: 1})


def test_pdfium_reads_the_same_text(jpeg_case) -> None:
    _, pages, out = jpeg_case
    assert found_share(words_of(pages), pdfium_text(out)) >= 0.98


@needs_qpdf
def test_qpdf_finds_nothing_wrong(jpeg_case, pdf_case) -> None:
    for out in (jpeg_case[2], pdf_case[2]):
        check = subprocess.run(["qpdf", "--check", str(out)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "No syntax or stream encoding errors" in check.stdout


def test_the_jpeg_is_embedded_byte_for_byte_and_the_size_is_bounded(jpeg_case) -> None:
    image, pages, out = jpeg_case
    with pikepdf.open(out) as pdf:
        (xobject,) = [v for v in pdf.pages[0].obj.Resources.XObject.values()]
        assert xobject.Filter == "/DCTDecode"
        assert xobject.read_raw_bytes() == image.read_bytes()
        assert str(pdf.docinfo[PRODUCER_KEY]) == "scandex"
        width_pt, height_pt = (float(v) for v in pdf.pages[0].mediabox[2:])
        assert (width_pt, height_pt) == (612.0, 504.0)  # 1700 x 1400 px at 200 dpi
    text_bytes = sum(len(w.encode()) for w in words_of(pages))
    assert out.stat().st_size <= image.stat().st_size * 1.1 + text_bytes


def test_images_img2pdf_refuses_are_embedded_losslessly(scan, tmp_path: Path) -> None:
    """An RGBA PNG (img2pdf will not embed an alpha channel) and an image without a stated
    resolution (the page is sized at 300 dpi)."""
    gray = scan.image[:400, :600]
    rgba = np.dstack([gray, gray, gray, np.full_like(gray, 255)])
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG")
    page = Page(number=1, width=600, height=400)
    out = searchable_pdf(buffer.getvalue(), [page])
    document = pdfium.PdfDocument(out)
    assert document[0].get_size() == pytest.approx((144.0, 96.0))
    rendered = document[0].render(scale=300 / 72, grayscale=True).to_numpy()
    rendered = rendered[:, :, 0] if rendered.ndim == 3 else rendered
    assert np.array_equal(rendered, gray)
    document.close()


# ---------------------------------------------------------------------------------------------
# From a PDF


@needs_poppler
def test_a_pdf_gets_its_text_layer_on_its_own_turned_and_cropped_pages(pdf_case) -> None:
    source, result, out = pdf_case
    ocred = [p for p, s in zip(result.document.pages, result.sources, strict=True) if s != "text"]
    assert len(ocred) == 2 and result.sources[2] == "text"
    assert found_share(words_of(ocred), pdftotext_words(out)) >= 0.98
    assert_words_on_their_boxes(out, ocred, {1: 1, 2: 2})
    # The born-digital page is left as it was: its own text, once.
    layout = bbox_layout(out)
    assert " ".join(text for text, _ in layout[2]) == "Annual accounts of the society"


def test_the_original_pages_are_kept_as_they_were(pdf_case) -> None:
    source, result, out = pdf_case
    before, after = pdfium.PdfDocument(str(source)), pdfium.PdfDocument(str(out))
    assert len(before) == len(after) == 3
    for index in range(3):
        old = before[index].render(scale=0.5, grayscale=True).to_numpy()
        new = after[index].render(scale=0.5, grayscale=True).to_numpy()
        assert np.array_equal(old, new)  # the text layer paints nothing
    before.close()
    after.close()
    with pikepdf.open(source) as old, pikepdf.open(out) as new:
        assert images_of(old) == images_of(new) and len(images_of(old)) == 2
    text_bytes = sum(len(w.encode()) for w in words_of(list(result.document.pages)))
    assert out.stat().st_size <= source.stat().st_size * 1.1 + text_bytes


def test_inherited_and_shared_resources_still_reach_the_original_content(pdf_case) -> None:
    source, result, _ = pdf_case
    with pikepdf.open(source) as pdf:
        # Move page 1's resources to the page tree, shared by every page.
        pdf.Root.Pages.Resources = pdf.pages[0].obj.Resources
        del pdf.pages[0].obj["/Resources"]
        buffer = io.BytesIO()
        pdf.save(buffer)
    data = buffer.getvalue()
    out = searchable_pdf(data, [result.document.pages[0]])
    before, after = pdfium.PdfDocument(data), pdfium.PdfDocument(out)
    old = before[0].render(scale=0.5, grayscale=True).to_numpy()
    new = after[0].render(scale=0.5, grayscale=True).to_numpy()
    assert np.array_equal(old, new) and old.min() < 100  # the scan is still drawn
    assert len(after[0].get_textpage().get_text_range().split()) > 50
    before.close()
    after.close()


# ---------------------------------------------------------------------------------------------
# The CLI


def test_scandex_ocr_writes_a_searchable_pdf(pdf_case, tmp_path: Path) -> None:
    source, result, _ = pdf_case
    out = tmp_path / "out.pdf"
    run = CliRunner().invoke(app, ["ocr", "--pdf", str(out), str(source)])
    assert run.exit_code == 0, run.output
    assert found_share(words_of(list(result.document.pages)), pdfium_text(out)) >= 0.98
    refused = CliRunner().invoke(app, ["ocr", "--pdf", str(source), str(source)])
    assert isinstance(refused.exception, UsageError)
    assert "that is the scan itself" in str(refused.exception)
    two = CliRunner().invoke(app, ["ocr", "--pdf", str(out), str(source), str(source)])
    assert isinstance(two.exception, UsageError) and "give one scan" in str(two.exception)


@needs_poppler
def test_a_searchable_pdf_read_again_gets_one_text_layer_not_two(pdf_case, tmp_path: Path) -> None:
    """An earlier invisible OCR layer (ours here; a scanner's in life) is replaced."""
    _, _, out = pdf_case
    first = pdftotext_words(out)
    data = out.read_bytes()
    again = ocr_pdf(data, str(out))
    assert again.sources == ("image", "image", "text")
    ocred = [p for p, s in zip(again.document.pages, again.sources, strict=True) if s != "text"]
    twice = tmp_path / "twice.pdf"
    twice.write_bytes(searchable_pdf(data, ocred))
    assert len(pdftotext_words(twice)) == pytest.approx(len(first), rel=0.02)
    assert found_share(words_of(ocred), pdftotext_words(twice)) >= 0.98


def test_pdfa_structure_for_an_image_scan(jpeg_case, tmp_path: Path) -> None:
    """What PDF/A-2b asks of the file, checked piece by piece (no validator is installed):
    the XMP claim in step with the document information, an sRGB output intent with a
    readable ICC profile, an unfiltered metadata stream, every font embedded, a file ID,
    no encryption."""
    from PIL import ImageCms

    image, _, _ = jpeg_case
    out = tmp_path / "archival.pdf"
    run = CliRunner().invoke(app, ["ocr", "--pdf", str(out), "--pdfa", str(image)])
    assert run.exit_code == 0, run.output
    with pikepdf.open(out) as pdf:
        meta = pdf.open_metadata()
        assert meta.pdfa_status == "2B"
        assert meta["xmp:CreatorTool"] == str(pdf.docinfo["/Creator"])
        assert "/Filter" not in pdf.Root.Metadata
        (intent,) = pdf.Root.OutputIntents
        assert intent.S == "/GTS_PDFA1" and intent.DestOutputProfile.N == 3
        profile = ImageCms.ImageCmsProfile(io.BytesIO(intent.DestOutputProfile.read_bytes()))
        assert "sRGB" in ImageCms.getProfileDescription(profile)
        assert not pdf.is_encrypted and len(pdf.trailer.ID) == 2
        for page in pdf.pages:
            for font in page.obj.Resources.Font.values():
                descriptor = font.DescendantFonts[0].FontDescriptor
                assert "/FontFile2" in descriptor
    assert len(pdfium_text(out)) > 100


@needs_poppler
@pytest.mark.parametrize("orientation", [3, 6, 2])
def test_exif_turned_and_mirrored_photos_get_their_words_on_their_boxes(
    scan, orientation: int, tmp_path: Path
) -> None:
    """A turned JPEG keeps its bytes (the page gets /Rotate); a mirrored one, which a PDF page
    cannot show, is embedded losslessly as the OCR saw it."""
    stored = {3: np.rot90(scan.image, 2), 6: np.rot90(scan.image, 1), 2: scan.image[:, ::-1]}
    exif = Image.Exif()
    exif[274] = orientation
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(stored[orientation])).save(
        buffer, "JPEG", exif=exif.tobytes(), dpi=(DPI, DPI)
    )
    image = tmp_path / "photo.jpg"
    image.write_bytes(buffer.getvalue())
    doc = ocr_file(image)
    assert (doc.pages[0].width, doc.pages[0].height) == (1700, 1400)
    out = tmp_path / "photo.pdf"
    out.write_bytes(searchable_pdf(image.read_bytes(), doc.pages))
    assert_words_on_their_boxes(out, list(doc.pages), {1: 1})
    with pikepdf.open(out) as pdf:
        (xobject,) = pdf.pages[0].obj.Resources.XObject.values()
        embedded_as_is = xobject.read_raw_bytes() == image.read_bytes()
    assert embedded_as_is == (orientation != 2)


def test_scandex_ocr_write_follows_output_pdf(pdf_case, tmp_path: Path) -> None:
    """--write writes what the daemon would: the hOCR and, with [output] pdf, the searchable
    PDF beside it, never over a PDF scandex did not write."""
    source, _, _ = pdf_case
    scans = tmp_path / "scans"
    scans.mkdir()
    scan = scans / "in.pdf"
    scan.write_bytes(source.read_bytes())
    config = tmp_path / "config.toml"
    config.write_text('[watch]\npaths = ["scans"]\n[output]\npdf = true\n', encoding="utf-8")
    run = CliRunner().invoke(app, ["ocr", "--write", "--config", str(config), str(scan)])
    assert run.exit_code == 0, run.output
    assert (scans / "in.hocr").exists()
    assert written_by_scandex(scans / "in.ocr.pdf")
    foreign = scans / "in.ocr.pdf"
    foreign.write_bytes(source.read_bytes())  # someone else's file of that name
    run = CliRunner().invoke(app, ["ocr", "--write", "--config", str(config), str(scan)])
    assert run.exit_code == 1 and "was not written by scandex" in run.output
    assert foreign.read_bytes() == source.read_bytes()
