"""The searchable PDF: the scan as it was, and an invisible text layer with every word on its box.

`searchable_pdf(source, pages)` returns the PDF's bytes; the caller writes it (atomically).

- PDF input: the text layer is added onto the original pages (their content is wrapped in
  q/Q first, so a page that leaves its graphics state changed cannot move our words); nothing
  else of the file is rewritten. Born-digital pages, which already have their text, are left
  alone by passing only the OCRed pages.
- Image input: img2pdf embeds each image as it is (JPEG and JPEG 2000 bytes unchanged, PNG
  and CCITT/G4 TIFF data copied without decoding), the page sized from the image's dpi (300
  when it does not say). Images img2pdf cannot embed as they are (an alpha channel, a
  mirrored EXIF orientation) are embedded losslessly as PNG instead, as the OCR saw them.

The layer: one BT ... ET in text render mode 3 (invisible) per page, in the coordinates of
the page model (pixels of the page as shown, mapped onto the page through `PageFrame`, so
the CropBox and /Rotate are respected). Each word is shown at a font size equal to its box's
height, baseline on the box's bottom, stretched horizontally (Tz) to the box's width; a space
between words spans the gap to the next word, so text extraction sees word breaks. The font
is Tesseract's GlyphLessFont (Apache-2.0, 572 bytes, `glyphless.ttf`): one empty glyph half
an em wide for every character, Identity-H encoding with UTF-16 codes and a ToUnicode map,
so what a viewer copies or finds is the recognized text.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Sequence
from importlib import resources

from scandex.page import Line, Page, Word
from scandex.pdf.frame import Matrix, PageFrame

__all__ = ["FONT_RESOURCE", "PRODUCER_KEY", "searchable_pdf", "written_by_scandex"]

FONT_RESOURCE = "ScandexOCR"  # the text layer's font resource name (a number added if taken)
GLYPH_WIDTH = 0.5  # the font's one glyph is half an em wide
DEFAULT_DPI = 300.0  # page size for an image that does not state its resolution
PRODUCER_KEY = "/ScandexTextLayer"  # in the document information: scandex wrote this file

_TO_UNICODE = b"""/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identity-UCS def
/CMapType 2 def
1 begincodespacerange
<0000> <FFFF>
endcodespacerange
1 beginbfrange
<0000> <FFFF> <0000>
endbfrange
endcmap
CMapName currentdict /CMap defineresource pop
end
end
"""


def searchable_pdf(
    source: bytes, pages: Sequence[Page], *, version: str = "", pdfa: bool = False
) -> bytes:
    """The scan in `source` (a PDF or an image file) with a text layer for each of `pages`.

    Page.number says which page of the source a Page belongs to. `version` is recorded in
    the document information (/ScandexTextLayer) so a file scandex wrote can be told apart.
    `pdfa`: for an image file, make it PDF/A-2b (see `_make_pdfa`); a PDF keeps its pages
    and so its own conformance, whatever it is.
    """
    import pikepdf

    is_pdf = source[:5] == b"%PDF-"
    base = source if is_pdf else _image_pdf(source, pages)
    with pikepdf.open(io.BytesIO(base)) as pdf:
        font = _font(pdf)
        for page in pages:
            if not 1 <= page.number <= len(pdf.pages):
                raise ValueError(f"page {page.number} is not in the source ({len(pdf.pages)})")
            _add_layer(pdf, pdf.pages[page.number - 1], page, font)
        if pdfa and not is_pdf:
            _make_pdfa(pdf, version or "scandex")
        pdf.docinfo[PRODUCER_KEY] = version or "scandex"  # no XMP equivalent: after the XMP
        out = io.BytesIO()
        stream_mode = (
            pikepdf.ObjectStreamMode.preserve if is_pdf else pikepdf.ObjectStreamMode.generate
        )
        pdf.save(out, compress_streams=True, object_stream_mode=stream_mode)
        return out.getvalue()


def _make_pdfa(pdf, creator: str) -> None:
    """PDF/A-2b without Ghostscript, for a PDF scandex built itself (images embedded by img2pdf,
    its only font embedded): XMP metadata claiming part 2, conformance B, in step with the
    document information, and an sRGB output intent (the ICC profile made by Pillow's
    LittleCMS). Nothing in such a file is outside PDF/A-2: no transparency, no encryption,
    no LZW, every font embedded with its widths."""
    import pikepdf
    from PIL import ImageCms

    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta.load_from_docinfo(pdf.docinfo)
        meta["pdfaid:part"] = "2"
        meta["pdfaid:conformance"] = "B"
        meta["xmp:CreatorTool"] = creator
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    icc = pdf.make_stream(profile)
    icc["/N"] = 3
    intent = pikepdf.Dictionary(
        Type=pikepdf.Name.OutputIntent,
        S=pikepdf.Name.GTS_PDFA1,
        OutputConditionIdentifier="sRGB",
        Info="sRGB IEC61966-2.1",
        DestOutputProfile=icc,
    )
    pdf.Root.OutputIntents = pikepdf.Array([intent])


def written_by_scandex(path) -> bool:
    """True when the PDF file at `path` is a searchable PDF scandex wrote (/ScandexTextLayer)."""
    import pikepdf

    try:
        with pikepdf.open(path) as pdf:
            return PRODUCER_KEY in pdf.docinfo
    except (OSError, pikepdf.PdfError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------
# Image input


def _image_pdf(source: bytes, pages: Sequence[Page]) -> bytes:
    """One PDF page per page of the image file, the image embedded as it is when it can be."""
    import img2pdf

    dpi_known = all(page.dpi is not None for page in pages)
    layout = (
        img2pdf.default_layout_fun
        if dpi_known
        else img2pdf.get_fixed_dpi_layout_fun((DEFAULT_DPI, DEFAULT_DPI))
    )
    try:
        converted = img2pdf.convert(source, layout_fun=layout, rotation=img2pdf.Rotation.auto)
    except Exception:  # img2pdf's refusals have no common base class: embed as PNG instead
        converted = None
    if converted is not None and _same_pages(converted, source, pages):
        return converted
    return img2pdf.convert(_lossless_pages(source), layout_fun=layout)


def _same_pages(pdf_bytes: bytes, source: bytes, pages: Sequence[Page]) -> bool:
    """Whether img2pdf made one PDF page per page the OCR read (no thumbnails), each of the
    same shape as the OCR's."""
    import pikepdf

    from scandex.ocr.io import probe

    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        if len(pdf.pages) != len(probe(source).sizes):
            return False
        for page in pages:
            if page.number > len(pdf.pages):
                return False
            frame = _frame(pdf.pages[page.number - 1])
            width_pt, height_pt = frame.size_pt
            if abs(width_pt / height_pt - page.width / page.height) > 0.02 * width_pt / height_pt:
                return False
        return True


def _lossless_pages(source: bytes) -> list[bytes]:
    """Every page of the image as the OCR saw it (upright, alpha on white), as PNG."""
    from PIL import Image, ImageOps

    from scandex.ocr.io import probe

    info = probe(source)
    image = Image.open(io.BytesIO(source))
    frames = info.directories or tuple(range(len(info.sizes)))
    out = []
    for index, frame_index in enumerate(frames):
        image.seek(frame_index)
        page = ImageOps.exif_transpose(image.copy()) if info.format != "TIFF" else image.copy()
        if page.mode in ("RGBA", "LA", "PA", "P", "La", "RGBa"):
            rgba = page.convert("RGBA")
            paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            page = Image.alpha_composite(paper, rgba).convert("RGB")
        elif page.mode not in ("1", "L", "RGB"):
            page = page.convert("RGB")
        buffer = io.BytesIO()
        dpi = info.dpi[index] or DEFAULT_DPI
        page.save(buffer, "PNG", dpi=(dpi, dpi))
        out.append(buffer.getvalue())
    return out


# ---------------------------------------------------------------------------------------------
# The text layer


def _frame(pdf_page) -> PageFrame:
    def inherited(key: str):
        node, depth = pdf_page.obj, 0
        while node is not None and depth < 64:
            if key in node:
                return node[key]
            node = node.get("/Parent")
            depth += 1
        return None

    media = inherited("/MediaBox")
    crop = inherited("/CropBox")
    rotate = inherited("/Rotate")
    return PageFrame.of(
        [float(v) for v in media] if media is not None else (0, 0, 612, 792),
        [float(v) for v in crop] if crop is not None else None,
        int(rotate) if rotate is not None else 0,
    )


def _add_layer(pdf, pdf_page, page: Page, font) -> None:
    import pikepdf

    words = [w for line in page.lines for w in line.words if w.text.strip()]
    if not words:
        return
    _drop_invisible_text(pdf, pdf_page)
    name = _font_name(pdf_page, font)
    to_user = _frame(pdf_page).to_user(page.width, page.height)
    layer = _layer(page, to_user, name)
    # The original content may leave its graphics state changed: wrap it in q/Q.
    pdf_page.contents_add(pikepdf.Stream(pdf, b"q\n"), prepend=True)
    pdf_page.contents_add(pikepdf.Stream(pdf, b"\nQ\n"))
    pdf_page.contents_add(
        pikepdf.Stream(pdf, zlib.compress(layer), Filter=pikepdf.Name.FlateDecode)
    )


def _drop_invisible_text(pdf, pdf_page) -> None:
    """Remove an earlier OCR layer (text shown in render mode 3, invisible) from the page's
    own content, so the page is not found twice for every word. Visible text, and the rest
    of the content, stay as they are; a page without invisible text is not rewritten."""
    import pikepdf

    kept: list = []
    dropped = False
    mode, stack = 0, []
    for instruction in pikepdf.parse_content_stream(pdf_page):
        op = str(instruction.operator)
        if op == "q":
            stack.append(mode)
        elif op == "Q" and stack:
            mode = stack.pop()
        elif op == "Tr" and instruction.operands:
            mode = int(instruction.operands[0])
        elif op in ("Tj", "TJ", "'", '"') and mode == 3:
            dropped = True
            if op == "'":  # it also moved to the next line: keep that
                kept.append(pikepdf.ContentStreamInstruction([], pikepdf.Operator("T*")))
            elif op == '"':
                word_space, char_space = instruction.operands[:2]
                kept.append(pikepdf.ContentStreamInstruction([word_space], pikepdf.Operator("Tw")))
                kept.append(pikepdf.ContentStreamInstruction([char_space], pikepdf.Operator("Tc")))
                kept.append(pikepdf.ContentStreamInstruction([], pikepdf.Operator("T*")))
            continue
        kept.append(instruction)
    if dropped:
        pdf_page.obj.Contents = pdf.make_stream(pikepdf.unparse_content_stream(kept))


def _font_name(pdf_page, font) -> str:
    """Add the font to the page's own resources under a free name; returns that name."""
    import pikepdf

    node, resources, depth = pdf_page.obj, None, 0
    while node is not None and depth < 64:  # resources may be inherited from /Pages
        if "/Resources" in node:
            resources = node["/Resources"]
            break
        node = node.get("/Parent")
        depth += 1
    # Copies, so that resource dictionaries shared with other pages are not changed.
    own = (
        pikepdf.Dictionary({k: v for k, v in resources.items()})
        if resources
        else pikepdf.Dictionary()
    )
    fonts = own.get("/Font")
    fonts = (
        pikepdf.Dictionary({k: v for k, v in fonts.items()})
        if fonts is not None
        else pikepdf.Dictionary()
    )
    name, n = FONT_RESOURCE, 0
    while f"/{name}" in fonts:
        n += 1
        name = f"{FONT_RESOURCE}{n}"
    fonts[f"/{name}"] = font
    own["/Font"] = fonts
    pdf_page.obj["/Resources"] = own
    return name


def _layer(page: Page, to_user: Matrix, font_name: str) -> bytes:
    """The content stream that puts each of the page's words, invisibly, on its box."""
    ops = ["q", " ".join(_num(v, 6) for v in to_user) + " cm", "BT", "3 Tr"]
    size_now = None
    for line in page.lines:
        words = [w for w in line.words if w.text.strip() and w.bbox.width > 0 and w.bbox.height > 0]
        if not words:
            continue
        bases = [_baseline(line, w) for w in words]
        # One size for the line (from its baseline up to its words' tops), so that readers
        # that group glyphs into lines by baseline and size keep the line together.
        heights = sorted(base - w.bbox.y0 for base, w in zip(bases, words, strict=True))
        size = max(round(heights[len(heights) // 2], 1), 1.0)
        if size != size_now:
            ops.append(f"/{font_name} {_num(size, 1)} Tf")
            size_now = size
        for i, (word, base) in enumerate(zip(words, bases, strict=True)):
            codes = _utf16(word.text)
            # Text space y points up; the page model's y points down: flip it back.
            ops.append(f"1 0 0 -1 {word.bbox.x0} {_num(base, 1)} Tm")
            ops.append(f"{_num(_stretch(word.bbox.width, size, len(codes) // 4), 3)} Tz")
            ops.append(f"<{codes}> Tj")
            if i + 1 < len(words):
                gap = words[i + 1].bbox.x0 - word.bbox.x1
                if gap > 0:
                    ops.append(f"{_num(_stretch(gap, size, 1), 3)} Tz <0020> Tj")
    ops += ["ET", "Q"]
    return ("\n".join(ops) + "\n").encode("ascii")


def _baseline(line: Line, word: Word) -> float:
    """Where the line's baseline runs under the word (its box's bottom when unknown)."""
    if line.baseline is None:
        return float(line.bbox.y1)
    slope, offset = line.baseline
    x = (word.bbox.x0 + word.bbox.x1) / 2
    base = line.bbox.y1 + offset + slope * (x - line.bbox.x0)
    # Inside the word's box: a baseline estimate never moves a word off its box.
    return min(max(base, word.bbox.y0 + 1.0), float(word.bbox.y1))


def _stretch(width: float, size: float, count: int) -> float:
    """Tz (percent) that makes `count` glyphs at `size` exactly `width` wide."""
    return 100.0 * width / (GLYPH_WIDTH * size * max(count, 1))


def _utf16(text: str) -> str:
    """The text as hex UTF-16BE codes, one per character (outside the BMP: U+FFFD)."""
    return "".join(f"{ord(c):04X}" if ord(c) <= 0xFFFF else "FFFD" for c in text)


def _num(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _font(pdf):
    """The text layer's font (Type0, GlyphLessFont embedded), added to `pdf` once."""
    import pikepdf

    program = resources.files("scandex.pdf").joinpath("glyphless.ttf").read_bytes()
    font_file = pikepdf.Stream(pdf, program)
    font_file["/Length1"] = len(program)
    descriptor = pikepdf.Dictionary(
        Type=pikepdf.Name.FontDescriptor,
        FontName=pikepdf.Name.GlyphLessFont,
        Flags=5,
        FontBBox=[0, 0, int(GLYPH_WIDTH * 1000), 1000],
        ItalicAngle=0,
        Ascent=1000,
        Descent=-1,  # readers take 0 as "unknown" and guess; the glyph stops at the baseline
        CapHeight=1000,
        StemV=80,
        FontFile2=pdf.make_indirect(font_file),
    )
    # Every CID (a UTF-16 code) shows glyph 1, the font's one empty glyph.
    cid_to_gid = pikepdf.Stream(
        pdf, zlib.compress(b"\x00\x01" * 65536), Filter=pikepdf.Name.FlateDecode
    )
    cid_font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font,
        Subtype=pikepdf.Name.CIDFontType2,
        BaseFont=pikepdf.Name.GlyphLessFont,
        CIDSystemInfo=pikepdf.Dictionary(Registry="Adobe", Ordering="Identity", Supplement=0),
        FontDescriptor=pdf.make_indirect(descriptor),
        DW=int(GLYPH_WIDTH * 1000),
        CIDToGIDMap=pdf.make_indirect(cid_to_gid),
    )
    to_unicode = pikepdf.Stream(pdf, zlib.compress(_TO_UNICODE), Filter=pikepdf.Name.FlateDecode)
    return pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type0,
            BaseFont=pikepdf.Name.GlyphLessFont,
            Encoding=pikepdf.Name("/Identity-H"),
            DescendantFonts=[pdf.make_indirect(cid_font)],
            ToUnicode=pdf.make_indirect(to_unicode),
        )
    )
