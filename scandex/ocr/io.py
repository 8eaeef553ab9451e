"""Reading scans: image files to 8-bit grayscale pages. The only OCR stage that touches the disk.

Supported: PNG, JPEG, TIFF (every page of a multi-page file), PNM (PBM/PGM/PPM/PAM) and WebP,
in 1-, 8- or 16-bit gray, RGB, RGBA or palette form. The format is identified by the file's
first bytes, never by its extension.

Decoding is OpenCV's, and JPEG's is libjpeg-turbo's through simplejpeg; everything around it
is ours, because a decoder alone lets bad files through quietly: a PNG or TIFF cut short
decodes into a page that is half black, and a huge header asks for gigabytes before a byte of
pixels is read. So before decoding we walk the file's own structure (PNG chunks, JPEG markers,
TIFF directories, WebP chunks, PNM header) to learn the size of every page, its resolution and
orientation, and whether the file is complete; the pixel limit is enforced from those
numbers, before anything is allocated.

Damage inside complete-looking data is told by what we check and by what the decoders return,
never by the text they print (STYLE lesson 19): every PNG chunk's checksum; OpenCV's empty
result when libpng gives up (a pixel stream short of rows, damaged compressed data: we then
inflate the stream ourselves to say which); libjpeg-turbo in strict mode, which raises on any
warning (TurboJPEG reports only that a warning came, TJERR_WARNING: data it decoded past, which
may be corrupt), a scan cut short and closed among them, so a JPEG with stray bytes after its
image data is refused too; and T.6's rule that Group 4 fax data never holds eleven zero bits in
a row before its end-of-block code, which finds the holes of a file that was never completely
written. What no library reports through its interface stays unseen: bytes garbled inside
Group 3/4 fax data, which libtiff decodes on past (it says so only to a handler that OpenCV
does not expose), and a PNG that libpng gives up on prints libpng's own line on stderr.

Why not Pillow for the headers and the decode errors (evaluated for issue 12, Pillow 13.0,
OpenCV 5.0, a 2550x3300 page): Pillow loads without a word a JPEG cut short and closed with
an end-of-image marker, a PNG whose complete, checksummed chunks hold too few rows, and a
damaged Group 4 TIFF, each a partly blank page; it cannot read PAM; and it decodes a whole PNG
to find a trailing eXIf chunk. It is also slower here: PNG gray 305 ms against 166, PNG RGB
1048 against 447, JPEG RGB 323 against 81 (OpenCV reads JPEG luma directly; simplejpeg's
strict decode, also luma, 18 ms against OpenCV's 25 on a 2550x3300 page), G4 TIFF 48 against
38. tests/test_io.py checks those Pillow behaviours, so a Pillow that learns to report them
shows up as a failing test and a reason to look again.
"""

from __future__ import annotations

import os
import re
import stat
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import simplejpeg

from scandex.errors import ScanError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ImageInfo",
    "PageImage",
    "decode_pages",
    "load_pages",
    "probe",
]

DEFAULT_MAX_PIXELS = 200_000_000
# All pages of one file together may hold this many times the per-page limit: a multi-page
# TIFF of ordinary scans passes, a file of ten thousand directories pointing at one bomb doesn't.
TOTAL_PIXELS_FACTOR = 5
MAX_TIFF_DIRECTORIES = 10_000


def _opencv_max_pixels() -> int:
    """OpenCV's own pixel limit: it refuses larger images unless OPENCV_IO_MAX_IMAGE_PIXELS."""
    value = os.environ.get("OPENCV_IO_MAX_IMAGE_PIXELS", "").strip()
    return int(value) if value.isdigit() else 1 << 30


_OPENCV_MAX_PIXELS = _opencv_max_pixels()

SUPPORTED = "PNG, JPEG, TIFF, PNM and WebP"

# OpenCV's own logging (libtiff's complaints among it) stays quiet: what went wrong is told by
# what the decoders return and by our own checks.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


@dataclass(frozen=True)
class PageImage:
    number: int  # 1-based page number within the file
    gray: np.ndarray  # uint8 HxW, 0 = black, 255 = white; alpha composited on white, upright
    dpi: float | None  # scan resolution from the file's header, None when it doesn't say


@dataclass(frozen=True)
class ImageInfo:
    """What a file's header says, read without decoding any pixels."""

    format: str  # "PNG", "JPEG", "TIFF", "PNM" or "WebP"
    sizes: tuple[tuple[int, int], ...]  # (width, height) of each page as stored, before rotation
    dpi: tuple[float | None, ...]  # per page
    # EXIF/TIFF orientation (1..8) per page. For TIFF, OpenCV applies it while decoding.
    orientations: tuple[int, ...]
    # For TIFF: index of each page among all the file's directories (thumbnails are skipped).
    directories: tuple[int, ...] = ()


class _Bad(ValueError):
    """A reason why a file cannot be read; becomes ScanError(path, reason) at the boundary."""


def load_pages(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> list[PageImage]:
    """Every page of the image file at `path`, as upright 8-bit grayscale.

    Raises ScanError(path, reason) for anything that makes the file unreadable.
    """
    data = _read_file(Path(path))
    return decode_pages(data, str(path), max_pixels=max_pixels)


def decode_pages(
    data: bytes, name: str, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> list[PageImage]:
    """Every page of an image held in memory; `name` is used only in error messages."""
    if data[:5] == b"%PDF-":  # a PDF's pages, as images (scandex.pdf.reader)
        from scandex.pdf.reader import page_images

        return page_images(data, name, max_pixels=max_pixels)
    try:
        info = probe(data)
        _check_pixel_limit(info, max_pixels)
        return _decode(data, info)
    except _Bad as bad:
        raise ScanError(name, str(bad)) from None


def probe(data: bytes) -> ImageInfo:
    """Format, page sizes, resolution and orientation from the header; raises _Bad."""
    if not data:
        raise _Bad("empty file (0 bytes)")
    kind = sniff_format(data)
    if kind is None:
        raise _Bad(_not_an_image(data))
    parser = _PARSERS.get(kind)
    if parser is None:
        raise _Bad(f"unsupported image format {kind}; scandex reads {SUPPORTED} (convert it)")
    return parser(data)


# ---------------------------------------------------------------------------------------------
# Identifying the format


_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),  # BigTIFF
    (b"MM\x00+", "TIFF"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"%PDF", "PDF"),
    (b"%!PS", "PostScript"),
    (b"AT&TFORM", "DjVu"),
    (b"8BPS", "Photoshop (PSD)"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x76\x2f\x31\x01", "OpenEXR"),
    (b"#?RADIANCE", "Radiance HDR"),
    (b"\x59\xa6\x6a\x95", "Sun raster"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"PF\n", "PFM"),
    (b"Pf\n", "PFM"),
)
_PNM_MAGIC = re.compile(rb"P[1-7]\s")


def sniff_format(data: bytes) -> str | None:
    """The format named by the file's first bytes (supported or not), or None if unknown."""
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if _PNM_MAGIC.match(data[:3]):
        return "PNM"
    if data[:2] == b"BM" and len(data) >= 18 and data[14] in (12, 40, 52, 56, 64, 108, 124):
        return "BMP"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"avif"):
        return "HEIF/AVIF"
    return None


def _not_an_image(data: bytes) -> str:
    head = data[:1024]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and "\x00" not in text:
        return "not an image (the file contains text)"
    return f"not an image (unknown content starting with {head[:4].hex(' ')})"


# ---------------------------------------------------------------------------------------------
# Header parsers: each returns ImageInfo or raises _Bad, and checks the file is complete.


def _parse_png(data: bytes) -> ImageInfo:
    pos = 8
    size: tuple[int, int] | None = None
    dpi = None
    orientation = 1
    seen_idat = False
    while True:
        if pos + 8 > len(data):
            raise _Bad("truncated PNG (the file ends before its IEND chunk)")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if end > len(data):
            raise _Bad(f"truncated PNG (the file ends inside chunk {_chunk_name(kind)})")
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(kind + body) != crc:
            raise _Bad(f"corrupt PNG (checksum error in chunk {_chunk_name(kind)})")
        if size is None and kind != b"IHDR":
            raise _Bad("corrupt PNG (no IHDR chunk)")
        if kind == b"IHDR":
            if length != 13:
                raise _Bad("corrupt PNG (bad IHDR chunk)")
            size = struct.unpack(">II", body[:8])
        elif kind == b"pHYs" and length == 9:
            ppu_x, ppu_y, unit = struct.unpack(">IIB", body)
            if unit == 1:  # pixels per metre
                dpi = _mean_dpi(ppu_x * 0.0254, ppu_y * 0.0254)
        elif kind == b"eXIf":
            orientation = _exif(body).orientation
        elif kind == b"IDAT":
            seen_idat = True
        elif kind == b"IEND":
            break
        pos = end
    if size is None or not seen_idat:
        raise _Bad("corrupt PNG (no image data)")
    size = _check_size(size)
    return ImageInfo("PNG", (size,), (dpi,), (orientation,))


def _chunk_name(kind: bytes) -> str:
    name = kind.decode("latin-1")
    return name if name.isalpha() else repr(kind)


_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _parse_jpeg(data: bytes) -> ImageInfo:
    pos = 2
    size: tuple[int, int] | None = None
    jfif_dpi = None
    exif: _Exif | None = None
    while True:
        while pos + 1 < len(data) and data[pos] == 0xFF and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes before a marker
        if pos + 2 > len(data):
            raise _Bad("truncated JPEG (the file ends inside its header)")
        if data[pos] != 0xFF:
            raise _Bad("corrupt JPEG (expected a marker in the header)")
        marker = data[pos + 1]
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        if marker == 0xD9:
            raise _Bad("corrupt JPEG (end of image before any image data)")
        if pos + 4 > len(data):
            raise _Bad("truncated JPEG (the file ends inside its header)")
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise _Bad("truncated JPEG (the file ends inside its header)")
        body = data[pos + 4 : end]
        if marker == 0xE0 and body.startswith(b"JFIF\x00") and len(body) >= 12:
            units, x_density, y_density = struct.unpack(">BHH", body[7:12])
            if units in (1, 2):  # dots per inch, dots per cm
                per_inch = 1.0 if units == 1 else 2.54
                jfif_dpi = _mean_dpi(x_density * per_inch, y_density * per_inch)
        elif marker == 0xE1 and body.startswith(b"Exif\x00\x00") and exif is None:
            exif = _exif(body[6:])
        elif marker in _JPEG_SOF and len(body) >= 5:
            if body[0] != 8:
                raise _Bad(f"unsupported JPEG ({body[0]}-bit samples; scandex reads 8-bit JPEG)")
            height, width = struct.unpack(">HH", body[1:5])
            if height == 0:
                raise _Bad("unsupported JPEG (height given only after the image data)")
            size = (width, height)
        elif marker == 0xDA:  # start of scan: entropy-coded data follows
            if size is None:
                raise _Bad("corrupt JPEG (image data before the frame header)")
            # Inside entropy-coded data 0xFF is always followed by 0x00 or a restart marker,
            # so the first FF D9 after the scan starts is the end-of-image marker.
            if data.find(b"\xff\xd9", end) < 0:
                raise _Bad("truncated JPEG (no end-of-image marker)")
            break
        pos = end
    size = _check_size(size)
    exif = exif or _Exif()
    dpi = jfif_dpi if jfif_dpi is not None else exif.dpi
    return ImageInfo("JPEG", (size,), (dpi,), (exif.orientation,))


def _parse_webp(data: bytes) -> ImageInfo:
    if len(data) < 12:
        raise _Bad("truncated WebP (the file ends inside its header)")
    (riff_size,) = struct.unpack("<I", data[4:8])
    if 8 + riff_size > len(data):
        raise _Bad("truncated WebP (the file is shorter than its header says)")
    pos = 12
    end_of_riff = 8 + riff_size
    canvas: tuple[int, int] | None = None
    bitstream: tuple[int, int] | None = None
    exif = _Exif()
    while pos + 8 <= end_of_riff:
        kind, length = struct.unpack("<4sI", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if len(body) < length:
            raise _Bad("truncated WebP (the file ends inside a chunk)")
        if kind in (b"ANIM", b"ANMF"):
            raise _Bad("unsupported image format: animated WebP")
        if kind == b"VP8X" and length >= 10:
            width = int.from_bytes(body[4:7], "little") + 1
            height = int.from_bytes(body[7:10], "little") + 1
            canvas = (width, height)
        elif kind == b"VP8 " and length >= 10:
            if body[3:6] != b"\x9d\x01\x2a":
                raise _Bad("corrupt WebP (bad VP8 frame header)")
            width, height = struct.unpack("<HH", body[6:10])
            bitstream = (width & 0x3FFF, height & 0x3FFF)
        elif kind == b"VP8L" and length >= 5:
            if body[0] != 0x2F:
                raise _Bad("corrupt WebP (bad VP8L header)")
            (bits,) = struct.unpack("<I", body[1:5])
            bitstream = ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        elif kind == b"EXIF":
            exif = _exif(body[6:] if body.startswith(b"Exif\x00\x00") else body)
        pos += 8 + length + (length & 1)
    size = canvas or bitstream
    if bitstream is None:
        raise _Bad("corrupt WebP (no image data)")
    size = _check_size(size)
    return ImageInfo("WebP", (size,), (exif.dpi,), (exif.orientation,))


_PNM_TOKEN = re.compile(rb"(?:\s|#[^\n\r]*)*(\S+)")


def _parse_pnm(data: bytes) -> ImageInfo:
    kind = data[1:2]
    if kind == b"7":
        return _parse_pam(data)
    wanted = 2 if kind in (b"1", b"4") else 3
    values: list[int] = []
    pos = 2
    for _ in range(wanted):
        match = _PNM_TOKEN.match(data, pos)
        if match is None or not match.group(1).isdigit():
            raise _Bad(
                "truncated PNM (the file ends inside its header)"
                if match is None
                else "corrupt PNM header"
            )
        values.append(int(match.group(1)))
        pos = match.end()
    width, height = values[0], values[1]
    maxval = values[2] if wanted == 3 else 1
    if not 1 <= maxval <= 65535:
        raise _Bad("corrupt PNM header (bad maximum value)")
    _check_size((width, height))
    raster = pos + 1  # exactly one whitespace byte ends the header
    sample_bytes = 2 if maxval > 255 else 1
    expected = {
        b"4": (width + 7) // 8 * height,
        b"5": width * height * sample_bytes,
        b"6": width * height * 3 * sample_bytes,
    }.get(kind)
    if expected is not None and len(data) - raster < expected:
        raise _Bad("truncated PNM (the file ends before all pixel rows)")
    return ImageInfo("PNM", ((width, height),), (None,), (1,))


def _parse_pam(data: bytes) -> ImageInfo:
    end = data.find(b"ENDHDR\n")
    if end < 0:
        raise _Bad("truncated PNM (the file ends inside its PAM header)")
    fields: dict[bytes, bytes] = {}
    for line in data[3:end].splitlines():
        parts = line.split(None, 1)
        if parts and not parts[0].startswith(b"#"):
            fields[parts[0]] = parts[1].strip() if len(parts) > 1 else b""
    try:
        width, height = int(fields[b"WIDTH"]), int(fields[b"HEIGHT"])
        depth, maxval = int(fields[b"DEPTH"]), int(fields[b"MAXVAL"])
    except (KeyError, ValueError):
        raise _Bad("corrupt PNM header (PAM without WIDTH, HEIGHT, DEPTH or MAXVAL)") from None
    _check_size((width, height))
    expected = width * height * depth * (2 if maxval > 255 else 1)
    if len(data) - (end + 7) < expected:
        raise _Bad("truncated PNM (the file ends before all pixel rows)")
    return ImageInfo("PNM", ((width, height),), (None,), (1,))


# --- TIFF (also the container of EXIF data) ---------------------------------------------------

_TIFF_TYPES = {  # type code: (struct format, size in bytes)
    1: ("B", 1), 2: ("B", 1), 3: ("H", 2), 4: ("I", 4), 5: ("II", 8), 6: ("b", 1), 7: ("B", 1),
    8: ("h", 2), 9: ("i", 4), 10: ("ii", 8), 11: ("f", 4), 12: ("d", 8), 13: ("I", 4),
    16: ("Q", 8), 17: ("q", 8), 18: ("Q", 8),
}  # fmt: skip
_WANTED_TAGS = {254, 255, 256, 257, 259, 266, 273, 274, 279, 282, 283, 296, 324, 325}


def _tiff_directories(data: bytes, *, first_only: bool = False) -> list[dict[int, tuple]]:
    """The tags we use from each image file directory (IFD) of a TIFF or EXIF block."""
    if len(data) < 8:
        raise _Bad("truncated TIFF (the file ends inside its header)")
    order = "<" if data[:2] == b"II" else ">"
    (magic,) = struct.unpack(order + "H", data[2:4])
    big = magic == 43
    if big:
        if len(data) < 16:
            raise _Bad("truncated TIFF (the file ends inside its header)")
        (offset,) = struct.unpack(order + "Q", data[8:16])
        # BigTIFF: 8-byte entry counts, value counts and offsets; 20-byte entries.
        entries_fmt, count_fmt, offset_fmt, entry_size = "Q", "Q", "Q", 20
    else:
        (offset,) = struct.unpack(order + "I", data[4:8])
        entries_fmt, count_fmt, offset_fmt, entry_size = "H", "I", "I", 12
    entries_size = struct.calcsize(entries_fmt)
    count_size = struct.calcsize(count_fmt)
    offset_size = inline_size = struct.calcsize(offset_fmt)
    directories: list[dict[int, tuple]] = []
    visited: set[int] = set()
    while offset:
        if offset in visited:
            raise _Bad("corrupt TIFF (its directories form a loop)")
        if len(directories) >= MAX_TIFF_DIRECTORIES:
            raise _Bad(f"too many pages (more than {MAX_TIFF_DIRECTORIES})")
        visited.add(offset)
        if offset + entries_size > len(data):
            raise _Bad("truncated TIFF (a page directory lies past the end of the file)")
        (n_entries,) = struct.unpack(order + entries_fmt, data[offset : offset + entries_size])
        table = offset + entries_size
        next_at = table + n_entries * entry_size
        if next_at + offset_size > len(data):
            raise _Bad("truncated TIFF (a page directory lies past the end of the file)")
        tags: dict[int, tuple] = {}
        for i in range(n_entries):
            at = table + i * entry_size
            tag, kind = struct.unpack(order + "HH", data[at : at + 4])
            if tag not in _WANTED_TAGS or kind not in _TIFF_TYPES:
                continue
            (count,) = struct.unpack(order + count_fmt, data[at + 4 : at + 4 + count_size])
            fmt, size = _TIFF_TYPES[kind]
            value_at = at + 4 + count_size
            if size * count > inline_size:
                (value_at,) = struct.unpack(
                    order + offset_fmt, data[value_at : value_at + offset_size]
                )
            if value_at + size * count > len(data):
                raise _Bad("truncated TIFF (a tag's value lies past the end of the file)")
            values = struct.unpack(
                f"{order}{count * len(fmt)}{fmt[0]}", data[value_at : value_at + size * count]
            )
            if kind in (5, 10):  # rationals: numerator, denominator pairs
                values = tuple(
                    n / d if d else 0.0 for n, d in zip(values[::2], values[1::2], strict=True)
                )
            tags[tag] = values
        directories.append(tags)
        if first_only:
            break
        (offset,) = struct.unpack(order + offset_fmt, data[next_at : next_at + offset_size])
    return directories


def _tiff_dpi(tags: dict[int, tuple]) -> float | None:
    unit = tags.get(296, (2,))[0]  # 1: no unit, 2: inch (the default), 3: centimetre
    if unit not in (2, 3) or 282 not in tags or 283 not in tags:
        return None
    per_inch = 1.0 if unit == 2 else 2.54
    return _mean_dpi(tags[282][0] * per_inch, tags[283][0] * per_inch)


def _parse_tiff(data: bytes) -> ImageInfo:
    directories = _tiff_directories(data)
    sizes: list[tuple[int, int]] = []
    dpis: list[float | None] = []
    orientations: list[int] = []
    indexes: list[int] = []
    for index, tags in enumerate(directories):
        # Reduced-resolution copies (thumbnails, previews) are not pages.
        if tags.get(254, (0,))[0] & 1 or tags.get(255, (1,))[0] == 2:
            continue
        if 256 not in tags or 257 not in tags:
            raise _Bad(f"corrupt TIFF (page {len(sizes) + 1} has no width or height)")
        size = (tags[256][0], tags[257][0])
        size = _check_size(size)
        for offsets_tag, counts_tag in ((273, 279), (324, 325)):
            offsets, counts = tags.get(offsets_tag, ()), tags.get(counts_tag, ())
            if any(o + c > len(data) for o, c in zip(offsets, counts, strict=False)):
                raise _Bad(f"truncated TIFF (page {len(sizes) + 1}'s pixel data is cut off)")
            if tags.get(259, (1,))[0] == 4:  # CCITT Group 4 (T.6)
                lsb_first = tags.get(266, (1,))[0] == 2
                for o, c in zip(offsets, counts, strict=False):
                    if _g4_has_a_hole(data[o : o + c], lsb_first=lsb_first):
                        raise _Bad(
                            f"corrupt or truncated TIFF data (page {len(sizes) + 1}'s Group 4 "
                            "fax data breaks off in a run of zero bits, as in a file that was "
                            "never completely written)"
                        )
        sizes.append(size)
        dpis.append(_tiff_dpi(tags))
        orientations.append(_orientation(tags))
        indexes.append(index)
    if not sizes:
        raise _Bad("corrupt TIFF (no pages)")
    return ImageInfo("TIFF", tuple(sizes), tuple(dpis), tuple(orientations), tuple(indexes))


# Zero bits allowed after the last code: the fill of its byte and a few bytes of padding.
_G4_MAX_FILL_BITS = 40


def _g4_has_a_hole(strip: bytes, *, lsb_first: bool) -> bool:
    """True when Group 4 (T.6) data holds a run of zero bits that no coder writes.

    No T.6 code starts with more than seven zeros or ends with more than three, so eleven in a
    row only begin an EOL, and G4 has EOLs only in the EOFB (two EOLs) that may close the data;
    whatever an encoder writes after the EOFB is padding (real files carry a byte or so there),
    and without one, at most a few bytes of zero fill follow the last code. A block of zero
    bytes anywhere else is a hole, where the file was preallocated or copied but its data
    never written.
    """
    bits = np.unpackbits(np.frombuffer(strip, np.uint8), bitorder="little" if lsb_first else "big")
    ones = np.flatnonzero(bits)
    if ones.size == 0:
        return bits.size > 0
    zeros_before = np.diff(np.concatenate(([-1], ones))) - 1
    long_runs = np.flatnonzero(zeros_before >= 11)
    if long_runs.size == 0:
        return bool(bits.size - 1 - ones[-1] > _G4_MAX_FILL_BITS)
    first = int(long_runs[0])
    closes_with_eofb = first + 1 < ones.size and zeros_before[first + 1] == 11
    return not closes_with_eofb


@dataclass(frozen=True)
class _Exif:
    orientation: int = 1
    dpi: float | None = None


def _exif(block: bytes) -> _Exif:
    """Orientation and resolution from an EXIF block (a little TIFF); damage is ignored."""
    if block[:4] not in (b"II*\x00", b"MM\x00*"):
        return _Exif()
    try:
        directories = _tiff_directories(block, first_only=True)
    except (_Bad, struct.error):
        return _Exif()  # a broken EXIF block does not make the image unreadable
    tags = directories[0] if directories else {}
    return _Exif(_orientation(tags), _tiff_dpi(tags))


def _orientation(tags: dict[int, tuple]) -> int:
    value = tags.get(274, (1,))[0]
    return value if 1 <= value <= 8 else 1


def _mean_dpi(x_dpi: float, y_dpi: float) -> float | None:
    """One resolution for a page; non-square pixels (204x196 dpi fax) get the mean."""
    if not (0 < x_dpi < 100_000 and 0 < y_dpi < 100_000):
        return None
    return round((x_dpi + y_dpi) / 2, 1)


def _check_size(size: tuple[int, int] | None) -> tuple[int, int]:
    if size is None:
        raise _Bad("corrupt image (no size in its header)")
    if size[0] <= 0 or size[1] <= 0:
        raise _Bad(f"corrupt image (its header says {size[0]}x{size[1]} pixels)")
    return size


_PARSERS = {
    "PNG": _parse_png,
    "JPEG": _parse_jpeg,
    "TIFF": _parse_tiff,
    "PNM": _parse_pnm,
    "WebP": _parse_webp,
}


def _check_pixel_limit(info: ImageInfo, max_pixels: int) -> None:
    remedy = "raise ocr.max_pixels in the configuration if the scan is genuine"
    for number, (width, height) in enumerate(info.sizes, start=1):
        if width * height > max_pixels:
            where = f"page {number} is" if len(info.sizes) > 1 else "image is"
            raise _Bad(
                f"too many pixels: {where} {width}x{height} = {_megapixels(width * height)}, "
                f"over the limit of {_megapixels(max_pixels)} (ocr.max_pixels, a guard against "
                f"decompression bombs); {remedy}"
            )
    total = sum(width * height for width, height in info.sizes)
    total_limit = TOTAL_PIXELS_FACTOR * max_pixels
    if total > total_limit:
        raise _Bad(
            f"too many pixels: {len(info.sizes)} pages with {_megapixels(total)} in all, over "
            f"{TOTAL_PIXELS_FACTOR} x ocr.max_pixels = {_megapixels(total_limit)}; {remedy}"
        )


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.4g} megapixels"


# ---------------------------------------------------------------------------------------------
# Decoding


def _decode(data: bytes, info: ImageInfo) -> list[PageImage]:
    decoded = [_decode_jpeg(data)] if info.format == "JPEG" else _decode_with_opencv(data, info)
    if info.format == "TIFF":
        decoded = _select_tiff_pages(decoded, info)
    # OpenCV's TIFF decoder applies the orientation tag itself; for the rest we do.
    applied_by_decoder = info.format == "TIFF"
    pages = []
    for number, (image, size, dpi, orientation) in enumerate(
        zip(decoded, info.sizes, info.dpi, info.orientations, strict=True), start=1
    ):
        expected = size[::-1] if applied_by_decoder and orientation >= 5 else size
        if (image.shape[1], image.shape[0]) != tuple(expected):
            raise _Bad(
                f"corrupt {info.format} (page {number} decoded to {image.shape[1]}x"
                f"{image.shape[0]} pixels, its header says {size[0]}x{size[1]})"
            )
        gray = to_gray8(image)
        if not applied_by_decoder:
            gray = apply_orientation(gray, orientation)
        pages.append(PageImage(number, np.ascontiguousarray(gray), dpi))
    return pages


def _select_tiff_pages(decoded: list[np.ndarray], info: ImageInfo) -> list[np.ndarray]:
    if len(decoded) == len(info.sizes):
        return decoded
    if len(decoded) > max(info.directories):
        return [decoded[i] for i in info.directories]
    raise _Bad(f"corrupt TIFF (decoded {len(decoded)} of its {len(info.sizes)} pages)")


def _decode_jpeg(data: bytes) -> np.ndarray:
    """The luma plane, from libjpeg-turbo in strict mode: data that is damaged or cut short (a
    scan closed early by an end-of-image marker) raises ValueError instead of being filled with
    grey, as OpenCV's decoder does without a word in its interface."""
    try:
        gray = simplejpeg.decode_jpeg(data, colorspace="GRAY", strict=True)
    except ValueError:
        raise _Bad(
            "corrupt or truncated JPEG data (the decoder found its image data damaged or cut "
            "short; if it opens elsewhere, save it again)"
        ) from None
    return gray[:, :, 0]


def _decode_with_opencv(data: bytes, info: ImageInfo) -> list[np.ndarray]:
    """Every page as stored (alpha and 16-bit samples are ours to map); raises _Bad when
    OpenCV returns nothing, which it does for anything its decoders give up on."""
    buffer = np.frombuffer(data, np.uint8)
    try:
        if info.format == "TIFF":
            ok, mats = cv2.imdecodemulti(buffer, cv2.IMREAD_UNCHANGED)
            decoded = list(mats) if ok else []
        else:
            image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
            decoded = [] if image is None else [image]
    except cv2.error:
        decoded = []
    if decoded:
        return decoded
    if max(w * h for w, h in info.sizes) > _OPENCV_MAX_PIXELS:
        raise _Bad(
            f"too many pixels for OpenCV's decoder (over {_megapixels(_OPENCV_MAX_PIXELS)}); "
            "set the environment variable OPENCV_IO_MAX_IMAGE_PIXELS to decode it"
        )
    why = _png_pixel_data_problem(data) if info.format == "PNG" else ""
    raise _Bad(f"corrupt or truncated {info.format} data ({why or 'its decoder gave up on it'})")


_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2))  # fmt: skip


def _png_pixel_data_problem(data: bytes) -> str:
    """Why a PNG whose chunks are whole has no pixels: its IDAT stream inflated here and
    measured against what IHDR calls for. Only run once libpng has refused the file."""
    width, height, depth, colour, _, _, interlaced = struct.unpack(">IIBBBBB", data[16:29])
    bits = _PNG_CHANNELS.get(colour, 0) * depth
    if not bits:
        return "its header gives an invalid colour type"
    passes = _ADAM7 if interlaced else ((0, 0, 1, 1),)
    needed = 0
    for x0, y0, dx, dy in passes:
        columns, rows = -(-(width - x0) // dx), -(-(height - y0) // dy)
        if columns > 0 and rows > 0:
            needed += rows * (1 + -(-columns * bits // 8))
    stream = zlib.decompressobj()
    inflated = 0
    pos = 8
    try:
        while pos + 8 <= len(data) and inflated <= needed:
            length, kind = struct.unpack(">I4s", data[pos : pos + 8])
            if kind == b"IDAT":
                chunk = data[pos + 8 : pos + 8 + length]
                while chunk and inflated <= needed:
                    inflated += len(stream.decompress(chunk, 1 << 20))
                    chunk = stream.unconsumed_tail
            pos += 12 + length
    except zlib.error:
        return "its compressed pixel data is damaged"
    if inflated < needed:
        if not interlaced:
            row = 1 + -(-width * bits // 8)
            return f"its pixel data ends after {inflated // row} of {height} rows"
        return f"its pixel data holds {inflated} of the {needed} bytes its header calls for"
    return ""


# ---------------------------------------------------------------------------------------------
# Pixels


def to_gray8(image: np.ndarray) -> np.ndarray:
    """Any decoded image (gray, BGR, BGRA; 8/16-bit or float) as uint8 gray, alpha over white."""
    alpha = None
    if image.ndim == 3:
        channels = image.shape[2]
        if channels == 1:
            image = image[:, :, 0]
        elif channels == 2:
            image, alpha = image[:, :, 0], image[:, :, 1]
        elif channels == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        elif channels == 4:
            image, alpha = cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY), image[:, :, 3]
        else:
            raise _Bad(f"unsupported image layout ({channels} channels)")
    full_scale = _full_scale(image.dtype)
    if alpha is None:
        if image.dtype == np.uint8:
            return image
        scaled = np.clip(image.astype(np.float32) * (255.0 / full_scale), 0, 255)
        return np.rint(scaled).astype(np.uint8)
    coverage = np.clip(alpha.astype(np.float32) / _full_scale(alpha.dtype), 0.0, 1.0)
    level = image.astype(np.float32) * (255.0 / full_scale)
    composite = level * coverage + 255.0 * (1.0 - coverage)
    return np.rint(np.clip(composite, 0, 255)).astype(np.uint8)


def _full_scale(dtype: np.dtype) -> float:
    if dtype == np.uint8:
        return 255.0
    if dtype == np.uint16:
        return 65535.0
    if np.issubdtype(dtype, np.floating):
        return 1.0
    raise _Bad(f"unsupported sample type {dtype}")


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """The image as it should be shown, given its EXIF orientation (1..8)."""
    if orientation in (5, 6, 7, 8):
        # 5: transpose, 6: rotate 90 clockwise, 7: transverse, 8: rotate 90 counter-clockwise
        image = image.T if image.ndim == 2 else image.transpose(1, 0, *range(2, image.ndim))
        flip = {5: None, 6: 1, 7: (0, 1), 8: 0}[orientation]
    else:
        # 1: as stored, 2: mirrored left-right, 3: rotated 180, 4: mirrored top-bottom
        flip = {1: None, 2: 1, 3: (0, 1), 4: 0}.get(orientation)
    return image if flip is None else np.flip(image, flip)


# ---------------------------------------------------------------------------------------------
# The file


def _read_file(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise ScanError(path, "is a directory, not an image file")
        if not stat.S_ISREG(mode):
            raise ScanError(path, "is not a regular file (a device, pipe or socket)")
        return path.read_bytes()
    except FileNotFoundError:
        raise ScanError(path, "file not found") from None
    except PermissionError:
        raise ScanError(path, "cannot read the file: permission denied") from None
    except IsADirectoryError:
        raise ScanError(path, "is a directory, not an image file") from None
    except OSError as error:
        raise ScanError(path, f"cannot read the file: {error.strerror or error}") from None
