"""Page images for the browser: any scan scandex reads, one page at a time, as a small JPEG.

The boxes scandex indexes are in the pixels of the page as `scandex.ocr.io` presents it to the
OCR: upright (EXIF/TIFF orientation applied), each TIFF page one of the file's directories,
thumbnails in the file skipped. So the page's geometry and its numbering come from the same
header reader (`io.probe`), and only the pixels are decoded here, by Pillow, which can decode
one TIFF page without the others, shrink a JPEG while decoding it, and convert 16-bit, CMYK,
palette and alpha images to something a browser shows. The rendered image always has the
page's aspect ratio, so a box scaled by (image width / page width) lands on its word.

Memory: a page is refused before decoding when it has more than `max_pixels` (ocr.max_pixels);
a JPEG is decoded at 1/2, 1/4 or 1/8 scale when that is still larger than wanted; every other
page is decoded at full size once and shrunk. The caller bounds how many run at once.
"""

from __future__ import annotations

import io
import struct
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from scandex.errors import ScanError
from scandex.ocr.io import ImageInfo, probe

JPEG_QUALITY = 82
ORIENTATION_TAG = 274
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def page_sizes(path: Path, *, pdf_dpi: float = 300.0) -> tuple[tuple[int, int], ...]:
    """(width, height) of every page of the scan at `path`, upright, as the OCR saw them
    (`pdf_dpi`: ocr.pdf_dpi, at which PDF pages that are not one scan were rendered)."""
    data = _read(path)
    if data[:5] == b"%PDF-":  # the PDF reader's own page geometry (scandex.pdf)
        from scandex.pdf.reader import PdfParams
        from scandex.pdf.reader import page_sizes as pdf_page_sizes

        return tuple(pdf_page_sizes(data, str(path), PdfParams(dpi=pdf_dpi)))
    info = _probe(path, data)
    return tuple(_upright(size, orientation) for size, orientation in _pages(info))


def render_page(path: Path, page: int, *, max_side_px: int, max_pixels: int) -> bytes:
    """Page `page` (1-based) of the scan at `path` as a JPEG whose longer side is at most
    `max_side_px`; raises ScanError for a missing, unreadable or oversized page."""
    data = _read(path)
    if data[:5] == b"%PDF-":  # rendered by PDFium, the page as shown, in colour
        from scandex.pdf.reader import render_color

        return _jpeg(render_color(data, str(path), page, max_side_px=max_side_px))
    info = _probe(path, data)
    pages = _pages(info)
    if not 1 <= page <= len(pages):
        raise ScanError(path, f"has {len(pages)} page(s), not a page {page}")
    (width, height), orientation = pages[page - 1]
    if width * height > max_pixels:
        raise ScanError(
            path, f"page {page} has {width}x{height} pixels, over ocr.max_pixels ({max_pixels})"
        )
    try:
        image, orientation = _decode(data, info, page, max_side_px)
    except (OSError, ValueError, struct.error, EOFError) as exc:
        raise ScanError(path, f"cannot decode page {page} ({type(exc).__name__})") from None
    image = _shrink(image, max_side_px)
    transpose = _TRANSPOSE.get(orientation)
    if transpose is not None:
        image = image.transpose(transpose)
    return _jpeg(image)


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ScanError(path, "file not found (moved or deleted since it was indexed)") from None
    except PermissionError:
        raise ScanError(path, "cannot read the file: permission denied") from None
    except OSError as exc:
        raise ScanError(path, f"cannot read the file: {exc.strerror or exc}") from None


def _probe(path: Path, data: bytes) -> ImageInfo:
    try:
        return probe(data)
    except (ValueError, struct.error) as exc:  # io's reasons are ValueErrors
        raise ScanError(path, str(exc) or "unreadable image header") from None


def _pages(info: ImageInfo) -> list[tuple[tuple[int, int], int]]:
    return list(zip(info.sizes, info.orientations, strict=True))


def _upright(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if orientation >= 5 else size


def _decode(data: bytes, info: ImageInfo, page: int, max_side_px: int) -> tuple[Image.Image, int]:
    """The page's pixels, and the orientation still to be applied to them."""
    image = _open(data)
    if info.format == "TIFF":
        image.seek(info.directories[page - 1] if info.directories else page - 1)
    stored = info.sizes[page - 1]
    orientation = info.orientations[page - 1]
    if image.size not in (stored, _upright(stored, orientation)):
        raise ValueError(f"decoded {image.size}, header says {stored}")
    if info.format == "JPEG":
        # Decode at the smallest 1/2^k scale that is still at least the size wanted.
        scale = min(1.0, max_side_px / max(stored))
        image.draft(image.mode, (max(1, int(stored[0] * scale)), max(1, int(stored[1] * scale))))
    image.load()
    if info.format == "TIFF" and ORIENTATION_TAG not in getattr(image, "tag_v2", {}):
        orientation = 1  # Pillow turns TIFF pages itself (and drops the tag), as OpenCV does
    return _displayable(image), orientation


_OPEN_LOCK = threading.Lock()


def _open(data: bytes) -> Image.Image:
    # Pillow's decompression-bomb guard warns from 89 megapixels, below ocr.max_pixels, which
    # has been checked from the header already. Warning filters are process-wide, so the
    # lock keeps two threads from restoring each other's filters; opening reads only a header.
    with _OPEN_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data))


def _displayable(image: Image.Image) -> Image.Image:
    """`image` as 8-bit gray or RGB, transparency composited on white paper."""
    mode = image.mode
    if mode in ("L", "RGB"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode.startswith("I") or mode == "F":
        samples = np.asarray(image, dtype=np.float32)
        # 16-bit samples; Pillow's 32-bit "I" holds them too, or 8-bit ones from some files.
        full = 1.0 if mode == "F" else 65535.0 if mode != "I" or samples.max() > 255 else 255.0
        return Image.fromarray(np.clip(samples * (255.0 / full), 0, 255).round().astype(np.uint8))
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        return image.convert("RGB")
    rgba = image.convert("RGBA")  # P, PA, LA, RGBA, La, RGBa
    paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(paper, rgba).convert("RGB")


def _shrink(image: Image.Image, max_side_px: int) -> Image.Image:
    if max(image.size) <= max_side_px:
        return image
    scale = max_side_px / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # reducing_gap: a fast box reduction first, then Lanczos over the last factor of three.
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
