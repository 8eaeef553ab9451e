"""Page images for the browser are the pages the OCR saw: same pages, same way up, same shape."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from scandex.errors import ScanError
from scandex.ocr.io import load_pages
from scandex.web.images import page_sizes, render_page

pytestmark = pytest.mark.timeout(60)


def pattern(width: int = 300, height: int = 200, seed: int = 0) -> np.ndarray:
    """An asymmetric gray picture: any flip or turn of it is far from it."""
    rng = np.random.default_rng(seed)
    image = np.full((height, width), 235, np.uint8)
    image[10:60, 10:120] = 20  # a dark block top left
    image[height - 40 : height - 10, width - 60 : width - 20] = 120  # a gray one bottom right
    for _ in range(12):
        x, y = int(rng.integers(0, width - 30)), int(rng.integers(0, height - 20))
        image[y : y + 15, x : x + 25] = int(rng.integers(0, 200))
    return image


def rendered(path: Path, page: int = 1, max_side_px: int = 4000) -> np.ndarray:
    data = render_page(path, page, max_side_px=max_side_px, max_pixels=10**9)
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"))


def assert_same_picture(shown: np.ndarray, seen: np.ndarray) -> None:
    """`shown` (the browser's image) is `seen` (the OCR's page), scaled: same shape, same look."""
    assert abs(shown.shape[1] / shown.shape[0] - seen.shape[1] / seen.shape[0]) < 0.02
    scaled = cv2.resize(seen, (shown.shape[1], shown.shape[0]), interpolation=cv2.INTER_AREA)
    difference = np.abs(shown.astype(np.float32) - scaled.astype(np.float32)).mean()
    assert difference < 6.0, difference


# Pillow's transpose that undoes each EXIF orientation; storing the upright picture with the
# opposite transform and the tag gives a file that displays upright.
STORE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("kind", ["JPEG", "TIFF"])
def test_every_orientation_shows_the_page_as_the_ocr_saw_it(
    tmp_path: Path, orientation: int, kind: str
) -> None:
    upright = Image.fromarray(pattern())
    transpose = STORE[orientation]
    stored = upright.transpose(transpose) if transpose is not None else upright
    path = tmp_path / f"o{orientation}.{kind.lower()}"
    if kind == "JPEG":
        exif = Image.Exif()
        exif[0x0112] = orientation
        stored.save(path, "JPEG", quality=95, exif=exif)
    else:
        stored.save(path, "TIFF", tiffinfo={274: orientation})
    (seen,) = load_pages(path)
    assert page_sizes(path) == ((seen.gray.shape[1], seen.gray.shape[0]),)
    assert seen.gray.shape == (200, 300)  # the OCR sees it upright
    assert_same_picture(rendered(path), seen.gray)


def test_each_tiff_page_is_its_own_page(tmp_path: Path) -> None:
    pictures = [pattern(300, 200, 1), pattern(200, 300, 2), pattern(320, 240, 3)]
    path = tmp_path / "book.tif"
    frames = [Image.fromarray(p) for p in pictures]
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="tiff_lzw")
    seen = load_pages(path)
    assert page_sizes(path) == tuple((p.gray.shape[1], p.gray.shape[0]) for p in seen)
    for number, page in enumerate(seen, start=1):
        assert_same_picture(rendered(path, number), page.gray)
    with pytest.raises(ScanError, match="has 3 page"):
        rendered(path, 4)


@pytest.mark.parametrize(
    "kind", ["png16", "rgba", "palette", "bilevel", "cmyk_jpeg", "webp", "pgm16", "rgb_png"]
)
def test_unusual_encodings_become_browser_images(tmp_path: Path, kind: str) -> None:
    gray = pattern()
    path = tmp_path / f"page.{kind}"
    if kind == "png16":
        path = path.with_suffix(".png")
        cv2.imwrite(str(path), gray.astype(np.uint16) * 257)
    elif kind == "pgm16":
        path = path.with_suffix(".pgm")
        cv2.imwrite(str(path), gray.astype(np.uint16) * 257)
    elif kind == "rgba":
        rgba = np.dstack([gray, gray, gray, np.full_like(gray, 255)])
        rgba[150:, :100, 3] = 0  # transparent: paper
        Image.fromarray(rgba, "RGBA").save(path.with_suffix(".png"))
        path = path.with_suffix(".png")
    elif kind == "palette":
        Image.fromarray(gray).convert("P").save(path.with_suffix(".png"))
        path = path.with_suffix(".png")
    elif kind == "bilevel":
        Image.fromarray(gray).convert("1", dither=Image.Dither.NONE).save(path.with_suffix(".png"))
        path = path.with_suffix(".png")
    elif kind == "cmyk_jpeg":
        Image.fromarray(gray).convert("RGB").convert("CMYK").save(
            path.with_suffix(".jpg"), quality=95
        )
        path = path.with_suffix(".jpg")
    elif kind == "webp":
        Image.fromarray(gray).save(path.with_suffix(".webp"), lossless=True)
        path = path.with_suffix(".webp")
    elif kind == "rgb_png":
        Image.fromarray(gray).convert("RGB").save(path.with_suffix(".png"))
        path = path.with_suffix(".png")
    (seen,) = load_pages(path)
    assert_same_picture(rendered(path), seen.gray)


def test_a_large_page_is_scaled_down_with_its_shape(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    big = cv2.resize(pattern(), (3000, 2000), interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(path), big)
    shown = rendered(path, max_side_px=480)
    assert shown.shape == (320, 480)
    assert_same_picture(shown, big)


def test_unreadable_pages_are_named_errors(tmp_path: Path) -> None:
    missing = tmp_path / "gone.png"
    with pytest.raises(ScanError, match="file not found"):
        render_page(missing, 1, max_side_px=100, max_pixels=10**9)
    with pytest.raises(ScanError, match="file not found"):
        page_sizes(missing)
    text = tmp_path / "notes.png"
    text.write_text("not a picture at all")
    with pytest.raises(ScanError, match="not an image"):
        page_sizes(text)
    path = tmp_path / "page.png"
    cv2.imwrite(str(path), pattern())
    with pytest.raises(ScanError, match="ocr.max_pixels"):
        render_page(path, 1, max_side_px=100, max_pixels=1000)
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(ScanError, match="truncated"):
        render_page(truncated, 1, max_side_px=100, max_pixels=10**9)
