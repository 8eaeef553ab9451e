"""hOCR 1.2: the one writer and the one parser of the file scandex puts next to each scan.

Layout of what `to_hocr` writes (XHTML, built with xml.etree so every text is escaped):

    div.ocr_page     title "image "<name>"; bbox 0 0 W H; ppageno N-1[; scan_res D D]; x_skew A"
      div.ocr_carea  title "bbox ..."                       one per Block, in reading order
        p.ocr_par    title "bbox ..."                       the block's lines as one paragraph
          span.ocr_line  title "bbox ...[; baseline S O]; x_wconf C"
            span.ocrx_word  title "bbox ...; x_wconf C; x_confs c1 c2 ...; x_bboxes x0 y0 x1 y1 ..."
      div.ocr_photo      title "bbox ..."                   photographs and figures (no text)
      div.ocr_separator  title "bbox ..."                   printed rules

- `ppageno` is 0-based (the spec: "the front cover is page number 0"), so page 1 is ppageno 0.
- `scan_res` and the baseline's offset are whole numbers, as Tesseract writes them and as
  OCRmyPDF's parser requires; the baseline's slope has four decimals.
- Confidences are percentages: `x_wconf` an integer 0..100 (line and word), `x_confs` one
  number 0..100 per character, two decimals at most. `read_hocr` divides by 100.
- Character boxes are `x_bboxes`, four numbers per character, as Tesseract writes them. Both
  lists run over the word's codepoints, which is exact when every Char is one codepoint (the
  recognizer's alphabet is NFC). A word whose characters are not single codepoints gets one
  `span.ocrx_cinfo` per character instead ("x_bboxes ...; x_conf C"), again like Tesseract.
- `x_size_pt W H` (PDF pages only) is the page's size as shown (CropBox, /Rotate) in PDF
  points, two decimals at most: a box maps onto the PDF page by W / bbox width, H / bbox
  height (Page.size_pt).
- `x_skew A` is the page's skew in degrees as found in the original image, counter-clockwise
  positive (Page.angle_deg), three decimals at most. hOCR has no property for it:
  `textangle` means text rotated relative to the page, which is something else, and `x_` is
  the spec's prefix for engine-specific properties. A page scanned upside down or sideways
  was read turned (x_skew about 180, 90 or 270): its lines have `textangle` 180, 90 or 270
  and no baseline (hOCR's baseline is upright text's), so a PDF text layer runs the way
  the text does.
- The image name is written in double quotes with `%`, `"`, `;` and control characters
  percent-encoded, so that titles split on `;` (as hocr-tools does) stay intact.
- The text between and around a line's words is the line's own text (normally single
  spaces), so the line's text content is exactly Line.text. (If the words cannot be found in
  Line.text in order, single spaces are written, and read back.)
- `x_alternatives "A" "B"` on a word lists its other readings (Word.alternatives: the
  network's own reading where lexicon decoding replaced it), quoted and percent-encoded like
  the image name. A property, not hOCR's `span.alternatives` markup, because consumers that
  do not know that markup (PDF text layers among them) would print both readings.
- Photos and rules (Page.regions) follow the text areas, top to bottom, as empty divs;
  `ocr_image` and `ocr_photo` read back as photos. A table's block is an `ocr_carea` like
  any other (its rows are its lines), so Block.kind reads back as "text".
- Not written: Char.alternatives; the characters of a word they do not spell. Characters
  that XML cannot carry (control characters, lone surrogates) are written as U+FFFD.

`read_hocr(to_hocr(doc))` gives `doc` back at the precision above; `write_hocr` writes
atomically (temporary file in the same folder, fsync, rename).
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import scandex
from scandex.atomic import atomic_write
from scandex.errors import ScandexError
from scandex.page import REGION_CLASSES, BBox, Block, Char, Document, Line, Page, Region, Word

__all__ = [
    "HocrError",
    "parse_title",
    "read_hocr",
    "read_hocr_file",
    "to_hocr",
    "write_hocr",
]

XHTML_NS = "http://www.w3.org/1999/xhtml"
CAPABILITIES = (
    "ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrx_cinfo ocr_photo ocr_separator ocrp_wconf"
)
_DOCTYPE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
    '    "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
)


class HocrError(ScandexError):
    """An hOCR file could not be read back; `reason` says what is wrong with it."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


# ---------------------------------------------------------------------------------------------
# Writing


def to_hocr(doc: Document, *, hocr_dir: str | Path | None = None, model: str | None = None) -> str:
    """The document as an hOCR 1.2 XHTML string; one ocr_page per Page, in reading order.

    With `hocr_dir` (the folder the hOCR file will be in), the image is named relative to it
    when it lies inside that folder's tree, and by its absolute path otherwise; without it,
    the image is named by Document.path as given. `model` ("NAME sha256:HEX", the model
    file that read it) is written as <meta name="scandex-model">.
    """
    html = ET.Element("html", {"xmlns": XHTML_NS})
    head = _child(html, "head", indent=1)
    _child(head, "title", indent=2).text = _xml_text(Path(doc.path).name)
    metas = {
        "ocr-system": f"scandex {scandex.__version__}",
        "ocr-capabilities": CAPABILITIES,
        "ocr-number-of-pages": str(len(doc.pages)),
    }
    if model:
        metas["scandex-model"] = model
    meta = _child(head, "meta", indent=2)
    meta.attrib.update({"http-equiv": "Content-Type", "content": "text/html;charset=utf-8"})
    for name, content in metas.items():
        _child(head, "meta", indent=2).attrib.update({"name": name, "content": content})
    _close(head, indent=1)
    body = _child(html, "body", indent=1)
    image_name = _image_name(doc.path, hocr_dir)
    for page in doc.pages:
        _write_page(body, page, image_name)
    _close(body, indent=1)
    _close(html, indent=0)
    # <div/> would open, not close, a div for HTML parsers (hocr-tools reads hOCR as HTML).
    markup = ET.tostring(html, encoding="unicode", short_empty_elements=False)
    return _DOCTYPE + markup + "\n"


def write_hocr(doc: Document, path: str | Path, *, model: str | None = None) -> None:
    """Write the document's hOCR to `path` atomically: readers see the old file or the new one."""
    path = Path(path)
    data = to_hocr(doc, hocr_dir=path.parent, model=model).encode("utf-8")
    atomic_write(path, lambda out: out.write(data))


def _write_page(body: ET.Element, page: Page, image_name: str) -> None:
    n = page.number
    props = [
        f'image "{_quote_name(image_name)}"',
        f"bbox 0 0 {page.width} {page.height}",
        f"ppageno {page.number - 1}",
    ]
    if page.dpi is not None:
        # Whole numbers: OCRmyPDF's parser reads scan_res (and baseline offsets) as integers.
        props.append(f"scan_res {round(page.dpi)} {round(page.dpi)}")
    props.append(f"x_skew {_num(page.angle_deg, 3)}")
    if page.size_pt is not None:
        props.append(f"x_size_pt {_num(page.size_pt[0], 2)} {_num(page.size_pt[1], 2)}")
    div = _child(body, "div", indent=2, cls="ocr_page", element_id=f"page_{n}", title=props)
    line_no = word_no = 0
    for b, block in enumerate(page.blocks, start=1):
        area = _child(
            div,
            "div",
            indent=3,
            cls="ocr_carea",
            element_id=f"block_{n}_{b}",
            title=[_bbox(block.bbox)],
        )
        par = _child(
            area, "p", indent=4, cls="ocr_par", element_id=f"par_{n}_{b}", title=[_bbox(block.bbox)]
        )
        for line in block.lines:
            line_no += 1
            props = [_bbox(line.bbox)]
            if page.text_angle:  # hOCR's baseline is upright text's: the angle says it all
                props.append(f"textangle {page.text_angle}")
            elif line.baseline is not None:
                slope, offset = line.baseline
                props.append(f"baseline {_num(slope, 4)} {round(offset)}")
            props.append(f"x_wconf {_percent(line.confidence)}")
            span = _child(
                par, "span", indent=5, cls="ocr_line", element_id=f"line_{n}_{line_no}", title=props
            )
            word_no = _write_words(span, line, n, word_no)
        _close(par, indent=4)
        _close(area, indent=3)
    for r, region in enumerate(page.regions, start=1):
        cls = REGION_CLASSES[region.kind]
        _child(
            div,
            "div",
            indent=3,
            cls=cls,
            element_id=f"{region.kind}_{n}_{r}",
            title=[_bbox(region.bbox)],
        )
    _close(div, indent=2)


def _write_words(span: ET.Element, line: Line, page_no: int, word_no: int) -> int:
    """Put the line's words into its span, with the line's own text between them."""
    gaps = _gaps(line)
    span.text = _xml_text(gaps[0])
    for word, gap in zip(line.words, gaps[1:], strict=True):
        word_no += 1
        props = [_bbox(word.bbox), f"x_wconf {_percent(word.confidence)}"]
        if word.alternatives:
            quoted = (f'"{_quote_name(_xml_text(a))}"' for a in word.alternatives)
            props.append("x_alternatives " + " ".join(quoted))
        element = ET.SubElement(span, "span")
        element.attrib.update({"class": "ocrx_word", "id": f"word_{page_no}_{word_no}"})
        chars_text = "".join(c.text for c in word.chars)
        if word.chars and chars_text == word.text and len(word.chars) == len(word.text):
            props.append("x_confs " + " ".join(_num(c.confidence * 100, 2) for c in word.chars))
            props.append("x_bboxes " + " ".join(_box_numbers(c.bbox) for c in word.chars))
            element.text = _xml_text(word.text)
        elif word.chars and chars_text == word.text:
            for char in word.chars:
                cinfo = ET.SubElement(element, "span", {"class": "ocrx_cinfo"})
                cinfo.set(
                    "title",
                    f"x_bboxes {_box_numbers(char.bbox)}; x_conf {_num(char.confidence * 100, 2)}",
                )
                cinfo.text = _xml_text(char.text)
        else:  # no characters, or characters that do not spell the word: the word alone
            element.text = _xml_text(word.text)
        element.set("title", "; ".join(props))
        element.tail = _xml_text(gap)
    return word_no


def _gaps(line: Line) -> list[str]:
    """The line's text around its words: [before first, after first, ..., after last].

    Single spaces when the words cannot be found in the line's text in order.
    """
    if not line.words:
        return [line.text]
    gaps, at = [], 0
    for word in line.words:
        found = line.text.find(word.text, at)
        if found < 0:
            return [""] + [" "] * (len(line.words) - 1) + [""]
        gaps.append(line.text[at:found])
        at = found + len(word.text)
    gaps.append(line.text[at:])
    return gaps


def _child(
    parent: ET.Element,
    tag: str,
    *,
    indent: int,
    cls: str | None = None,
    element_id: str | None = None,
    title: list[str] | None = None,
) -> ET.Element:
    """A new child element on its own indented line (text inside lines is never indented)."""
    _indent_before(parent, indent)
    element = ET.SubElement(parent, tag)
    if cls:
        element.set("class", cls)
    if element_id:
        element.set("id", element_id)
    if title is not None:
        element.set("title", "; ".join(title))
    return element


def _indent_before(parent: ET.Element, level: int) -> None:
    newline = "\n" + "  " * level
    if len(parent):
        parent[-1].tail = newline
    else:
        parent.text = newline


def _close(parent: ET.Element | None, *, indent: int) -> None:
    """Put the parent's closing tag on its own line."""
    if parent is not None and len(parent):
        parent[-1].tail = "\n" + "  " * indent


def _bbox(box: BBox) -> str:
    return f"bbox {_box_numbers(box)}"


def _box_numbers(box: BBox) -> str:
    return f"{box.x0} {box.y0} {box.x1} {box.y1}"


def _percent(confidence: float) -> int:
    return min(100, max(0, round(confidence * 100)))


def _num(value: float, decimals: int) -> str:
    """A float with at most `decimals` decimals and no trailing zeros: 300, 0.25, -1.5."""
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# Characters XML 1.0 cannot carry at all, and carriage returns (parsers turn them into \n).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0d\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _image_name(path: str, hocr_dir: str | Path | None) -> str:
    if hocr_dir is None:
        return path
    image = os.path.abspath(path)
    folder = os.path.abspath(hocr_dir)
    try:
        relative = os.path.relpath(image, folder)
    except ValueError:  # another drive on Windows
        return image.replace(os.sep, "/")
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return image.replace(os.sep, "/")
    return relative.replace(os.sep, "/")


# Percent-encoded in image names: what would end the quoted name or the property, what XML
# cannot carry, and the raw bytes of undecodable file names (surrogate escapes).
_NAME_UNSAFE = re.compile('[%";\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]')


def _quote_name(name: str) -> str:
    def encode(match: re.Match[str]) -> str:
        raw = match.group().encode("utf-8", "surrogateescape")
        return "".join(f"%{byte:02X}" for byte in raw)

    return _NAME_UNSAFE.sub(encode, name)


# ---------------------------------------------------------------------------------------------
# Reading

_LINE_CLASSES = {
    "ocr_line",
    "ocrx_line",
    "ocr_caption",
    "ocr_header",
    "ocr_footer",
    "ocr_textfloat",
}


# hOCR classes of regions without text, read back as Region kinds.
_REGION_KINDS = {"ocr_photo": "photo", "ocr_image": "photo", "ocr_separator": "separator"}


def read_hocr(text: str, hocr_path: str | Path | None = None) -> Document:
    """Parse hOCR written by `to_hocr` (or similar) back into a Document.

    With `hocr_path`, a relative image name is resolved against the hOCR file's folder.
    Raises HocrError for anything that is not well-formed hOCR.
    """
    where = str(hocr_path) if hocr_path is not None else "<hocr>"
    if "<!ENTITY" in text:
        raise HocrError(where, "entity declarations are not allowed in hOCR")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        raise HocrError(where, f"not well-formed XML ({error})") from None
    pages, image_names = [], []
    for index, element in enumerate(_find(root, {"ocr_page"})):
        try:
            page, name = _read_page(element, index)
        except (ValueError, IndexError, KeyError, OverflowError) as error:
            raise HocrError(where, f"page {index + 1}: {error}") from None
        pages.append(page)
        image_names.append(name)
    if not pages:
        raise HocrError(where, "no ocr_page element: this is not an hOCR file")
    name = next((n for n in image_names if n), "")
    if hocr_path is not None and name and not os.path.isabs(name):
        name = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(hocr_path)), name))
    return Document(path=name, pages=tuple(pages))


def read_hocr_file(path: str | Path) -> Document:
    """Read and parse the hOCR file at `path`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HocrError(path, "file not found") from None
    except UnicodeDecodeError:
        raise HocrError(path, "not UTF-8 text") from None
    except OSError as error:
        raise HocrError(path, f"cannot read the file: {error.strerror or error}") from None
    return read_hocr(text, path)


def _read_page(element: ET.Element, index: int) -> tuple[Page, str]:
    props = parse_title(element.get("title", ""))
    if "bbox" not in props:
        raise ValueError("ocr_page has no bbox")
    x0, y0, x1, y1 = _ints(props["bbox"], 4, "bbox")
    number = int(props["ppageno"]) + 1 if "ppageno" in props else index + 1
    dpi = None
    if "scan_res" in props:
        resolutions = [float(v) for v in props["scan_res"].split()]
        dpi = sum(resolutions) / len(resolutions)
    angle = float(props.get("x_skew", "0"))
    size_pt = None
    if "x_size_pt" in props:
        width_pt, height_pt = (float(v) for v in props["x_size_pt"].split())
        size_pt = (width_pt, height_pt)
    blocks = []
    for area in _find(element, {"ocr_carea", "ocrx_block"}):
        area_props = parse_title(area.get("title", ""))
        lines = tuple(_read_line(line) for line in _find(area, _LINE_CLASSES))
        if "bbox" in area_props:
            box = BBox(*_ints(area_props["bbox"], 4, "bbox"))
        elif lines:
            box = BBox.union_all(line.bbox for line in lines)
        else:
            continue
        blocks.append(Block(bbox=box, lines=lines))
    if not blocks:  # lines straight under the page: one block holds them all
        lines = tuple(_read_line(line) for line in _find(element, _LINE_CLASSES))
        if lines:
            blocks.append(Block(BBox.union_all(line.bbox for line in lines), lines))
    regions = []
    for region in _find(element, set(_REGION_KINDS)):
        region_props = parse_title(region.get("title", ""))
        if "bbox" in region_props:
            kind = _REGION_KINDS[(set(region.get("class", "").split()) & set(_REGION_KINDS)).pop()]
            regions.append(Region(kind, BBox(*_ints(region_props["bbox"], 4, "bbox"))))
    image = props.get("image", "")
    page = Page(
        number=number,
        width=x1 - x0,
        height=y1 - y0,
        angle_deg=angle,
        dpi=dpi,
        blocks=tuple(blocks),
        regions=tuple(regions),
        size_pt=size_pt,
    )
    name = unquote(image.strip('"'), errors="surrogateescape") if image else ""
    return page, name


def _read_line(element: ET.Element) -> Line:
    props = parse_title(element.get("title", ""))
    if "bbox" not in props:
        raise ValueError(f"line {element.get('id', '')} has no bbox".replace("  ", " "))
    baseline = None
    if "baseline" in props:
        numbers = [float(v) for v in props["baseline"].split()]
        if len(numbers) != 2:
            raise ValueError("baseline needs two numbers (slope offset)")
        baseline = (numbers[0], numbers[1])
    words = tuple(_read_word(word) for word in _find(element, {"ocrx_word"}))
    text = "".join(element.itertext())
    if "\n" in text:  # pretty-printed by another producer (Tesseract); ours never is
        text = " ".join(text.split())
    return Line(
        bbox=BBox(*_ints(props["bbox"], 4, "bbox")),
        text=text,
        confidence=_confidence(props.get("x_wconf")),
        words=words,
        baseline=baseline,
    )


def _read_word(element: ET.Element) -> Word:
    props = parse_title(element.get("title", ""))
    if "bbox" not in props:
        raise ValueError(f"word {element.get('id', '')} has no bbox".replace("  ", " "))
    box = BBox(*_ints(props["bbox"], 4, "bbox"))
    text = "".join(element.itertext())
    cinfos = list(_find(element, {"ocrx_cinfo"}))
    if cinfos:
        chars = tuple(_read_cinfo(cinfo, box) for cinfo in cinfos)
    elif "x_confs" in props:
        chars = _chars_from_lists(text, props, box)
    else:
        chars = ()
    alternatives = tuple(
        unquote(quoted, errors="surrogateescape")
        for quoted in re.findall(r'"([^"]*)"', props.get("x_alternatives", ""))
    )
    return Word(
        text=text,
        bbox=box,
        confidence=_confidence(props.get("x_wconf")),
        chars=chars,
        alternatives=alternatives,
    )


def _chars_from_lists(text: str, props: dict[str, str], word_box: BBox) -> tuple[Char, ...]:
    confidences = [float(v) / 100 for v in props["x_confs"].split()]
    if len(confidences) != len(text):
        raise ValueError(f"x_confs has {len(confidences)} numbers for {len(text)} characters")
    boxes = [word_box] * len(text)
    if "x_bboxes" in props:
        numbers = _ints(props["x_bboxes"], 4 * len(text), "x_bboxes")
        boxes = [BBox(*numbers[i : i + 4]) for i in range(0, len(numbers), 4)]
    return tuple(Char(c, b, p) for c, b, p in zip(text, boxes, confidences, strict=True))


def _read_cinfo(element: ET.Element, word_box: BBox) -> Char:
    props = parse_title(element.get("title", ""))
    box = BBox(*_ints(props["x_bboxes"], 4, "x_bboxes")) if "x_bboxes" in props else word_box
    return Char("".join(element.itertext()), box, _confidence(props.get("x_conf")))


def _confidence(value: str | None) -> float:
    return 0.0 if value is None else float(value) / 100


def _ints(value: str, count: int, name: str) -> list[int]:
    numbers = [int(round(float(v))) for v in value.split()]
    if len(numbers) != count:
        raise ValueError(f"{name} needs {count} numbers, has {len(numbers)}")
    return numbers


def _find(root: ET.Element, classes: set[str]) -> Iterator[ET.Element]:
    """Descendants whose class is one of `classes`, in document order, not nested in each other."""
    stack = list(reversed(root))  # iterative: a deeply nested file must not exhaust the stack
    while stack:
        element = stack.pop()
        if classes.intersection(element.get("class", "").split()):
            yield element
        else:
            stack.extend(reversed(element))


_TITLE_PROPERTY = re.compile(r'\s*([^\s;]+)((?:[^;"]|"[^"]*")*)(?:;|$)')


def parse_title(title: str) -> dict[str, str]:
    """hOCR properties from a title attribute: 'bbox 1 2 3 4; image "a;b.png"' -> dict.

    Semicolons inside double quotes do not separate properties.
    """
    props: dict[str, str] = {}
    for match in _TITLE_PROPERTY.finditer(title):
        if match.group(1):
            props.setdefault(match.group(1), match.group(2).strip())
    return props
