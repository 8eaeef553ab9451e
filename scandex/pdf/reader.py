"""Reading PDFs: every page as the image to OCR, or as the text it already carries.

pikepdf (qpdf) opens the file and reads each page's structure; pypdfium2 (PDFium) renders and
reads born-digital text. For each page, in order:

- A page that is one scanned image (a single image drawn over the whole visible page, with
  nothing else painted but invisible text, such as an earlier OCR layer) gives that image at
  its own resolution, extracted rather than re-rendered, turned and cropped exactly as the
  page shows it (the image's placement, the CropBox, /Rotate). An image in an encoding or
  colour space we do not decode ourselves (JBIG2, JPEG 2000, masks, /Decode arrays such as
  Adobe's inverted CMYK JPEGs, 16-bit samples, spot colours) is rendered instead, at its own
  resolution, so the pixels are the same grid.
- Any other page is rendered at `PdfParams.dpi` (300 by default).
- With `PdfParams.text` "auto" (the default), a page whose own visible text covers its ink
  is not OCRed: its text and word boxes come from the PDF. "Covers" means that of the page's
  ink (dark pixels in a 50 dpi rendering) at most a tenth lies inside a large image (a
  quarter of the page or more: where a scan could be) and outside every character's box. A
  page without visible text, or a scan with a few words stamped on it, is OCRed. "ocr"
  OCRs every page; "text" never OCRs (a page without text has no lines).

Every page is described in the pixels of the page as shown (see `frame.PageFrame`), so the
boxes of OCRed and of born-digital pages mean the same thing.

Errors: an encrypted file ("skipped: the PDF is encrypted"), a damaged one (qpdf cannot open
it), one cut short (no end-of-file marker: still being written) or with more than
`max_pages` pages raise ScanError for the whole file. A page that cannot be read (over
`max_pixels`, a scanned image that does not decode, a rendering failure) is a PageFailure and
the other pages go on.

PDFium is not thread-safe: every call into it here holds one process-wide lock.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from scandex.errors import ScanError
from scandex.page import BBox, Block, Char, Line, Page, Word
from scandex.pdf.frame import Matrix, PageFrame, box_through, multiply

__all__ = [
    "DEFAULT_MAX_PAGES",
    "PDF_TEXT_MODES",
    "PageFailure",
    "PdfPage",
    "PdfParams",
    "is_pdf",
    "read_pdf",
]

PDF_TEXT_MODES = ("auto", "ocr", "text")
DEFAULT_MAX_PAGES = 2000
# Ink counts as covered by the text layer when no more than this share of it lies in a large
# image outside every character's box (see the module's docstring).
UNCOVERED_INK_SHARE = 0.1
LARGE_IMAGE_SHARE = 0.25  # of the page's area
COVERAGE_DPI = 50.0
# An image whose placement falls short of the page's edge by at most this (points, or share
# of the side) still counts as covering it; the sliver is white paper.
EDGE_TOLERANCE_PT = 2.0
EDGE_TOLERANCE_SHARE = 0.01

# Images decoded by us (Pillow through pikepdf); anything else is rendered by PDFium.
_EXTRACTED_FILTERS = {
    "/DCTDecode",
    "/FlateDecode",
    "/CCITTFaxDecode",
    "/LZWDecode",
    "/RunLengthDecode",
}
_EXTRACTED_SPACES = {"/DeviceGray", "/DeviceRGB", "/DeviceCMYK", "/CalGray", "/CalRGB", "/ICCBased"}
_PAINTING = {"S", "s", "f", "F", "f*", "B", "B*", "b", "b*", "sh"}
_SHOW_TEXT = {"Tj", "TJ", "'", '"'}
_INVISIBLE_MODES = (3, 7)  # text render modes that paint nothing

_PDFIUM_LOCK = threading.RLock()


@dataclass(frozen=True)
class PdfParams:
    text: str = "auto"  # "auto", "ocr" or "text" (see the module's docstring)
    dpi: float = 300.0  # rendering resolution of pages that are not one scanned image
    max_pixels: int = 200_000_000  # a page with more pixels is refused (ocr.max_pixels)
    max_pages: int = DEFAULT_MAX_PAGES  # a file with more pages is refused


@dataclass(frozen=True)
class PdfPage:
    """One page, ready for the OCR (`gray`) or already read (`text`)."""

    number: int  # 1-based
    frame: PageFrame
    width_px: int
    height_px: int
    dpi: float
    source: str  # "image": the scan inside, extracted; "render"; "text": the PDF's own text
    gray: np.ndarray | None = None  # uint8, 255 = paper, the page as shown; None for "text"
    text: Page | None = None  # the page's own text, for "text"

    @property
    def size_pt(self) -> tuple[float, float]:
        return self.frame.size_pt


@dataclass(frozen=True)
class PageFailure:
    number: int  # 1-based
    reason: str


def is_pdf(data: bytes) -> bool:
    return data[:5] == b"%PDF-"


def read_pdf(
    data: bytes, name: str, params: PdfParams = PdfParams()
) -> Iterator[PdfPage | PageFailure]:
    """Each page of the PDF in `data`, in order, one at a time (only one page's pixels are in
    memory at once). Raises ScanError(name, reason) when the file as a whole is unreadable."""
    if params.text not in PDF_TEXT_MODES:
        raise ValueError(f"PdfParams.text must be one of {PDF_TEXT_MODES}, not {params.text!r}")
    source = _open(data, name, params)
    try:
        for number in range(1, source.page_count + 1):
            try:
                page = _read_page(source, number, params)
            except _PageError as problem:
                yield PageFailure(number, str(problem))
                continue
            except Exception as error:  # a damaged page object: the other pages go on
                yield PageFailure(number, f"cannot read the page ({type(error).__name__}: {error})")
                continue
            yield page
    finally:
        source.close()


class _PageError(ValueError):
    """Why one page cannot be read; the other pages go on."""


# ---------------------------------------------------------------------------------------------
# The file


@dataclass
class _Source:
    pike: object  # pikepdf.Pdf
    pdfium: object  # pypdfium2.PdfDocument
    page_count: int

    def close(self) -> None:
        with _PDFIUM_LOCK:
            self.pdfium.close()  # type: ignore[attr-defined]
        self.pike.close()  # type: ignore[attr-defined]


def _open(data: bytes, name: str, params: PdfParams) -> _Source:
    import pikepdf
    import pypdfium2 as pdfium

    if not data:
        raise ScanError(name, "empty file (0 bytes)")
    # The end-of-file marker ends the last (possibly incremental) save; readers accept it
    # within the last KiB. Without it the file is still being written or was cut short, and
    # qpdf would quietly rebuild what it can.
    if b"%%EOF" not in data[-1024:]:
        raise ScanError(name, "truncated PDF (no end-of-file marker: still being written?)")
    try:
        pike = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError:
        raise ScanError(name, "skipped: the PDF is encrypted (it needs a password)") from None
    except pikepdf.PdfError as error:
        raise ScanError(name, f"damaged PDF: qpdf cannot open it ({_first_line(error)})") from None
    try:
        page_count = len(pike.pages)
        if page_count == 0:
            raise ScanError(name, "the PDF has no pages")
        if page_count > params.max_pages:
            raise ScanError(
                name,
                f"too many pages: {page_count}, over the limit of {params.max_pages} "
                "(ocr.max_pdf_pages); raise it in the configuration if the file is genuine",
            )
        with _PDFIUM_LOCK:
            try:
                document = pdfium.PdfDocument(data)
            except pdfium.PdfiumError as error:
                raise ScanError(name, f"damaged PDF: PDFium cannot open it ({error})") from None
    except BaseException:
        pike.close()
        raise
    return _Source(pike, document, page_count)


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


# ---------------------------------------------------------------------------------------------
# One page


def _read_page(source: _Source, number: int, params: PdfParams) -> PdfPage:
    frame, content = _survey(source, number)
    if params.text != "ocr" and (params.text == "text" or content.visible_text):
        with _PDFIUM_LOCK:
            text = _text_page(source, number, frame, params)
        if text is not None:
            return text
    full = content.full_page_image(frame)
    if full is not None:
        image, placement = full
        extracted = _extract(image, placement, frame, params)
        if extracted is not None:
            gray, dpi = extracted
            return PdfPage(number, frame, gray.shape[1], gray.shape[0], dpi, "image", gray)
        return _render(source, number, frame, params, dpi=_native_dpi(image, placement, frame))
    return _render(source, number, frame, params, dpi=params.dpi)


def _survey(source: _Source, number: int) -> tuple[PageFrame, _Content]:
    """The page's frame and what it paints, from its structure alone."""
    import pikepdf

    page = source.pike.pages[number - 1]  # type: ignore[attr-defined]
    frame = PageFrame.of(
        _inherited(page.obj, "/MediaBox") or (0, 0, 612, 792),
        _inherited(page.obj, "/CropBox"),
        int(_inherited(page.obj, "/Rotate") or 0),
    )
    try:
        content = _scan_content(page)
    except (pikepdf.PdfError, ValueError, TypeError, KeyError):
        content = _Content(damaged=True)
    return frame, content


def page_sizes(data: bytes, name: str, params: PdfParams = PdfParams()) -> list[tuple[int, int]]:
    """(width, height) in pixels of each page as `read_pdf` presents it, without decoding or
    rendering anything (the web view sizes its page images by them)."""
    source = _open(data, name, params)
    sizes = []
    try:
        for number in range(1, source.page_count + 1):
            frame, content = _survey(source, number)
            full = content.full_page_image(frame)
            if full is None:
                sizes.append(frame.pixels(params.dpi))
                continue
            image, placed = full
            if not _extractable(image):
                sizes.append(frame.pixels(_native_dpi(image, placed, frame)))
                continue
            width, height = int(image.get("/Width", 1)), int(image.get("/Height", 1))
            a, b, _, _, _, _ = placed
            cols, rows = (width, height) if abs(b) <= 1e-6 * max(abs(a), 1e-12) else (height, width)
            sizes.append(_grid(cols, rows, placed, frame)[:2])
    finally:
        source.close()
    return sizes


def render_color(data: bytes, name: str, number: int, *, max_side_px: int):
    """Page `number` as shown, in colour, its longer side `max_side_px` (a PIL image), for
    people to look at; raises ScanError."""
    import pypdfium2 as pdfium

    source = _open(data, name, PdfParams())
    try:
        if not 1 <= number <= source.page_count:
            raise ScanError(name, f"has {source.page_count} page(s), not a page {number}")
        frame, _ = _survey(source, number)
        scale = max_side_px / max(frame.size_pt)
        with _PDFIUM_LOCK:
            page = source.pdfium[number - 1]  # type: ignore[index]
            try:
                return page.render(scale=scale, may_draw_forms=True).to_pil()
            except pdfium.PdfiumError as error:
                raise ScanError(name, f"cannot render page {number} ({error})") from None
            finally:
                page.close()
    finally:
        source.close()


def _inherited(page, key: str):
    """A page attribute, from the page or the nearest /Pages node above it."""
    node, depth = page, 0
    while node is not None and depth < 64:
        if key in node:
            value = node[key]
            if key == "/Rotate":
                return int(value)
            return [float(v) for v in value]
        node = node.get("/Parent")
        depth += 1
    return None


def _check_pixels(width: int, height: int, params: PdfParams) -> None:
    if width * height > params.max_pixels:
        raise _PageError(
            f"too many pixels: {width}x{height} = {width * height / 1e6:.4g} megapixels, over "
            f"the limit of {params.max_pixels / 1e6:.4g} (ocr.max_pixels, a guard against "
            "decompression bombs); raise it in the configuration if the page is genuine"
        )


# ---------------------------------------------------------------------------------------------
# What a page paints


@dataclass
class _Content:
    images: list = field(default_factory=list)  # (image XObject, CTM) per image drawn
    visible_text: bool = False
    other: bool = False  # paths, shadings, forms, inline images: more than one scan
    damaged: bool = False

    def full_page_image(self, frame: PageFrame):
        """(image, CTM) when the page is one scanned image over all of it, else None."""
        if self.damaged or self.other or self.visible_text or len(self.images) != 1:
            return None
        image, ctm = self.images[0]
        shown_w, shown_h = frame.size_pt
        placed = multiply(ctm, frame.to_pixels(shown_w, shown_h))  # unit square -> shown points
        if not _axis_aligned(placed):
            return None
        x0, y0, x1, y1 = box_through(placed, (0.0, 0.0, 1.0, 1.0))
        tol_x = max(EDGE_TOLERANCE_PT, EDGE_TOLERANCE_SHARE * shown_w)
        tol_y = max(EDGE_TOLERANCE_PT, EDGE_TOLERANCE_SHARE * shown_h)
        if x0 > tol_x or y0 > tol_y or x1 < shown_w - tol_x or y1 < shown_h - tol_y:
            return None
        return image, placed


def _axis_aligned(m: Matrix) -> bool:
    a, b, c, d, _, _ = m
    scale = max(abs(a), abs(b), abs(c), abs(d))
    eps = 1e-6 * scale
    return (abs(b) <= eps and abs(c) <= eps) or (abs(a) <= eps and abs(d) <= eps)


def _scan_content(page) -> _Content:
    """Walk the page's content stream: images drawn (with their CTM), text, anything else."""
    import pikepdf

    content = _Content()
    resources = _resources(page.obj)
    xobjects = resources.get("/XObject", {}) if resources is not None else {}
    ctm: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    render_mode = 0
    stack: list[tuple[Matrix, int]] = []
    for instruction in pikepdf.parse_content_stream(page):
        operands, op = instruction.operands, str(instruction.operator)
        if op == "q":
            stack.append((ctm, render_mode))
        elif op == "Q":
            if stack:
                ctm, render_mode = stack.pop()
        elif op == "cm" and len(operands) == 6:
            m = tuple(float(v) for v in operands)
            ctm = multiply(m, ctm)  # type: ignore[arg-type]
        elif op == "Tr" and operands:
            render_mode = int(operands[0])
        elif op in _SHOW_TEXT:
            if render_mode not in _INVISIBLE_MODES:
                content.visible_text = True
        elif op == "Do" and operands:
            xobject = xobjects.get(str(operands[0])) if xobjects is not None else None
            if xobject is not None and xobject.get("/Subtype") == "/Image":
                if xobject.get("/ImageMask", False):
                    content.other = True  # a stencil: paints with the fill colour
                else:
                    content.images.append((xobject, ctm))
            else:
                content.other = True  # a form: whatever it holds is more than one scan
        elif op in _PAINTING or op == "INLINE IMAGE":
            content.other = True
    return content


def _resources(page):
    node, depth = page, 0
    while node is not None and depth < 64:
        if "/Resources" in node:
            return node["/Resources"]
        node = node.get("/Parent")
        depth += 1
    return None


# ---------------------------------------------------------------------------------------------
# A scanned image, extracted


def _extractable(image) -> bool:
    """Whether we decode this image ourselves (else PDFium renders it)."""
    import pikepdf

    filters = image.get("/Filter")
    if isinstance(filters, pikepdf.Array):
        names = [str(f) for f in filters]
    else:
        names = [] if filters is None else [str(filters)]
    if any(name not in _EXTRACTED_FILTERS for name in names):
        return False
    if "/SMask" in image or "/Mask" in image or "/Decode" in image:
        return False
    if int(image.get("/BitsPerComponent", 8)) not in (1, 2, 4, 8):
        return False  # 16-bit samples: Pillow would clip them to 8 bits wrongly
    space = image.get("/ColorSpace")
    if isinstance(space, pikepdf.Array):
        space = space[0] if len(space) else None
    return space is not None and str(space) in _EXTRACTED_SPACES | {"/Indexed"}


def _extract(image, placed: Matrix, frame: PageFrame, params: PdfParams):
    """(gray page as shown, dpi) from the page's one scan, or None to render it instead."""
    import pikepdf

    width, height = int(image.get("/Width", 0)), int(image.get("/Height", 0))
    if width <= 0 or height <= 0:
        raise _PageError("the scanned image has no size")
    _check_pixels(width, height, params)
    if not _extractable(image):
        return None
    try:
        pil = pikepdf.PdfImage(image).as_pil_image()
        pil.load()
        gray = np.asarray(pil.convert("L"))
    except (pikepdf.PdfError, pikepdf.UnsupportedImageTypeError, NotImplementedError):
        return None  # an encoding Pillow does not read: PDFium renders it
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise _PageError(f"the scanned image does not decode ({type(error).__name__})") from None
    if gray.shape != (height, width):
        raise _PageError(
            f"the scanned image decoded to {gray.shape[1]}x{gray.shape[0]}, not {width}x{height}"
        )
    return _place(gray, placed, frame)


def _place(data: np.ndarray, placed: Matrix, frame: PageFrame) -> tuple[np.ndarray, float]:
    """The image's pixels arranged as the page shows them, cropped or padded with paper to
    the visible page, and their resolution."""
    a, b, c, d, e, f = placed
    # Image data row j, column i is at unit-square (u, v) = ((i + .5)/W, 1 - (j + .5)/H).
    if abs(b) <= 1e-6 * max(abs(a), abs(d)) and abs(c) <= 1e-6 * max(abs(a), abs(d)):
        aligned = data
        if a < 0:
            aligned = aligned[:, ::-1]
        if d > 0:
            aligned = aligned[::-1, :]
    else:  # turned a quarter: data columns run down the page
        aligned = data.T
        if b < 0:
            aligned = aligned[::-1, :]
        if c > 0:
            aligned = aligned[:, ::-1]
    rows, cols = aligned.shape
    width_px, height_px, left, top, dpi = _grid(cols, rows, placed, frame)
    if (left, top, width_px, height_px) == (0, 0, cols, rows):
        page = np.ascontiguousarray(aligned)
    else:
        page = np.full((height_px, width_px), 255, np.uint8)
        src_x0, src_y0 = max(left, 0), max(top, 0)
        src_x1, src_y1 = min(left + width_px, cols), min(top + height_px, rows)
        if src_x1 > src_x0 and src_y1 > src_y0:
            page[src_y0 - top : src_y1 - top, src_x0 - left : src_x1 - left] = aligned[
                src_y0:src_y1, src_x0:src_x1
            ]
    return page, dpi


def _grid(
    cols: int, rows: int, placed: Matrix, frame: PageFrame
) -> tuple[int, int, int, int, float]:
    """For an image of cols x rows pixels (as the page shows them) placed by `placed`: the
    page's size in those pixels, where the page's corner is in the image, and the dpi."""
    x0, y0, x1, y1 = box_through(placed, (0.0, 0.0, 1.0, 1.0))
    scale_x, scale_y = cols / (x1 - x0), rows / (y1 - y0)  # pixels per point
    shown_w, shown_h = frame.size_pt
    width_px, height_px = max(1, round(shown_w * scale_x)), max(1, round(shown_h * scale_y))
    left, top = round(-x0 * scale_x), round(-y0 * scale_y)
    return width_px, height_px, left, top, round(72.0 * (scale_x + scale_y) / 2.0, 1)


def _native_dpi(image, placed: Matrix, frame: PageFrame) -> float:
    """The resolution of the page's one scan, to render it without resampling."""
    width, height = int(image.get("/Width", 1)), int(image.get("/Height", 1))
    x0, y0, x1, y1 = box_through(placed, (0.0, 0.0, 1.0, 1.0))
    a, b, _, _, _, _ = placed
    across, down = (width, height) if abs(b) <= 1e-6 * abs(a or 1) else (height, width)
    return round(72.0 * (across / (x1 - x0) + down / (y1 - y0)) / 2.0, 1)


# ---------------------------------------------------------------------------------------------
# Rendering


def _render(
    source: _Source, number: int, frame: PageFrame, params: PdfParams, *, dpi: float
) -> PdfPage:
    import pypdfium2 as pdfium

    width, height = frame.pixels(dpi)
    _check_pixels(width, height, params)
    with _PDFIUM_LOCK:
        try:
            page = source.pdfium[number - 1]  # type: ignore[index]
            try:
                bitmap = page.render(scale=dpi / 72.0, grayscale=True, may_draw_forms=True)
                gray = np.array(bitmap.to_numpy(), copy=True)
            finally:
                page.close()
        except pdfium.PdfiumError as error:
            raise _PageError(f"PDFium cannot render the page ({error})") from None
    if gray.ndim == 3:
        gray = gray[:, :, 0]
    return PdfPage(number, frame, gray.shape[1], gray.shape[0], dpi, "render", gray)


# ---------------------------------------------------------------------------------------------
# Born-digital text


@dataclass(frozen=True)
class _Glyph:
    text: str
    box: tuple[float, float, float, float]  # pixels of the page as shown
    visible: bool


def _text_page(source: _Source, number: int, frame: PageFrame, params: PdfParams) -> PdfPage | None:
    """The page read from its own text, or None when that text should not be used."""
    import pypdfium2.raw as raw

    width_px, height_px = frame.pixels(params.dpi)
    page = source.pdfium[number - 1]  # type: ignore[index]
    try:
        glyphs = _glyphs(page, frame, width_px, height_px)
        if params.text == "auto":
            _check_pixels(*frame.pixels(COVERAGE_DPI), params)
            visible = [g for g in glyphs if g.visible and not g.text.isspace()]
            if not visible or not _covers_ink(page, frame, visible, width_px, height_px, raw):
                return None
    finally:
        page.close()
    lines = _lines(glyphs)
    blocks = _blocks(lines)
    text = Page(number=number, width=width_px, height=height_px, dpi=params.dpi, blocks=blocks)
    return PdfPage(number, frame, width_px, height_px, params.dpi, "text", None, text)


def _glyphs(page, frame: PageFrame, width_px: int, height_px: int) -> list[_Glyph]:
    import pypdfium2.raw as raw

    to_px = frame.to_pixels(width_px, height_px)
    textpage = page.get_textpage()
    try:
        glyphs = []
        for index in range(textpage.count_chars()):
            text = textpage.get_text_range(index, 1)
            if not text:
                continue
            if text in "\r\n" or text.isspace():
                glyphs.append(_Glyph("\n" if text in "\r\n" else " ", (0, 0, 0, 0), True))
                continue
            obj = raw.FPDFText_GetTextObject(textpage.raw, index)
            mode = raw.FPDFTextObj_GetTextRenderMode(obj) if obj else 0
            left, bottom, right, top = textpage.get_charbox(index)
            box = box_through(to_px, (left, bottom, right, top))
            glyphs.append(_Glyph(text, box, mode not in _INVISIBLE_MODES))  # type: ignore[arg-type]
        return glyphs
    finally:
        textpage.close()


def _covers_ink(
    page, frame: PageFrame, visible: list[_Glyph], width_px: int, height_px: int, raw
) -> bool:
    """Whether the page's visible text accounts for its ink (see the module's docstring)."""
    bitmap = page.render(scale=COVERAGE_DPI / 72.0, grayscale=True)
    gray = bitmap.to_numpy()
    gray = gray[:, :, 0] if gray.ndim == 3 else gray
    ink = gray < 160
    total = int(ink.sum())
    if total == 0:
        return True
    rows, cols = ink.shape
    scale_x, scale_y = cols / width_px, rows / height_px
    to_px = frame.to_pixels(cols, rows)
    large = np.zeros_like(ink)
    page_area = rows * cols
    for obj in page.get_objects(filter=[raw.FPDF_PAGEOBJ_IMAGE], max_depth=2):
        x0, y0, x1, y1 = box_through(to_px, obj.get_bounds())
        x0, y0 = max(int(x0), 0), max(int(y0), 0)
        x1, y1 = min(int(np.ceil(x1)), cols), min(int(np.ceil(y1)), rows)
        if (x1 - x0) * (y1 - y0) >= LARGE_IMAGE_SHARE * page_area:
            large[y0:y1, x0:x1] = True
    if not large.any():
        return True
    text = np.zeros_like(ink)
    for glyph in visible:
        x0, y0, x1, y1 = glyph.box
        text[
            max(int(y0 * scale_y) - 1, 0) : int(np.ceil(y1 * scale_y)) + 1,
            max(int(x0 * scale_x) - 1, 0) : int(np.ceil(x1 * scale_x)) + 1,
        ] = True
    uncovered = int((ink & large & ~text).sum())
    return uncovered <= UNCOVERED_INK_SHARE * total


def _lines(glyphs: list[_Glyph]) -> list[Line]:
    """Words (split at spaces) and lines (split at line breaks, or where the text jumps)."""
    lines: list[Line] = []
    words: list[Word] = []
    current: list[_Glyph] = []

    def end_word() -> None:
        if current:
            boxes = [_bbox(g.box) for g in current]
            chars = tuple(Char(g.text, box, 1.0) for g, box in zip(current, boxes, strict=True))
            text = "".join(g.text for g in current)
            words.append(Word(text, BBox.union_all(boxes), 1.0, chars))
            current.clear()

    def end_line() -> None:
        end_word()
        if words:
            box = BBox.union_all(w.bbox for w in words)
            lines.append(Line(box, " ".join(w.text for w in words), 1.0, tuple(words)))
            words.clear()

    for glyph in glyphs:
        if glyph.text == "\n":
            end_line()
        elif glyph.text == " ":
            end_word()
        else:
            if current and _jumps(current[-1].box, glyph.box):
                end_line()
            current.append(glyph)
    end_line()
    return lines


def _jumps(before: tuple[float, ...], after: tuple[float, ...]) -> bool:
    """Whether `after` cannot continue the line that `before` is in (no break between them)."""
    height = max(before[3] - before[1], after[3] - after[1], 1.0)
    middle_before = (before[1] + before[3]) / 2
    middle_after = (after[1] + after[3]) / 2
    return abs(middle_after - middle_before) > 0.7 * height or after[0] < before[0] - 2 * height


def _blocks(lines: list[Line]) -> tuple[Block, ...]:
    """Lines in the PDF's order; a new block where the next line is far below or above."""
    blocks: list[Block] = []
    group: list[Line] = []
    for line in lines:
        if group:
            last = group[-1].bbox
            gap = line.bbox.y0 - last.y1
            if gap > 1.5 * max(last.height, 1) or line.bbox.y1 <= last.y0:
                blocks.append(Block(BBox.union_all(x.bbox for x in group), tuple(group)))
                group = []
        group.append(line)
    if group:
        blocks.append(Block(BBox.union_all(x.bbox for x in group), tuple(group)))
    return tuple(blocks)


def _bbox(box: tuple[float, ...]) -> BBox:
    x0, y0, x1, y1 = box
    return BBox(
        int(np.floor(x0)),
        int(np.floor(y0)),
        max(int(np.ceil(x1)), int(np.floor(x0)) + 1),
        max(int(np.ceil(y1)), int(np.floor(y0)) + 1),
    )


def page_images(data: bytes, name: str, *, max_pixels: int) -> list:
    """Every page of a PDF as an image, like the pages of a multi-page TIFF (`io.load_pages`):
    a list of io.PageImage. Any page that fails fails the file, and so do pages that together
    hold more than io's total limit."""
    from scandex.ocr.io import TOTAL_PIXELS_FACTOR, PageImage

    params = PdfParams(text="ocr", max_pixels=max_pixels)
    pages = []
    total = 0
    for item in read_pdf(data, name, params):
        if isinstance(item, PageFailure):
            raise ScanError(name, f"page {item.number}: {item.reason}")
        assert item.gray is not None
        total += item.gray.size
        if total > TOTAL_PIXELS_FACTOR * max_pixels:
            raise ScanError(
                name,
                f"too many pixels: the pages up to page {item.number} hold {total / 1e6:.4g} "
                f"megapixels, over {TOTAL_PIXELS_FACTOR} x ocr.max_pixels",
            )
        pages.append(PageImage(item.number, item.gray, item.dpi))
    return pages
