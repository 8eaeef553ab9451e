"""Render text lines the way scanners deliver them: in many fonts, degraded like real paper.

Each sample is a uint8 gray image (255 = paper) of one line plus its ground-truth text. The
degradations mimic what we meet in scans: blur, ink spread and ribbon dropout (typewriters),
noise and speckles, binarization at a random threshold, slight rotation and baseline wobble,
low resolution, JPEG artefacts, and bits of the neighbouring lines at the top and bottom edge.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from scandex.ocr.normalize import true_runs
from scandex.training.fonts import FontFace


@dataclass(frozen=True)
class RenderedLine:
    image: np.ndarray  # uint8 gray, 255 = paper
    text: str
    font: str


@lru_cache(maxsize=512)
def _font(path: str, size_px: int):
    from PIL import ImageFont

    return ImageFont.truetype(path, size_px)


def _mask_bytes(font, text: str) -> bytes:
    from PIL import Image

    mask = font.getmask(text)
    if mask.size[0] == 0 or mask.size[1] == 0:
        return b""
    return Image.frombytes("L", mask.size, bytes(mask)).tobytes()


@lru_cache(maxsize=512)
def supported_characters(path: str, alphabet: str) -> frozenset[str]:
    """The characters of `alphabet` that the font draws with a real glyph (not .notdef)."""
    font = _font(path, 24)
    missing = _mask_bytes(font, "\U0010fffe")
    supported = set()
    for ch in alphabet:
        if ch == " ":
            supported.add(ch)
            continue
        mask = _mask_bytes(font, ch)
        if mask and mask != missing:
            supported.add(ch)
    return frozenset(supported)


# Dashes a face may draw no longer than its hyphen. A typewriter had only the hyphen key,
# and a monospaced face's en dash is its hyphen to the pixel (Courier Prime: both 60 x 32 at
# 100 px): labelled "–" under a mark that looks like "-", a line teaches a guess, and the
# models that learned it read a typed " --" as "–-".
_DASHES = "–—"
_SAME_LENGTH = 0.1  # ink widths within this share of the hyphen's look like it


@lru_cache(maxsize=512)
def dashes_seen_as_hyphens(path: str) -> dict[int, str]:
    """str.translate table: the dashes this face draws as long as its hyphen, to "-"."""
    font = _font(path, 100)

    def ink_width(ch: str) -> int:
        left, _, right, _ = font.getbbox(ch)
        return int(right - left)

    hyphen = ink_width("-")
    return {
        ord(dash): "-"
        for dash in _DASHES
        if hyphen > 0 and abs(ink_width(dash) - hyphen) <= _SAME_LENGTH * hyphen
    }


def random_space_scale(text: str, rng: random.Random) -> float:
    """Word spacing for a training line: the face's own, or in one line of five as tight as
    justified print sets it (down to 0.55 of the face's space).

    Lines drawn only at their face's spacing taught v8 that a gap that narrow is no space: it
    read money columns' "9s. 7d." as "9s.7d.", and search lost both words.
    """
    return rng.uniform(0.55, 0.9) if " " in text and rng.random() < 0.2 else 1.0


def random_tracking(text: str, rng: random.Random) -> float:
    """Letter spacing for a training line, in em: none, or for one ALL-CAPS line in four and
    one other in fifty, 0.08-0.35 em between letters, as headings, captions and letterheads
    are set.

    Trained with tight word spaces (random_space_scale) and never a tracked line, the models
    after v7 read the letter gaps of a magazine's tracked capitals as spaces ("MOSTLY" ->
    "MO STLY", "DUBROVNIK" -> "D UBROVNIK") where v7 read them whole.
    """
    share = 0.25 if text.isupper() else 0.02
    return rng.uniform(0.08, 0.35) if len(text) > 1 and rng.random() < share else 0.0


def draw_text(
    text: str,
    face: FontFace,
    size_px: int,
    rng: random.Random,
    space_scale: float = 1.0,
    tracking: float = 0.0,
) -> np.ndarray:
    """Black-on-white float32 ink image (1 = ink) of `text` with generous margins, its word
    spaces `space_scale` times the face's own and `tracking` em added after every character."""
    from PIL import Image, ImageDraw

    font = _font(face.path, size_px)
    left, top, right, bottom = font.getbbox(text)
    margin = size_px
    tracking_px = tracking * size_px
    width = max(1, right - left) + 2 * margin + int(np.ceil(tracking_px * len(text)))
    height = max(1, bottom - top, size_px) + 2 * margin
    canvas = Image.new("L", (width, height), 0)
    stroke = 1 if rng.random() < 0.04 and size_px > 24 else 0
    draw = ImageDraw.Draw(canvas)
    for x, word in _word_positions(text, font.getlength, space_scale, tracking_px):
        draw.text(
            (margin - left + x, margin - top),
            word,
            font=font,
            fill=255,
            stroke_width=stroke,
            stroke_fill=255,
        )
    return np.asarray(canvas, dtype=np.float32) / 255.0


def _word_positions(
    text: str, advance: Callable[[str], float], space_scale: float, tracking_px: float = 0.0
) -> list[tuple[float, str]]:
    """Pen positions of the pieces of `text` with each space `space_scale` times its own width
    and `tracking_px` after every character (at scale 1 and no tracking, the whole text at 0,
    so the face's kerning is kept; tracked, each character on its own)."""
    if space_scale == 1.0 and tracking_px == 0.0:
        return [(0.0, text)]
    positions: list[tuple[float, str]] = []
    x = 0.0
    if tracking_px:
        for ch in text:
            if ch != " ":
                positions.append((x, ch))
            x += advance(ch) * (space_scale if ch == " " else 1.0) + tracking_px
        return positions
    for word in re.split(r"( +)", text):
        if word.startswith(" "):
            x += advance(word) * space_scale
        elif word:
            positions.append((x, word))
            x += advance(word)
    return positions


def warp_line(ink: np.ndarray, rng: random.Random) -> np.ndarray:
    """The ink tilted by a fraction of a degree and bent by a slow wave, as a line lies on a
    scanned page."""
    height, width = ink.shape
    angle_deg = rng.gauss(0, 0.5)
    amplitude = rng.choice([0.0, 0.0, rng.uniform(0, 0.04 * height)])
    period = rng.uniform(0.5, 3.0) * width
    phase = rng.uniform(0, 2 * np.pi)
    xs = np.arange(width, dtype=np.float32)
    ys = np.arange(height, dtype=np.float32)
    slope = np.tan(np.radians(angle_deg))
    shift = amplitude * np.sin(2 * np.pi * xs / period + phase) + slope * (xs - width / 2)
    map_x = np.broadcast_to(xs, (height, width)).astype(np.float32)
    map_y = (ys[:, None] + shift[None, :]).astype(np.float32)
    return cv2.remap(ink, map_x, map_y, cv2.INTER_LINEAR, borderValue=0.0)


def _low_frequency_noise(shape: tuple[int, int], cell_px: float, rng: random.Random) -> np.ndarray:
    np_rng = np.random.default_rng(rng.randrange(2**32))
    small = (max(2, int(shape[0] / cell_px) + 2), max(2, int(shape[1] / cell_px) + 2))
    field = np_rng.random(small).astype(np.float32)
    return cv2.resize(field, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def degrade(
    ink: np.ndarray, rng: random.Random, *, typewriter: bool = False, warp: bool = True
) -> np.ndarray:
    """Turn a clean ink image (1 = ink) into a plausible scanned gray line (uint8, 255 paper);
    `warp=False` where the caller has warped the ink itself (`warp_line`), to know where it
    went."""
    np_rng = np.random.default_rng(rng.randrange(2**32))
    if warp:
        ink = warp_line(ink, rng)
    strokes = ink > 0.5
    size = max(8.0, float(strokes.any(axis=1).sum()))
    # Ink spread or thinning: typewriter ribbons and photocopies both do it.
    r = rng.random()
    if r < 0.15:
        ink = cv2.dilate(ink, np.ones((2, 2), np.uint8))
    elif r < 0.25 and size > 20:
        ink = cv2.erode(ink, np.ones((2, 2), np.uint8))
    if typewriter or rng.random() < 0.15:
        # Ribbon dropout and uneven strike pressure: ink fades in patches.
        fade = _low_frequency_noise(ink.shape, rng.uniform(2, 8), rng)
        strength = rng.uniform(0.2, 0.7) if typewriter else rng.uniform(0.1, 0.4)
        ink = ink * np.clip(1.0 - strength * fade * 1.5, 0.15, 1.0)
    if rng.random() < 0.7:
        ink = cv2.GaussianBlur(ink, (0, 0), rng.uniform(0.3, 1.3))
    paper = rng.uniform(0.7, 1.0)
    dark = rng.uniform(0.0, min(0.45, paper - 0.25))
    gray = paper - (paper - dark) * np.clip(ink, 0, 1)
    if rng.random() < 0.3:
        gray = gray * (1.0 - rng.uniform(0, 0.25) * _low_frequency_noise(gray.shape, 40, rng))
    gray = gray + np_rng.normal(0, rng.uniform(0, 0.06), gray.shape).astype(np.float32)
    if rng.random() < 0.2:
        specks = np_rng.random(gray.shape) < rng.uniform(0.0005, 0.004)
        gray[specks] = dark
    # Lower resolution, then back: what a 150 dpi scan or a phone photo does to strokes.
    if rng.random() < 0.3:
        factor = rng.uniform(0.5, 0.9)
        h, w = gray.shape
        small = cv2.resize(
            gray, (max(1, int(w * factor)), max(1, int(h * factor))), interpolation=cv2.INTER_AREA
        )
        gray = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    image = np.clip(gray * 255.0, 0, 255).astype(np.uint8)
    r = rng.random()
    if r < 0.35:
        # Binarized scans (like UW-III): one threshold somewhere between the ink and the
        # paper. Between the ink as it came out, not as it was meant: measured from the
        # nominal ink level, a faded typewriter line fell wholly above the threshold and
        # came out blank or as a few specks, labelled with its text (7 of the 800 degraded
        # held-out lines of bench_recognizer), which no reader can learn from or read.
        struck = np.percentile(image[strokes], 25) if strokes.any() else 255.0 * dark
        threshold = struck + (255.0 * paper - struck) * rng.uniform(0.35, 0.7)
        image = np.where(image > threshold, 255, 0).astype(np.uint8)
    elif r < 0.5:
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(25, 90)])
        if ok:
            image = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
    return image


def crop_line(image: np.ndarray, rng: random.Random) -> np.ndarray:
    """Cut the line out with a random margin, as a segmenter would (sometimes tight)."""
    ink_rows = np.flatnonzero((image < 128).any(axis=1))
    ink_cols = np.flatnonzero((image < 128).any(axis=0))
    if ink_rows.size == 0:
        return image
    height = ink_rows[-1] - ink_rows[0] + 1
    top = max(0, ink_rows[0] - int(rng.uniform(0, 0.4) * height))
    bottom = min(image.shape[0], ink_rows[-1] + 1 + int(rng.uniform(0, 0.4) * height))
    left = max(0, ink_cols[0] - int(rng.uniform(0, 1.0) * height))
    right = min(image.shape[1], ink_cols[-1] + 1 + int(rng.uniform(0, 1.0) * height))
    return image[top:bottom, left:right]


def add_neighbour_fragments(image: np.ndarray, rng: random.Random) -> np.ndarray:
    """Descender and ascender tips of the lines above and below, cut by the crop."""
    out = image.copy()
    height, width = out.shape
    np_rng = np.random.default_rng(rng.randrange(2**32))
    for edge in ("top", "bottom"):
        if rng.random() < 0.5:
            continue
        depth = max(1, int(height * rng.uniform(0.03, 0.12)))
        for _ in range(rng.randint(1, max(1, width // 40))):
            x = int(np_rng.integers(0, width))
            w = int(np_rng.integers(1, max(2, height // 6)))
            rows = slice(0, depth) if edge == "top" else slice(height - depth, height)
            out[rows, x : x + w] = int(np_rng.integers(0, 90))
    return out


def draw_typewritten(text: str, face: FontFace, size_px: int, rng: random.Random) -> np.ndarray:
    """Like `draw_text`, struck one key at a time as a typewriter does.

    Each character sits on a fixed pitch, with its own strike pressure, a small vertical offset
    (type bars out of line), now and then a doubled strike or a counter filled with ink
    (clogged "e", "o", "a").
    """
    from PIL import Image, ImageDraw

    font = _font(face.path, size_px)
    pitch = font.getlength("M") * rng.uniform(0.97, 1.1)
    ascent, descent = font.getmetrics()
    margin = size_px
    width = int(pitch * len(text)) + 2 * margin + size_px
    height = ascent + descent + 2 * margin
    ink = np.zeros((height, width), np.float32)
    jitter = rng.uniform(0.0, 0.045) * size_px
    pressure_spread = rng.uniform(0.0, 0.35)
    clog = rng.uniform(0.0, 0.5) if rng.random() < 0.4 else 0.0
    cell_w = int(pitch * 2) + 4
    for i, ch in enumerate(text):
        if ch == " ":
            continue
        cell = Image.new("L", (cell_w, height), 0)
        ImageDraw.Draw(cell).text((2, margin), ch, font=font, fill=255)
        glyph: np.ndarray = np.asarray(cell, dtype=np.float32) / 255.0
        if ch in "eoaBbdgpq" and rng.random() < clog:
            kernel = np.ones((max(2, size_px // 8),) * 2, np.uint8)
            glyph = cv2.morphologyEx(glyph, cv2.MORPH_CLOSE, kernel)
        glyph = glyph * min(1.0, rng.uniform(1.0 - pressure_spread, 1.0 + 0.3 * pressure_spread))
        dy = int(round(rng.gauss(0, jitter)))
        x = margin + int(round(i * pitch)) - 2
        glyph = np.roll(glyph, dy, axis=0)
        target = ink[:, x : x + cell_w]
        np.maximum(target, glyph[:, : target.shape[1]], out=target)
        if rng.random() < 0.02:  # a doubled strike, slightly offset
            shift = rng.choice([-2, -1, 1, 2])
            doubled = 0.6 * np.roll(glyph, shift, axis=1)[:, : target.shape[1]]
            np.maximum(target, doubled, out=target)
    return ink


def _draw(text: str, face: FontFace, size_px: int, rng: random.Random) -> np.ndarray:
    if face.is_typewriter and rng.random() < 0.7:
        ink = draw_typewritten(text, face, size_px, rng)
    else:
        tracking = random_tracking(text, rng)
        # Tracked type keeps its word spaces: narrowed too, they would be no wider than the
        # letter gaps, and no reader could tell the words apart.
        space_scale = 1.0 if tracking else random_space_scale(text, rng)
        ink = draw_text(text, face, size_px, rng, space_scale, tracking)
    return add_shading(add_gap_marks(ink, size_px, rng), size_px, rng)


def add_gap_marks(
    ink: np.ndarray,
    size_px: int,
    rng: random.Random,
    speck_share: float = 0.15,
    rule_share: float = 0.04,
) -> np.ndarray:
    """Dirt in the gaps between words (in `speck_share` of lines, a speck in a third of the
    gaps) and a faint rule across the line (in `rule_share`: ruled paper, a crease, a
    strike-through), none of which takes the word space away.

    Models trained from v7 read real typed lines with a speck or a crease line in a word gap
    as one word ("to' this" -> "tothis", "for our" with a faint rule through it -> "forour"),
    and search lost both words. The specks stay smaller than a full stop.
    """
    extent = _ink_extent(ink)
    if extent is None:
        return ink
    top, bottom, left, right = extent
    out = ink
    if rng.random() < speck_share:
        inked = np.asarray((ink[top:bottom, left:right] > 0.4).any(axis=0))
        gaps = [
            (start + left, end + left)
            for start, end in true_runs(~inked)
            if end - start >= 0.2 * size_px
        ]
        if gaps:
            out = ink.copy()
            for start, end in rng.sample(gaps, max(1, len(gaps) // 3)):
                radius = max(1, round(rng.uniform(0.015, 0.04) * size_px))
                x = rng.randint(start + radius, max(start + radius, end - radius - 1))
                y = rng.randint(top, bottom - 1)
                cv2.circle(out, (x, y), radius, rng.uniform(0.5, 1.0), -1)
    if rng.random() < rule_share:
        out = out.copy() if out is ink else out
        y = rng.randint(top + (bottom - top) // 4, bottom - 1)
        level = rng.uniform(0.25, 0.6)
        cv2.line(out, (0, y), (out.shape[1] - 1, y + rng.randint(-2, 2)), level, 1)
    return out


def add_shading(
    ink: np.ndarray, size_px: int, rng: random.Random, share: float = 0.04
) -> np.ndarray:
    """In `share` of lines, a shaded band behind the letters: a flat tint (a highlighter, a
    shaded cell), diagonal hatching or a halftone dot screen, across the line or a stretch of
    it, from the letters' rows to a little beyond.

    A table's hatched header reached the recognizer with its hatching (page analysis keeps
    what touches the letters), and v7, which had never seen letters on a pattern, read
    "Article Weight Rate Toll" as "Afticle eight Rate 6l". The pattern stays fainter than
    the ink, as on paper; binarized, it can come out as black as the letters, as on paper too.
    """
    extent = _ink_extent(ink)
    if extent is None or rng.random() >= share:
        return ink
    top, bottom, left, right = extent
    height, width = ink.shape
    reach = bottom - top
    y0 = max(0, top - int(rng.uniform(0.0, 0.5) * reach))
    y1 = min(height, bottom + int(rng.uniform(0.0, 0.5) * reach))
    if rng.random() < 0.6:
        x0, x1 = 0, width
    else:  # a stretch: some words highlighted, one cell of a row
        x0 = rng.randint(left, max(left, (left + right) // 2))
        x1 = rng.randint(min(right, x0 + max(1, reach)), right)
    rows, cols = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    period = max(3.0, rng.uniform(0.1, 0.3) * size_px)
    kind = rng.choice(["tint", "hatch", "dots"])
    if kind == "tint":
        pattern = np.ones_like(rows)
    elif kind == "hatch":
        slope = rng.choice([1.0, -1.0])
        phase = np.mod(cols + slope * rows, period) / period
        pattern = (phase < rng.uniform(0.25, 0.55)).astype(np.float32)
    else:
        dx = np.mod(cols, period) / period - 0.5
        dy = np.mod(rows, period) / period - 0.5
        pattern = (dx * dx + dy * dy < rng.uniform(0.03, 0.15)).astype(np.float32)
    level = rng.uniform(0.15, 0.4) if kind == "tint" else rng.uniform(0.3, 0.7)
    out = ink.copy()
    np.maximum(out[y0:y1, x0:x1], level * pattern, out=out[y0:y1, x0:x1])
    return out


def _ink_extent(ink: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the ink, exclusive ends."""
    rows = np.flatnonzero((ink > 0.4).any(axis=1))
    cols = np.flatnonzero((ink > 0.4).any(axis=0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def draw_with_neighbours(
    text: str, above: str, below: str, face: FontFace, size_px: int, rng: random.Random
) -> tuple[np.ndarray, tuple[int, int]]:
    """`text` between the lines above and below at a single-spaced to 1.5-spaced pitch.

    Returns the ink and the rows (top, bottom) of the middle line's own ink.
    """
    inks = [_draw(t, face, size_px, rng) for t in (above, text, below)]
    extents = [_ink_extent(ink) for ink in inks]
    middle = extents[1]
    if middle is None:
        return inks[1], (0, inks[1].shape[0])
    pitch = int(size_px * rng.uniform(0.95, 1.6))
    height = max(ink.shape[0] for ink in inks) + 2 * pitch
    width = max(ink.shape[1] for ink in inks)
    block = np.zeros((height, width), np.float32)
    shift_x = [rng.randint(-size_px, size_px) if i != 1 else 0 for i in range(3)]
    for i, ink in enumerate(inks):
        top = i * pitch
        h, w = ink.shape
        x0 = max(0, shift_x[i])
        src = ink[:, max(0, -shift_x[i]) :][:, : width - x0]
        region = block[top : top + h, x0 : x0 + src.shape[1]]
        np.maximum(region, src[: region.shape[0]], out=region)
    return block, (pitch + middle[0], pitch + middle[1])


def crop_between_neighbours(
    image: np.ndarray, rows: tuple[int, int], text_cols: tuple[int, int], rng: random.Random
) -> np.ndarray:
    """Cut the middle line out as a line outline would: into its neighbours, by varying depths."""
    top, bottom = rows
    height = bottom - top
    y0 = max(0, top - int(rng.uniform(0.0, 0.7) * height))
    y1 = min(image.shape[0], bottom + int(rng.uniform(0.0, 0.7) * height))
    x0 = max(0, text_cols[0] - int(rng.uniform(0, 0.8) * height))
    x1 = min(image.shape[1], text_cols[1] + int(rng.uniform(0, 0.8) * height))
    return image[y0:y1, x0:x1]


def add_card_marks(image: np.ndarray, rng: random.Random) -> np.ndarray:
    """What the back of a mounted photo or an archive card adds around a typed line: the dark
    edge of the mount, a pencil stroke, part of a rubber stamp's ring across the letters."""
    out = image.astype(np.float32)
    height, width = out.shape
    kind = rng.choice(["mount", "pencil", "stamp"])
    if kind == "mount":
        depth = max(2, int(height * rng.uniform(0.05, 0.25)))
        level = rng.uniform(20, 120)
        if rng.random() < 0.5:
            out[:depth] = np.minimum(out[:depth], level)
        else:
            out[-depth:] = np.minimum(out[-depth:], level)
    elif kind == "pencil":
        y0, y1 = rng.uniform(0, height), rng.uniform(0, height)
        x0, x1 = rng.uniform(0, width / 2), rng.uniform(width / 2, width)
        stroke = np.zeros_like(out)
        cv2.line(stroke, (int(x0), int(y0)), (int(x1), int(y1)), 1.0, rng.randint(1, 2))
        out = np.minimum(out, 255.0 - stroke * rng.uniform(60, 140))
    else:
        radius = int(height * rng.uniform(0.8, 2.5))
        centre = (int(rng.uniform(0, width)), int(rng.uniform(-radius / 2, height + radius / 2)))
        ring = np.zeros_like(out)
        cv2.circle(ring, centre, radius, 1.0, max(1, int(height * rng.uniform(0.03, 0.08))))
        out = np.minimum(out, 255.0 - ring * rng.uniform(50, 150))
    return np.clip(out, 0, 255).astype(np.uint8)


def fade_horizontal_strokes(ink: np.ndarray, size_px: int, rng: random.Random) -> np.ndarray:
    """Strokes less tall than a twentieth to a tenth of the type size (bars), faded to a
    fraction of their ink; upright strokes kept. A face with hairline bars, a worn type slug or a
    photocopier's threshold loses the bars first: the ALL-CAPS held-out lines the recognizer
    misread most were such ("OF FOLLOWING" with bars gone read as "OETOILOWING")."""
    # Odd: an even structuring element shifts the opening by a row and eats a stem's top.
    reach = 2 * max(1, round(size_px * rng.uniform(0.025, 0.05))) + 1
    # An opening with an upright bar keeps every part of a stroke at least `reach` tall.
    upright = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((reach, 1), np.uint8))
    return np.maximum(upright, ink * rng.uniform(0.1, 0.6))


def render_line(
    text: str, face: FontFace, rng: random.Random, neighbours: tuple[str, str] | None = None
) -> RenderedLine:
    """One degraded line; with `neighbours` (texts above and below), slivers of them too."""
    size_px = rng.choice([rng.randint(18, 34), rng.randint(22, 56)])
    fade_bars = rng.random() < 0.08
    if neighbours is None:
        ink = _draw(text, face, size_px, rng)
        if fade_bars:
            ink = fade_horizontal_strokes(ink, size_px, rng)
        image = crop_line(degrade(ink, rng, typewriter=face.is_typewriter), rng)
        if rng.random() < 0.1:
            image = add_neighbour_fragments(image, rng)
        if rng.random() < 0.05:
            image = add_card_marks(image, rng)
        return RenderedLine(image, text, face.family)
    block, rows = draw_with_neighbours(text, *neighbours, face, size_px, rng)
    if fade_bars:
        block = fade_horizontal_strokes(block, size_px, rng)
    extent = _ink_extent(block[rows[0] : rows[1]])
    cols = (extent[2], extent[3]) if extent else (0, block.shape[1])
    # The wobble in `degrade` moves rows a little; the crop's random depth absorbs it.
    image = degrade(block, rng, typewriter=face.is_typewriter)
    return RenderedLine(crop_between_neighbours(image, rows, cols, rng), text, face.family)
