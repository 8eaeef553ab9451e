"""Reading scans: every format and sample layout to upright 8-bit gray, and every bad file to a
clear ScanError. All images are generated here, with OpenCV or Pillow, or by hand where a
writer cannot produce the case (MinIsWhite TIFF, thumbnails, a header claiming a huge size)."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from scandex.errors import ScanError
from scandex.ocr.io import PageImage, decode_pages, load_pages, probe

RNG = np.random.default_rng(7)
GRADIENT = np.tile(np.arange(256, dtype=np.uint8), (12, 1))  # 256 x 12, value = x


def encode(ext: str, image: np.ndarray, params: list[int] | None = None) -> bytes:
    ok, buffer = cv2.imencode(ext, image, params or [])
    assert ok
    return buffer.tobytes()


def pillow(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def one_page(data: bytes, name: str = "scan", **kw) -> PageImage:
    pages = decode_pages(data, name, **kw)
    assert len(pages) == 1
    page = pages[0]
    assert page.number == 1
    assert page.gray.dtype == np.uint8 and page.gray.ndim == 2
    assert page.gray.flags.c_contiguous
    return page


def hand_tiff(pages: list[tuple[np.ndarray, dict[int, int]]]) -> bytes:
    """A little-endian, uncompressed 8-bit gray TIFF; extra SHORT/LONG tags per page."""
    out = bytearray(b"II*\x00\x00\x00\x00\x00")
    link_at = 4  # where the offset of the next directory goes
    for pixels, extra in pages:
        height, width = pixels.shape
        strip_at = len(out)
        out += pixels.tobytes()
        if len(out) % 2:
            out += b"\x00"
        tags = {256: width, 257: height, 258: 8, 259: 1, 262: 1, 273: strip_at, 277: 1}
        tags |= {278: height, 279: pixels.size} | extra
        directory_at = len(out)
        struct.pack_into("<I", out, link_at, directory_at)
        out += struct.pack("<H", len(tags))
        for tag in sorted(tags):
            out += struct.pack("<HHII", tag, 4, 1, tags[tag])
        link_at = len(out)
        out += b"\x00\x00\x00\x00"
    return bytes(out)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def expect_error(data: bytes, *fragments: str, name: str = "bad.img", **kw) -> ScanError:
    with pytest.raises(ScanError) as caught:
        decode_pages(data, name, **kw)
    error = caught.value
    assert error.path == name
    message = str(error)
    assert message.startswith(f"{name}: ")
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return error


# --- formats and sample layouts ---------------------------------------------------------------


def test_png_8bit_gray_is_exact():
    page = one_page(encode(".png", GRADIENT))
    assert np.array_equal(page.gray, GRADIENT)
    assert page.dpi is None


def test_png_16bit_gray_is_scaled_to_8bit():
    wide = GRADIENT.astype(np.uint16) * 257  # 0..65535
    wide[0, 0] = 128  # 128/257 rounds to 0
    wide[0, 1] = 65535 - 100  # rounds to 255
    page = one_page(encode(".png", wide))
    expected = GRADIENT.copy()
    expected[0, 1] = 255
    assert np.array_equal(page.gray, expected)


def test_png_rgb_uses_luma_weights():
    colors = np.array([[[0, 0, 255], [0, 255, 0], [255, 0, 0], [255, 255, 255]]], np.uint8)  # BGR
    page = one_page(encode(".png", colors))
    # ITU-R BT.601: 0.299 R + 0.587 G + 0.114 B
    assert page.gray.tolist() == [[76, 150, 29, 255]]


def test_png_rgba_is_composited_on_white():
    bgra = np.zeros((1, 4, 4), np.uint8)  # black everywhere
    bgra[0, :, 3] = [0, 255, 128, 64]  # alpha
    page = one_page(encode(".png", bgra))
    assert page.gray.tolist() == [[255, 0, 127, 191]]


def test_png_16bit_rgba_is_composited_on_white():
    bgra = np.zeros((1, 3, 4), np.uint16)
    bgra[0, :, 3] = [0, 65535, 32768]
    page = one_page(encode(".png", bgra))
    assert page.gray.tolist() == [[255, 0, 127]]


def test_png_gray_with_alpha():
    la = np.dstack([np.zeros((2, 2), np.uint8), np.array([[0, 255], [255, 0]], np.uint8)])
    page = one_page(pillow(Image.fromarray(la, "LA"), "PNG"))
    assert page.gray.tolist() == [[255, 0], [0, 255]]


def test_png_palette():
    rgb = np.zeros((4, 8, 3), np.uint8)
    rgb[:, 4:] = (255, 255, 255)
    rgb[0, 0] = (255, 0, 0)
    image = Image.fromarray(rgb).quantize(colors=4)
    assert image.mode == "P"
    page = one_page(pillow(image, "PNG"))
    assert page.gray[0, 0] == 76  # red through the palette
    assert (page.gray[:, 4:] == 255).all() and (page.gray[1:, :4] == 0).all()


def test_png_palette_with_transparent_entry_becomes_white():
    image = Image.fromarray(np.array([[0, 1]], np.uint8), "P")
    image.putpalette([0, 0, 0, 0, 0, 0] + [0] * 762)  # both entries black
    page = one_page(pillow(image, "PNG", transparency=1))
    assert page.gray.tolist() == [[0, 255]]


def test_png_1bit():
    bits = np.zeros((9, 17), bool)
    bits[2:5, 3:11] = True
    page = one_page(pillow(Image.fromarray(bits).convert("1"), "PNG"))
    assert np.array_equal(page.gray, np.where(bits, 255, 0).astype(np.uint8))


def test_png_resolution_from_phys():
    page = one_page(pillow(Image.fromarray(GRADIENT), "PNG", dpi=(300, 300)))
    assert page.dpi == 300.0


def test_blank_page_is_a_page():
    page = one_page(encode(".png", np.full((40, 30), 255, np.uint8)))
    assert (page.gray == 255).all() and page.gray.shape == (40, 30)


def test_content_decides_not_extension(tmp_path: Path):
    path = tmp_path / "scan.jpg"  # really a PNG
    path.write_bytes(encode(".png", GRADIENT))
    [page] = load_pages(path)
    assert np.array_equal(page.gray, GRADIENT)


def test_jpeg_gray_and_color_and_jfif_resolution():
    blocks = np.kron(np.array([[0, 255], [128, 64]], np.uint8), np.ones((16, 16), np.uint8))
    page = one_page(pillow(Image.fromarray(blocks), "JPEG", quality=95, dpi=(200, 200)))
    assert np.abs(page.gray.astype(int) - blocks).max() <= 3
    assert page.dpi == 200.0
    color = np.dstack([blocks, blocks, blocks])
    page = one_page(encode(".jpg", color, [cv2.IMWRITE_JPEG_QUALITY, 95]))
    assert np.abs(page.gray.astype(int) - blocks).max() <= 3


def test_jpeg_cmyk():
    image = Image.new("CMYK", (16, 8), (0, 0, 0, 0))  # no ink: white
    image.paste((0, 0, 0, 255), (0, 0, 8, 8))  # full black ink on the left half
    gray = one_page(pillow(image, "JPEG", quality=95)).gray
    assert (gray[:, :6] <= 3).all() and (gray[:, 10:] >= 252).all()


def orientation_test_image() -> np.ndarray:
    """An asymmetric 48x32 picture: every one of the 8 orientations gives a different image."""
    picture = np.full((32, 48), 255, np.uint8)
    picture[0:16, 0:16] = 0  # dark top-left corner
    picture[24:32, 40:48] = 128  # gray bottom-right corner
    return picture


@pytest.mark.parametrize("orientation", range(1, 9))
def test_jpeg_exif_orientation_matches_pillow(orientation: int):
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = pillow(Image.fromarray(orientation_test_image()), "JPEG", quality=95, exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("L"))
    page = one_page(data)
    assert page.gray.shape == expected.shape
    assert np.abs(page.gray.astype(int) - expected).max() <= 2


def test_jpeg_exif_resolution_when_no_jfif_density():
    exif = Image.Exif()
    exif[0x011A] = 150.0  # XResolution
    exif[0x011B] = 150.0
    exif[0x0128] = 2  # inches
    # OpenCV writes JFIF with "no units" density, so only EXIF can give the resolution.
    plain = encode(".jpg", orientation_test_image())
    assert probe(plain).dpi == (None,)
    soi, rest = plain[:2], plain[2:]
    app1 = exif.tobytes()  # Pillow includes the "Exif" identifier
    data = soi + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + rest
    assert one_page(data).dpi == 150.0


def test_tiff_multipage_every_page_numbered_from_one():
    images = [Image.fromarray(np.full((20 + i, 30 + i), 60 * i, np.uint8)) for i in range(3)]
    data = pillow(images[0], "TIFF", save_all=True, append_images=images[1:], dpi=(300, 300))
    pages = decode_pages(data, "multi.tif")
    assert [p.number for p in pages] == [1, 2, 3]
    assert [p.gray.shape for p in pages] == [(20, 30), (21, 31), (22, 32)]
    assert [int(p.gray[0, 0]) for p in pages] == [0, 60, 120]
    assert [p.dpi for p in pages] == [300.0, 300.0, 300.0]


@pytest.mark.parametrize("compression", ["raw", "tiff_lzw", "tiff_adobe_deflate", "group4"])
def test_tiff_1bit_with_each_compression(compression: str):
    bits = np.zeros((30, 41), bool)
    bits[5:9, 3:30] = True
    image = Image.fromarray(bits).convert("1")
    page = one_page(pillow(image, "TIFF", compression=compression))
    assert np.array_equal(page.gray, np.where(bits, 255, 0).astype(np.uint8))


def test_tiff_white_is_zero_photometric():
    ink = GRADIENT.copy()
    page = one_page(hand_tiff([(ink, {262: 0})]))  # PhotometricInterpretation = WhiteIsZero
    assert np.array_equal(page.gray, 255 - ink)


def test_tiff_16bit_rgb_and_rgba():
    wide = np.dstack([GRADIENT.astype(np.uint16) * 257] * 3)
    assert np.array_equal(one_page(encode(".tiff", wide)).gray, GRADIENT)
    bgra = np.zeros((1, 2, 4), np.uint8)
    bgra[0, :, 3] = [0, 255]
    assert one_page(encode(".tiff", bgra)).gray.tolist() == [[255, 0]]


def test_tiff_resolution_in_centimetres():
    data = pillow(Image.fromarray(GRADIENT), "TIFF", resolution=118.0, resolution_unit=3)
    assert one_page(data).dpi == round(118 * 2.54, 1)


def test_tiff_thumbnail_directory_is_not_a_page():
    thumbnail = np.full((3, 4), 9, np.uint8)
    data = hand_tiff([(GRADIENT, {}), (thumbnail, {254: 1}), (GRADIENT[:5], {})])
    pages = decode_pages(data, "thumbs.tif")
    assert [p.number for p in pages] == [1, 2]
    assert [p.gray.shape for p in pages] == [GRADIENT.shape, (5, 256)]


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_tiff_orientation_matches_pillow(orientation: int):
    data = pillow(Image.fromarray(orientation_test_image()), "TIFF", tiffinfo={274: orientation})
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))))
    assert np.array_equal(one_page(data).gray, expected)


def test_bigtiff():
    data = pillow(Image.fromarray(GRADIENT), "TIFF", big_tiff=True)
    assert data[:4] == b"II+\x00"
    assert np.array_equal(one_page(data).gray, GRADIENT)


@pytest.mark.parametrize("ext", [".pgm", ".ppm", ".pam"])
def test_pnm_binary(ext: str):
    image = GRADIENT if ext == ".pgm" else np.dstack([GRADIENT] * 3)
    assert np.array_equal(one_page(encode(ext, image)).gray, GRADIENT)


def test_pnm_16bit_and_ascii_and_bitmap():
    wide = GRADIENT.astype(np.uint16) * 257
    assert np.array_equal(one_page(encode(".pgm", wide)).gray, GRADIENT)
    ascii_gray = b"P2\n# a comment\n3 2\n255\n0 128 255\n255 128 0\n"
    assert one_page(ascii_gray).gray.tolist() == [[0, 128, 255], [255, 128, 0]]
    bitmap = b"P4\n10 2\n" + bytes([0b10000000, 0b01000000, 0, 0])  # 1 = black in PBM
    gray = one_page(bitmap).gray
    assert gray[0, 0] == 0 and gray[0, 9] == 0 and gray[0, 1] == 255 and (gray[1] == 255).all()


def test_webp_lossless_lossy_and_alpha():
    assert np.array_equal(one_page(encode(".webp", GRADIENT)).gray, GRADIENT)  # lossless
    lossy = one_page(encode(".webp", GRADIENT, [cv2.IMWRITE_WEBP_QUALITY, 90])).gray
    assert np.abs(lossy.astype(int) - GRADIENT).mean() < 4
    bgra = np.zeros((8, 8, 4), np.uint8)
    bgra[:, 4:, 3] = 255
    gray = one_page(encode(".webp", bgra)).gray
    assert (gray[:, :4] == 255).all() and (gray[:, 4:] == 0).all()


def test_webp_exif_orientation():
    exif = Image.Exif()
    exif[0x0112] = 6
    data = pillow(Image.fromarray(orientation_test_image()), "WEBP", lossless=True, exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("L"))
    assert np.array_equal(one_page(data).gray, expected)


def test_probe_reads_header_without_decoding():
    data = pillow(Image.fromarray(GRADIENT), "PNG", dpi=(600, 600))
    info = probe(data)
    assert (info.format, info.sizes, info.dpi) == ("PNG", ((256, 12),), (600.0,))


# --- bad input: one test per case -------------------------------------------------------------


def test_missing_file(tmp_path: Path):
    with pytest.raises(ScanError, match="file not found"):
        load_pages(tmp_path / "nope.png")


def test_directory(tmp_path: Path):
    with pytest.raises(ScanError, match="is a directory"):
        load_pages(tmp_path)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "secret.png"
    path.write_bytes(encode(".png", GRADIENT))
    path.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the read itself fail as it would

        def refuse(self: Path) -> bytes:
            raise PermissionError(13, "Permission denied", str(self))

        monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(ScanError, match=r"secret\.png: cannot read the file: permission denied"):
        load_pages(path)


def test_fifo_is_not_read(tmp_path: Path):
    path = tmp_path / "pipe.png"
    os.mkfifo(path)
    with pytest.raises(ScanError, match="not a regular file"):
        load_pages(path)  # must not block


def test_empty_file(tmp_path: Path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ScanError, match=r"empty file \(0 bytes\)"):
        load_pages(path)


def noisy(shape: tuple[int, ...]) -> np.ndarray:
    return RNG.integers(0, 256, shape, dtype=np.uint8)


def test_truncated_png_is_not_a_half_black_page():
    data = encode(".png", noisy((200, 200)))
    expect_error(data[: len(data) // 2], "truncated PNG")
    expect_error(data[:-12], "truncated PNG")  # only the IEND chunk missing


def png_of(width: int, height: int, stream: bytes, *, colour: int = 0, interlaced: int = 0):
    """A PNG of 8-bit samples around `stream`, every chunk complete and checksummed."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, interlaced)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", stream)
        + png_chunk(b"IEND", b"")
    )


def test_png_with_too_few_rows_but_intact_chunks():
    """Every chunk complete and checksummed, but the pixel stream holds only half the rows:
    libpng refuses it (OpenCV returns nothing; libpng prints its own line on stderr, which
    nothing reads) and our own inflate says how much is there."""
    width, height = 64, 64
    rows = b"".join(b"\x00" + noisy((width,)).tobytes() for _ in range(height))
    short = png_of(width, height, zlib.compress(rows[: len(rows) // 2]))
    expect_error(short, "corrupt or truncated PNG data", "ends after 32 of 64 rows")
    # Interlaced (Adam7): counted in bytes, the rows of its seven passes being of many sizes.
    interlaced = png_of(width, height, zlib.compress(rows[:1000]), interlaced=1)
    expect_error(interlaced, "corrupt or truncated PNG data", "holds 1000 of the 4216 bytes")


def test_png_with_damaged_compressed_data_but_intact_chunks():
    rows = b"".join(b"\x00" + noisy((64,)).tobytes() for _ in range(64))
    stream = bytearray(zlib.compress(rows))
    stream[2:12] = b"\xff" * 10  # inside the deflate blocks, checksummed again by png_chunk
    expect_error(png_of(64, 64, bytes(stream)), "corrupt or truncated PNG data", "damaged")


def test_corrupt_png_chunk_and_no_stderr(capfd):
    data = bytearray(encode(".png", noisy((200, 200))))
    data[len(data) // 2] ^= 0xFF
    expect_error(bytes(data), "corrupt PNG", "checksum")
    assert capfd.readouterr().err == ""


def test_truncated_jpeg():
    data = encode(".jpg", noisy((200, 200)))
    expect_error(data[: len(data) // 2], "truncated JPEG", "end-of-image")
    expect_error(data[:300], "truncated JPEG")  # inside the header


def test_jpeg_cut_and_closed_is_caught_by_the_strict_decoder(capfd):
    data = encode(".jpg", noisy((200, 200)))
    cut = data[: len(data) // 2] + b"\xff\xd9"
    expect_error(cut, "corrupt or truncated JPEG data", "damaged or cut short", "save it again")
    assert capfd.readouterr().err == ""  # libjpeg-turbo's warning raised, not printed


def test_jpeg_with_stray_bytes_after_its_image_data_is_refused():
    """libjpeg-turbo's strict mode stops on every warning, this harmless one too (TurboJPEG
    reports a warning's kind, not which one): the price of never reading a JPEG whose data ran
    out. A byte or two may pass, as far as the decoder had read ahead; saving it again fixes
    it."""
    data = encode(".jpg", noisy((64, 64)))
    assert one_page(data).gray.shape == (64, 64)
    expect_error(data[:-2] + bytes(64) + b"\xff\xd9", "corrupt or truncated JPEG data")


def test_jpeg_of_twelve_bit_samples_is_named_unsupported():
    data = bytearray(encode(".jpg", noisy((16, 16))))
    sof = data.index(b"\xff\xc0")
    data[sof + 4] = 12  # the frame header's sample precision
    expect_error(bytes(data), "unsupported JPEG (12-bit samples")


def test_truncated_tiff_pages():
    images = [Image.fromarray(noisy((100, 100))) for _ in range(3)]
    data = pillow(images[0], "TIFF", save_all=True, append_images=images[1:])
    expect_error(data[: len(data) - 200], "truncated TIFF")
    expect_error(data[:6], "truncated TIFF")


def test_damaged_fax_tiff_and_no_stderr(capfd):
    bits = noisy((200, 200)) > 128
    data = bytearray(pillow(Image.fromarray(bits).convert("1"), "TIFF", compression="group4"))
    data[len(data) // 3 : len(data) // 3 + 40] = bytes(40)
    expect_error(bytes(data), "corrupt or truncated TIFF data")
    assert capfd.readouterr().err == ""


def test_fax_tiff_holes_are_found_in_either_bit_order_and_at_the_end():
    """Group 4 data never holds eleven zero bits in a row but in its closing EOFB: a block of
    zero bytes, as where a file was never completely written, is a hole wherever it is."""
    page = np.asarray(Image.open(io.BytesIO(encode(".png", GRADIENT))))
    text = np.kron(page < 128, np.ones((8, 2), bool))  # bars of 8 rows: many codes per line
    for fill_order in (1, 2):
        tiff = pillow(Image.fromarray(text).convert("1"), "TIFF", compression="group4",
                      tiffinfo={266: fill_order})  # fmt: skip
        assert one_page(tiff).gray.shape == text.shape
        info = probe(tiff)
        assert info.format == "TIFF"
    strip_at = 8  # Pillow writes the strip right after the header
    data = bytearray(tiff)
    data[strip_at + 20 : strip_at + 24] = bytes(4)
    expect_error(bytes(data), "corrupt or truncated TIFF data", "Group 4", "run of zero bits")


def test_g4_hole_rule_accepts_real_pages():
    """No false alarm on real Group 4 coding: synthetic scans of text at two resolutions."""
    from synth import render_page

    for seed, dpi in ((1, 150), (2, 300)):
        image = render_page("one_column", dpi=dpi, seed=seed).image
        bits = Image.fromarray(image).convert("L").point(lambda v: 255 if v > 128 else 0)
        data = pillow(bits.convert("1"), "TIFF", compression="group4")
        assert one_page(data).gray.shape == image.shape[:2]


def test_g4_data_may_carry_padding_after_its_eofb():
    """Real fax encoders write a byte or so after the closing EOFB (the dev scans' encoder
    did): that is no hole; a block of zeros before the EOFB still is."""
    from scandex.ocr.io import _g4_has_a_hole

    codes = bytes([0b10110100, 0b01101101])  # vertical-mode codes: no long zero run
    eofb = bytes([0x00, 0x10, 0x01])
    assert not _g4_has_a_hole(codes + eofb, lsb_first=False)
    assert not _g4_has_a_hole(codes + eofb + b"\x01", lsb_first=False)
    assert not _g4_has_a_hole(codes + eofb + b"\x00\x80", lsb_first=False)
    assert _g4_has_a_hole(codes + bytes(4) + codes + eofb, lsb_first=False)
    assert _g4_has_a_hole(codes + bytes(8), lsb_first=False)


def test_tiff_directory_loop():
    data = bytearray(hand_tiff([(GRADIENT, {})]))
    (first,) = struct.unpack_from("<I", data, 4)
    (entries,) = struct.unpack_from("<H", data, first)
    struct.pack_into("<I", data, first + 2 + 12 * entries, first)  # next directory = itself
    expect_error(bytes(data), "corrupt TIFF", "loop")


def test_truncated_webp_and_pnm():
    webp = encode(".webp", noisy((100, 100, 3)))
    expect_error(webp[: len(webp) // 2], "truncated WebP")
    pgm = encode(".pgm", noisy((100, 100)))
    expect_error(pgm[: len(pgm) // 2], "truncated PNM")
    expect_error(b"P5\n100", "truncated PNM")


def test_text_file_named_png(tmp_path: Path):
    path = tmp_path / "notes.png"
    path.write_text("Dear diary,\nthis is not a picture.\n")
    with pytest.raises(ScanError, match=r"notes\.png: not an image \(the file contains text\)"):
        load_pages(path)


def test_random_bytes_are_not_an_image():
    expect_error(bytes(range(7, 200)), "not an image", "07 08 09 0a")


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (pillow(Image.fromarray(GRADIENT), "GIF"), "GIF"),
        (pillow(Image.fromarray(GRADIENT), "BMP"), "BMP"),
    ],
)
def test_unsupported_formats_are_named(data: bytes, kind: str):
    expect_error(data, f"unsupported image format {kind}", "PNG, JPEG, TIFF, PNM and WebP")


def test_decompression_bomb_is_refused_from_the_header():
    ihdr = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 0, 0, 0, 0)
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + png_chunk(b"IEND", b"")
    )
    error = expect_error(bomb, "too many pixels", "50000x50000", "ocr.max_pixels")
    assert "2500 megapixels" in error.reason and "200 megapixels" in error.reason


def test_pixel_limit_is_configurable():
    data = encode(".png", noisy((100, 100)))
    expect_error(data, "too many pixels", "0.005 megapixels", max_pixels=5_000)
    assert one_page(data, max_pixels=10_000).gray.shape == (100, 100)


def test_total_pixel_limit_over_all_pages():
    images = [Image.fromarray(noisy((10, 10))) for _ in range(6)]
    data = pillow(images[0], "TIFF", save_all=True, append_images=images[1:])
    expect_error(data, "6 pages", "ocr.max_pixels", max_pixels=100)  # 600 > 5 x 100
    assert len(decode_pages(data, "x", max_pixels=120)) == 6


def test_opencv_own_pixel_limit_is_explained():
    """OpenCV reads OPENCV_IO_MAX_IMAGE_PIXELS once per process: try it in a fresh one."""
    root = Path(__file__).resolve().parent.parent
    code = (
        "import cv2, numpy as np\n"
        "from scandex.ocr.io import decode_pages\n"
        "data = cv2.imencode('.png', np.zeros((100, 100), np.uint8))[1].tobytes()\n"
        "decode_pages(data, 'big.png')\n"
    )
    env = dict(os.environ, OPENCV_IO_MAX_IMAGE_PIXELS="5000", PYTHONPATH=str(root))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=120)  # fmt: skip
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("scandex.errors.ScanError: big.png: too many pixels for OpenCV's")
    assert "OPENCV_IO_MAX_IMAGE_PIXELS" in last


def test_why_not_pillow_it_loads_damaged_scans_without_a_word():
    """scandex.ocr.io keeps its own header parsers and decoder checks because Pillow (the
    field's library, evaluated for issue 12) accepts these damaged files as partly blank
    pages, and does not read PAM. If this test fails, Pillow reports them now: consider
    switching (see the module docstring of scandex.ocr.io)."""
    jpeg = encode(".jpg", noisy((200, 200)))
    jpeg_cut = jpeg[: len(jpeg) // 2] + b"\xff\xd9"
    width = height = 64
    rows = b"".join(b"\x00" + noisy((width,)).tobytes() for _ in range(height))
    png_short = (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + png_chunk(b"IDAT", zlib.compress(rows[: len(rows) // 2]))
        + png_chunk(b"IEND", b"")
    )
    fax = bytearray(pillow(Image.fromarray(noisy((200, 200)) > 128).convert("1"), "TIFF",
                           compression="group4"))  # fmt: skip
    fax[len(fax) // 3 : len(fax) // 3 + 40] = bytes(40)
    for damaged in (jpeg_cut, png_short, bytes(fax)):
        Image.open(io.BytesIO(damaged)).load()  # no error from Pillow...
        with pytest.raises(ScanError):
            decode_pages(damaged, "damaged")  # ...but from scandex
    pam = encode(".pam", np.dstack([GRADIENT] * 3))
    with pytest.raises(Exception):  # noqa: B017 (any error: Pillow has no PAM reader)
        Image.open(io.BytesIO(pam)).load()
    assert one_page(pam).gray.shape == GRADIENT.shape
