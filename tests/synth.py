"""Synthetic scans whose truth is known: pages of text lines at exact boxes, in reading order.

Everything is drawn with Pillow from fonts installed on the system (DejaVu, Liberation,
Nimbus, Courier Prime), so tests never need image files. The truth box of a line is the
tight box of that line's own ink (anti-aliased coverage above INK_COVERAGE), after every
geometric transform, in the coordinates of the returned image.

    page = render_page("letter", dpi=300, angle_deg=2.0, noise_sigma=8.0, seed=1)
    page.image        # uint8 gray, 255 = paper
    page.lines        # SynthLine(text, bbox, column) in true reading order

Layouts: "one_column", "two_column", "narrow_gutter" (columns 0.16 inch apart), "display"
(a 44 point title), "letter",
"table", "headings", "picture", "card" (a photo-back style card with typewritten lines on a
dark mount, with a rubber stamp and a printed border), and "blank".

Layouts that reproduce the ways page analysis failed on real documents (FAILURE_KINDS; each
line's text is punctuated, and a row of pieces, such as a line number, a "Q." and the text
after a tab stop, is one line of the truth):
"transcript" (Courier, line numbers, Q./A. at tab stops, two spaces after periods, dashes),
"pleading" (the transcript on pleading paper: rules from the top edge to the bottom beside
the line numbers and the text),
"typewritten" (single-spaced typing with uneven, heavy ink), "tight_print" (8 point type set
solid), "grey_text" (40-70% grey paragraphs, small print header and footer), "shaded" (an
inverted banner, a shaded box, a hatched table header), "mixed_table" (a column of text
beside a table), "newspaper" (three columns, a halftone photo and its caption),
"photo_band" (a band of a page: a column beside a large halftone photo), "receipt" (a
narrow slip, prices at the right edge), "header_band" (a 30 point title beside 5 point
small print) and "edge_photo" (a dark photograph running off the page's left and bottom
edges, its light patches grained). `SynthPage.pictures` holds the photographs' boxes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import astuple, dataclass, replace
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from scandex.page import BBox

# Anti-aliased coverage above which a pixel counts as the line's ink for its truth box.
INK_COVERAGE = 0.4

# Fonts shipped with the tests: the last resort on a machine without system fonts.
BUNDLED_FONTS = Path(__file__).parent / "resources" / "fonts"

FONT_CANDIDATES: dict[str, tuple[str, ...]] = {
    "serif": (
        "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
        "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
        "/usr/share/fonts/opentype/urw-base35/NimbusRoman-Regular.otf",
        str(BUNDLED_FONTS / "DejaVuSerif.ttf"),
    ),
    "serif-bold": (
        "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf",
        "/usr/share/fonts/truetype/liberation2/LiberationSerif-Bold.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSerif-Bold.ttf",
        "/usr/share/fonts/opentype/urw-base35/NimbusRoman-Bold.otf",
        str(BUNDLED_FONTS / "DejaVuSerif-Bold.ttf"),
    ),
    "sans": (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/opentype/urw-base35/NimbusSans-Regular.otf",
        str(BUNDLED_FONTS / "DejaVuSans.ttf"),
    ),
    "sans-bold": (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
        "/usr/share/fonts/truetype/liberation2/LiberationSans-Bold.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
        "/usr/share/fonts/opentype/urw-base35/NimbusSans-Bold.otf",
        str(BUNDLED_FONTS / "DejaVuSans-Bold.ttf"),
    ),
    "typewriter": (
        "/usr/share/fonts/opentype/courier-prime/Courier Prime.otf",
        "/usr/share/fonts/opentype/urw-base35/NimbusMonoPS-Regular.otf",
        "/usr/share/fonts/truetype/liberation2/LiberationMono-Regular.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
        str(BUNDLED_FONTS / "DejaVuSansMono.ttf"),
    ),
}

LAYOUTS = (
    "one_column",
    "two_column",
    "narrow_gutter",
    "display",
    "letter",
    "table",
    "headings",
    "picture",
    "card",
    "blank",
)

# The failure kinds of real documents, one layout each (see the module docstring).
FAILURE_KINDS = (
    "transcript",
    "pleading",
    "typewritten",
    "tight_print",
    "grey_text",
    "shaded",
    "mixed_table",
    "newspaper",
    "photo_band",
    "receipt",
    "header_band",
    "edge_photo",
)

_WORD_TEXT = """
the of and to in that it was for on are as with his they at be this from have or by one had not
but what all were when we there can an your which their said if do will each about how up out
them then she many some so these would other into has more her two like him see time could no
make than first been its who now people my made over did down only way find use may water long
little very after words called just where most know get through back much before go good new
write our used me man too any day same right look think also around another came come work
three word must because does part even place well such here take why things help put years
different away again off went old number great tell men say small every found still between
name should home big give air line set own under read last never us left end along while might
next sound below saw something thought both few those always looked show large often together
asked house world going want school important until form food keep children feet land side
without boy once animals life enough took sometimes four head above kind began almost live page
got earth need far hand high year mother light parts country father let night following picture
being study second eyes soon times story boys since white days paper hard near sentence better
best across during today others however Society Report Committee Harbour Railway Company
Council Meeting March April Annual Mr Mrs
"""
_WORDS = tuple(_WORD_TEXT.split())


@dataclass(frozen=True)
class SynthLine:
    text: str
    bbox: BBox  # tight box of this line's ink, in the returned image's pixels
    column: int  # index of the block the line belongs to, blocks numbered in reading order


@dataclass(frozen=True)
class SynthPage:
    image: np.ndarray  # uint8 HxW, 255 = paper
    lines: tuple[SynthLine, ...]  # true reading order
    layout: str
    dpi: int
    angle_deg: float  # counter-clockwise skew applied: baselines rise to the right
    pictures: tuple[BBox, ...] = ()  # photographs (not text), in the returned image's pixels

    @property
    def boxes(self) -> list[BBox]:
        return [line.bbox for line in self.lines]


@dataclass(frozen=True)
class _Ink:
    """One line drawn on the flat page: its text, coverage mask and where the mask sits."""

    text: str
    column: int
    x: int
    y: int
    coverage: np.ndarray  # float32 0..1, 1 = full ink
    darkness: float  # 0 = black ink, 1 = invisible
    inverted: bool = False  # white text: the ink's tone replaces what is under it


def find_font(kind: str) -> str:
    """Path of the first installed font of this kind ("serif", "sans", "typewriter", ...)."""
    candidates = FONT_CANDIDATES[kind]
    for path in candidates:
        if Path(path).is_file():
            return path
    raise FileNotFoundError(
        f"no {kind} font found; tried {', '.join(candidates)}. "
        "Install fonts-dejavu, fonts-liberation2, fonts-urw-base35 or fonts-courier-prime."
    )


@lru_cache(maxsize=64)
def _font(kind: str, size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(find_font(kind), size_px)


def font_px(points: float, dpi: int) -> int:
    return max(6, round(points * dpi / 72.0))


def render_text(text: str, kind: str, size_px: int) -> np.ndarray:
    """Coverage mask (float32 0..1) of one line of text, cropped to its ink plus nothing."""
    font = _font(kind, size_px)
    left, top, right, bottom = font.getbbox(text)
    pad = 2
    canvas = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ImageDraw.Draw(canvas).text((pad - left, pad - top), text, font=font, fill=255)
    coverage = np.asarray(canvas, dtype=np.float32) / 255.0
    ys, xs = np.nonzero(coverage > INK_COVERAGE)
    if len(xs) == 0:
        raise ValueError(f"text {text!r} draws no ink")
    return np.ascontiguousarray(coverage[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])


def text_width(text: str, kind: str, size_px: int) -> int:
    left, _, right, _ = _font(kind, size_px).getbbox(text)
    return right - left


def _sentence(rng: random.Random, kind: str, size_px: int, width_px: int) -> str:
    """Words until the line is about `width_px` wide (never wider)."""
    words: list[str] = []
    while True:
        word = rng.choice(_WORDS)
        candidate = " ".join([*words, word])
        if text_width(candidate, kind, size_px) > width_px:
            break
        words.append(word)
    if not words:
        words = [rng.choice(_WORDS)]
    words[0] = words[0].capitalize()
    return " ".join(words)


def _paragraph(
    rng: random.Random, kind: str, size_px: int, width_px: int, n_lines: int
) -> list[str]:
    lines = []
    for i in range(n_lines):
        fill = 1.0 if i < n_lines - 1 else rng.uniform(0.35, 0.8)
        lines.append(_sentence(rng, kind, size_px, int(width_px * rng.uniform(0.93, 1.0) * fill)))
    return lines


class _Builder:
    """Places lines top to bottom on a flat page; coordinates in pixels of that page."""

    def __init__(self, dpi: int, size_in: tuple[float, float], margin_in: float = 1.0) -> None:
        self.dpi = dpi
        self.width = round(size_in[0] * dpi)
        self.height = round(size_in[1] * dpi)
        self.margin = round(margin_in * dpi)
        self.inks: list[_Ink] = []
        self.rules: list[tuple[int, int, int, int]] = []  # printed rules, not text
        self.pictures: list[tuple[int, int, int, int]] = []  # photographs, not text
        self.halftones: list[tuple[int, int, int, int]] = []  # printed photographs (dots)
        self.dark_photos: list[tuple[int, int, int, int]] = []  # see _dark_photo
        # Backgrounds under text: (x0, y0, x1, y1, paper level, "flat" or "hatch").
        self.shades: list[tuple[int, int, int, int, float, str]] = []

    def px(self, inches: float) -> int:
        return round(inches * self.dpi)

    def put(
        self,
        text: str,
        x: int,
        y_top: int,
        *,
        kind: str = "serif",
        points: float = 11.0,
        column: int = 0,
        align: str = "left",
        darkness: float = 0.08,
        baseline: bool = True,
    ) -> _Ink:
        """Draw `text` with its left (or right / center) edge at x; y_top is the line's top.

        With baseline=True the glyphs sit on a common baseline: y_top is where the font's
        ascender line is, so lines with and without ascenders line up like real type.
        """
        size = font_px(points, self.dpi)
        coverage = render_text(text, kind, size)
        font = _font(kind, size)
        # Offset of the ink's top below the ascender line keeps a common baseline.
        ink_top = font.getbbox(text)[1] if baseline else 0
        width = coverage.shape[1]
        if align == "right":
            x = x - width
        elif align == "center":
            x = x - width // 2
        ink = _Ink(text, column, x, y_top + ink_top, coverage, darkness)
        self.inks.append(ink)
        return ink

    def put_row(
        self,
        pieces: Sequence[tuple[str, int, str]],
        y_top: int,
        *,
        kind: str = "serif",
        points: float = 11.0,
        column: int = 0,
        darkness: float = 0.08,
        inverted: bool = False,
        uneven: random.Random | None = None,
    ) -> _Ink:
        """Draw pieces (text, x, "left" / "right" / "center") on one baseline as ONE line of
        the truth: a line number, a "Q." and the text after a tab stop, an item and its price.

        uneven: typewriter ink, darker and lighter from key to key and bleeding a little.
        """
        size = font_px(points, self.dpi)
        font = _font(kind, size)
        placed = []
        for text, x, align in pieces:
            coverage = render_text(text, kind, size)
            if uneven is not None:
                coverage = _uneven_ink(coverage, uneven, size)
            width = coverage.shape[1]
            left = x - width if align == "right" else x - width // 2 if align == "center" else x
            placed.append((left, y_top + font.getbbox(text)[1], coverage))
        x0 = min(left for left, _, _ in placed)
        y0 = min(top for _, top, _ in placed)
        x1 = max(left + c.shape[1] for left, _, c in placed)
        y1 = max(top + c.shape[0] for _, top, c in placed)
        canvas = np.zeros((y1 - y0, x1 - x0), np.float32)
        for left, top, coverage in placed:
            region = canvas[top - y0 : top - y0 + coverage.shape[0], left - x0 :][
                :, : coverage.shape[1]
            ]
            np.maximum(region, coverage, out=region)
        text = " ".join(t for t, _, _ in pieces)
        ink = _Ink(text, column, x0, y0, canvas, darkness, inverted)
        self.inks.append(ink)
        return ink


def _uneven_ink(coverage: np.ndarray, rng: random.Random, size_px: int) -> np.ndarray:
    """A typewriter's ink: each key strikes a little harder or softer, and the ribbon bleeds."""
    h, w = coverage.shape
    pitch = max(2, round(0.6 * size_px))  # one character cell of a monospaced face
    strikes = np.array([rng.uniform(0.55, 1.0) for _ in range(w // pitch + 2)], np.float32)
    strength = np.repeat(strikes, pitch)[:w]
    bled = cv2.dilate(coverage, np.ones((2, 2), np.uint8))
    return np.clip(bled * strength[None, :] * 1.15, 0.0, 1.0).astype(np.float32)


def _line_step(points: float, dpi: int, leading: float = 1.35) -> int:
    return round(font_px(points, dpi) * leading)


def _layout_one_column(b: _Builder, rng: random.Random, kind: str) -> None:
    width = b.width - 2 * b.margin
    y = b.margin
    step = _line_step(11, b.dpi)
    for n_lines in (6, 8, 5):
        for text in _paragraph(rng, kind, font_px(11, b.dpi), width, n_lines):
            b.put(text, b.margin, y, kind=kind)
            y += step
        y += step // 2


def _columns_block(
    b: _Builder,
    rng: random.Random,
    kind: str,
    y: int,
    n_lines: Sequence[int],
    first_column: int,
    gutter_in: float = 0.35,
) -> int:
    """Two columns of text starting at y; returns the y below the longer column."""
    gutter = b.px(gutter_in)
    col_width = (b.width - 2 * b.margin - gutter) // 2
    step = _line_step(10, b.dpi)
    bottom = y
    for c, count in enumerate(n_lines):
        x = b.margin + c * (col_width + gutter)
        yy = y
        lines = _paragraph(rng, kind, font_px(10, b.dpi), col_width, count)
        for i, text in enumerate(lines):
            b.put(text, x, yy, kind=kind, points=10, column=first_column + c)
            yy += step
            if i == count // 2:  # a paragraph break inside the column
                yy += step // 2
        bottom = max(bottom, yy)
    return bottom


def _layout_two_column(b: _Builder, rng: random.Random, kind: str) -> None:
    _columns_block(b, rng, kind, b.margin, (22, 19), first_column=0)


def _layout_narrow_gutter(b: _Builder, rng: random.Random, kind: str) -> None:
    """Two long columns a sixth of an inch apart: closer than a wide word gap."""
    _columns_block(b, rng, kind, b.margin, (26, 26), first_column=0, gutter_in=0.16)


def _layout_display(b: _Builder, rng: random.Random, kind: str) -> None:
    """A title in 44 point type (four times the body's size) over a paragraph."""
    ink = b.put("Harbour Report", b.margin, b.margin, kind="serif-bold", points=44)
    y = ink.y + ink.coverage.shape[0] + b.px(0.3)
    for text in _paragraph(rng, kind, font_px(11, b.dpi), b.width - 2 * b.margin, 8):
        b.put(text, b.margin, y, kind=kind)
        y += _line_step(11, b.dpi)


def _layout_headings(b: _Builder, rng: random.Random, kind: str, rule: bool = True) -> None:
    center = b.width // 2
    y = b.margin
    title = "Annual Report of the Harbour Railway Company"
    ink = b.put(title, center, y, kind="serif-bold", points=16, column=0, align="center")
    y = ink.y + ink.coverage.shape[0] + b.px(0.08)
    if rule:
        _rule(b, b.margin, b.width - b.margin, y)
    y += b.px(0.12)
    y = _columns_block(b, rng, kind, y, (9, 8), first_column=1)
    y += _line_step(10, b.dpi, 0.8)
    heading = "Proceedings of the Council Meeting held in March"
    b.put(heading, center, y, kind="sans-bold", points=13, column=3, align="center")
    y += _line_step(13, b.dpi, 1.6)
    _columns_block(b, rng, kind, y, (7, 7), first_column=4)


def _rule(b: _Builder, x0: int, x1: int, y: int) -> None:
    """A thin horizontal printed rule (not a text line: it is not in the truth)."""
    b.rules.append((x0, y, x1, y + max(2, b.px(0.01))))


def _layout_letter(b: _Builder, rng: random.Random, kind: str) -> None:
    step = _line_step(11, b.dpi)
    right = b.width - b.margin
    y = b.margin
    b.put("25th November, 1926", right, y, kind=kind, align="right")
    y += 2 * step
    for text in ("Mr. Arthur Pendleton", "14 Elm Street", "Springfield, Mass."):
        b.put(text, b.margin, y, kind=kind)
        y += step
    y += step
    b.put("Dear Sir:", b.margin, y, kind=kind)
    y += step + step // 3
    width = b.width - 2 * b.margin
    for n_lines in (5, 4):
        for i, text in enumerate(_paragraph(rng, kind, font_px(11, b.dpi), width, n_lines)):
            indent = b.px(0.4) if i == 0 else 0
            if indent:
                text = _sentence(rng, kind, font_px(11, b.dpi), width - indent)
            b.put(text, b.margin + indent, y, kind=kind)
            y += step
        y += step // 3
    y += step
    b.put("Yours faithfully,", b.margin + b.px(3.5), y, kind=kind)
    y += 3 * step
    b.put("J. H. Whitcombe, Secretary", b.margin + b.px(3.5), y, kind=kind)


def _layout_table(b: _Builder, rng: random.Random, kind: str) -> None:
    step = _line_step(11, b.dpi, 1.6)
    y = b.margin
    width = b.width - 2 * b.margin
    b.put("Statement of goods received at the warehouse", b.margin, y, kind=kind)
    y += step
    for text in _paragraph(rng, kind, font_px(11, b.dpi), width, 2):
        b.put(text, b.margin, y, kind=kind)
        y += _line_step(11, b.dpi)
    y += step // 2
    cell_x = [b.margin, b.margin + b.px(2.4), b.margin + b.px(3.9), b.margin + b.px(5.3)]
    rows = [
        ("Article", "Quantity", "Price", "Total"),
        ("Coal, best", "12 tons", "31s.", "18 12 0"),
        ("Iron rails", "40 lengths", "9s. 6d.", "19 0 0"),
        ("Timber", "300 ft.", "2s.", "30 0 0"),
        ("Cement", "25 bags", "4s. 3d.", "5 6 3"),
        ("Lamp oil", "8 gallons", "1s. 9d.", "0 14 0"),
    ]
    for r, row in enumerate(rows):
        # A table row is one line, read left to right (its cells are pieces of it); the
        # table is a block of its own between the paragraphs.
        ink = b.put_row(
            [(text, x, "left") for x, text in zip(cell_x, row, strict=True)],
            y,
            kind="serif-bold" if r == 0 else kind,
            column=1,
        )
        y += step
        if r == 0:  # a rule under the header row, clear of its descenders
            _rule(b, b.margin, b.width - b.margin, ink.y + ink.coverage.shape[0] + b.px(0.05))
            y += b.px(0.05)
    y += step // 2
    for text in _paragraph(rng, kind, font_px(11, b.dpi), width, 3):
        b.put(text, b.margin, y, kind=kind, column=2)
        y += _line_step(11, b.dpi)


def _layout_picture(b: _Builder, rng: random.Random, kind: str) -> None:
    width = b.width - 2 * b.margin
    step = _line_step(11, b.dpi)
    y = b.margin
    for text in _paragraph(rng, kind, font_px(11, b.dpi), width, 6):
        b.put(text, b.margin, y, kind=kind)
        y += step
    y += step
    b.pictures.append((b.margin + b.px(1.0), y, b.width - b.margin - b.px(1.0), y + b.px(3.0)))
    y += b.px(3.0) + step
    for text in _paragraph(rng, kind, font_px(11, b.dpi), width, 6):
        b.put(text, b.margin, y, kind=kind)
        y += step


def _layout_card(b: _Builder, rng: random.Random, kind: str) -> None:
    """Typewritten lines inside a printed border; the stamp and mount are added later."""
    step = _line_step(12, b.dpi, 1.5)
    x = b.margin + b.px(0.35)
    y = b.margin + b.px(0.45)
    for text in (
        "Mrs. Eleanor Whitfield and the twins",
        "at the lake house, Cedar Point",
        "June 1931",
        "Photographed by R. Baxter, Portland",
    ):
        b.put(text, x, y, kind="typewriter", points=12, darkness=0.22)
        y += step


# What a word of punctuated prose carries, by cumulative chance: a wrapping around it, then
# a mark after it (and whether that mark ends a sentence).
_WRAPS = ((0.05, '"{}"'), (0.09, "{}-{}"), (0.11, "({})"))
_MARKS = ((0.11, ",", False), (0.19, ".", True), (0.21, ";", False), (0.23, ":", False))
_MARKS += ((0.24, "?", True),)


def _prose(
    rng: random.Random, kind: str, size_px: int, width_px: int, *, typewriter: bool = False
) -> str:
    """A punctuated line about `width_px` wide: commas, stops, quotes, hyphens, dashes,
    parentheses and figures, with two spaces after a full stop where a typist put them."""
    text, capital = "", True
    while True:
        word = rng.choice(_WORDS)
        word = word.capitalize() if capital else word
        r = rng.random()
        wrap = next((template for chance, template in _WRAPS if r < chance), None)
        if wrap is not None:
            word = (
                wrap.format(word, rng.choice(_WORDS))
                if wrap.count("{}") == 2
                else wrap.format(word)
            )
        elif r < 0.14:
            word = f"{rng.randint(2, 9999):,}"
        r = rng.random()
        mark, capital = next(((m, end) for chance, m, end in _MARKS if r < chance), ("", False))
        word += mark
        gap = "  " if typewriter and text.endswith((".", "?")) else " "
        candidate = f"{text}{gap}{word}" if text else word
        if rng.random() < 0.03 and text:
            dash = "--" if typewriter else "\u2013"
            candidate = f"{text} {dash} {word}"
        if text_width(candidate, kind, size_px) > width_px:
            return text or word
        text = candidate


def _layout_transcript(b: _Builder, rng: random.Random, kind: str) -> None:
    """A deposition transcript: numbered lines, Q. and A. at a tab stop, double spacing."""
    kind, points = "typewriter", 12
    size = font_px(points, b.dpi)
    step = _line_step(points, b.dpi, 2.0)
    number_right = b.margin + b.px(0.3)
    text_x = b.margin + b.px(0.6)
    tab = b.px(0.5)
    right = b.width - b.margin
    y = b.margin
    number = 1
    marker = "Q."
    while number <= 25:
        for i in range(rng.choice((1, 1, 2, 3))):
            if number > 25:
                break
            pieces = [(str(number), number_right, "right")]
            if i == 0:
                text = _prose(rng, kind, size, right - text_x - 2 * tab, typewriter=True)
                pieces += [(marker, text_x + tab, "left"), (text, text_x + 2 * tab, "left")]
            else:
                text = _prose(rng, kind, size, right - text_x, typewriter=True)
                pieces.append((text, text_x, "left"))
            b.put_row(pieces, y, kind=kind, points=points, darkness=0.15)
            y += step
            number += 1
        marker = "A." if marker == "Q." else "Q."


def _layout_pleading(b: _Builder, rng: random.Random, kind: str) -> None:
    """A transcript on pleading paper: a double rule from the top edge to the bottom between
    the line numbers and the text, and a single rule right of the text."""
    _layout_transcript(b, rng, kind)
    rule_px = max(2, b.px(0.01))
    numbers_end = b.margin + b.px(0.3)
    for x in (numbers_end + b.px(0.1), numbers_end + b.px(0.14), b.width - b.margin + b.px(0.25)):
        b.rules.append((x, 0, x + rule_px, b.height))


def _layout_typewritten(b: _Builder, rng: random.Random, kind: str) -> None:
    """A single-spaced typewritten letter (six lines to the inch) with a heavy, uneven ribbon."""
    kind, points = "typewriter", 12
    size = font_px(points, b.dpi)
    step = b.px(1 / 6)
    right = b.width - b.margin
    width = right - b.margin
    y = b.margin
    b.put_row([("9th May, 1938.", right, "right")], y, kind=kind, points=points, uneven=rng)
    y += 2 * step
    for text in ("The Secretary,", "Council for German Jewry,", "Woburn House, W.C.1."):
        b.put_row([(text, b.margin, "left")], y, kind=kind, points=points, uneven=rng)
        y += step
    y += step
    for n_lines in (7, 9, 6, 8):
        for i in range(n_lines):
            indent = b.px(0.5) if i == 0 else 0
            text = _prose(rng, kind, size, width - indent, typewriter=True)
            b.put_row([(text, b.margin + indent, "left")], y, kind=kind, points=points, uneven=rng)
            y += step
        y += step


def _layout_tight_print(b: _Builder, rng: random.Random, kind: str) -> None:
    """Eight point type set solid (no leading): descenders nearly touch the next ascenders."""
    size = font_px(8, b.dpi)
    width = b.width - 2 * b.margin
    y = b.margin
    for n_lines in (12, 16, 10):
        for _ in range(n_lines):
            b.put_row([(_prose(rng, kind, size, width), b.margin, "left")], y, kind=kind, points=8)
            y += size
        y += size


def _layout_grey_text(b: _Builder, rng: random.Random, kind: str) -> None:
    """A report with grey paragraphs (40 to 70% grey) and small grey print in the margins."""
    size = font_px(11, b.dpi)
    small = font_px(6, b.dpi)
    width = b.width - 2 * b.margin
    step = _line_step(11, b.dpi)
    header = "HARBOUR RAILWAY COMPANY -- Annual Report, 1931 -- Confidential"
    b.put_row([(header, b.margin, "left")], b.px(0.5), kind="sans", points=6, darkness=0.5)
    y = b.margin
    for darkness in (0.08, 0.6, 0.45, 0.3):
        for _ in range(5):
            text = _prose(rng, kind, size, width)
            b.put_row([(text, b.margin, "left")], y, kind=kind, points=11, darkness=darkness)
            y += step
        y += step // 2
    footer = _prose(rng, "sans", small, width // 2)
    y = b.height - b.px(0.7)
    b.put_row(
        [(footer, b.margin, "left"), ("Page 4", b.width - b.margin, "right")],
        y,
        kind="sans",
        points=6,
        darkness=0.55,
    )


def _layout_shaded(b: _Builder, rng: random.Random, kind: str) -> None:
    """White text on a dark banner, text in a tinted box, a table with a hatched header."""
    size = font_px(11, b.dpi)
    width = b.width - 2 * b.margin
    step = _line_step(11, b.dpi)
    y = b.margin
    banner_h = b.px(0.45)
    b.shades.append(
        (b.margin - b.px(0.1), y, b.width - b.margin + b.px(0.1), y + banner_h, 0.15, "flat")
    )
    title = "QUARTERLY STATEMENT: Goods, Rates & Tolls"
    b.put_row(
        [(title, b.width // 2, "center")],
        y + b.px(0.1),
        kind="sans-bold",
        points=16,
        darkness=0.95,
        inverted=True,
    )
    y += banner_h + b.px(0.25)
    for _ in range(4):
        b.put_row([(_prose(rng, kind, size, width), b.margin, "left")], y, kind=kind)
        y += step
    y += step // 2
    box_top = y
    y += b.px(0.12)
    for _ in range(4):
        text = _prose(rng, kind, size, width - b.px(0.4))
        b.put_row([(text, b.margin + b.px(0.2), "left")], y, kind=kind)
        y += step
    b.shades.append((b.margin, box_top, b.width - b.margin, y + b.px(0.05), 0.72, "flat"))
    y += b.px(0.35)
    cells = (b.margin + b.px(0.1), b.margin + b.px(2.6), b.margin + b.px(4.1), b.margin + b.px(5.6))
    head_top = y
    b.put_row(
        [(t, x, "left") for t, x in zip(("Article", "Weight", "Rate", "Toll"), cells, strict=True)],
        y + b.px(0.08),
        kind="sans-bold",
    )
    y += b.px(0.5)
    b.shades.append((b.margin, head_top, b.width - b.margin, y - b.px(0.05), 0.6, "hatch"))
    for row in (
        ("Coal, best", "12 tons", "3s. 1d.", "1 17 0"),
        ("Iron (rails)", "40 cwt.", "9s. 6d.", "19 0 0"),
        ("Timber -- deal", "300 ft.", "2s.", "30 0 0"),
        ("Cement", "25 bags", "4s. 3d.", "5 6 3"),
    ):
        b.put_row([(t, x, "left") for t, x in zip(row, cells, strict=True)], y, kind=kind)
        y += step
    y += step // 2
    for _ in range(3):
        b.put_row([(_prose(rng, kind, size, width), b.margin, "left")], y, kind=kind)
        y += step


def _layout_mixed_table(b: _Builder, rng: random.Random, kind: str) -> None:
    """A column of text beside a table, and more text under the table: read the column,
    then the table row by row, then the text under it (never the rows interleaved)."""
    size = font_px(10, b.dpi)
    step = _line_step(10, b.dpi)
    title = "Report of the Harbour Committee on Tolls and Rates, 1931"
    b.put_row([(title, b.margin, "left")], b.margin, kind="serif-bold", points=14, column=0)
    y0 = b.margin + b.px(0.5)
    left_w = b.px(3.0)
    y = y0
    for _ in range(26):
        b.put_row(
            [(_prose(rng, kind, size, left_w), b.margin, "left")], y, kind=kind, points=10, column=1
        )
        y += step
    x = b.margin + left_w + b.px(0.4)
    cells = (x, x + b.px(1.3), x + b.px(2.3))
    y = y0
    rows = [("Article", "Tons", "Rate")] + [
        (
            rng.choice(("Coal", "Iron", "Timber", "Cement", "Oil", "Grain", "Wool", "Salt")),
            f"{rng.randint(2, 900):,}",
            f"{rng.randint(1, 19)}s. {rng.randint(1, 11)}d.",
        )
        for _ in range(10)
    ]
    for r, row in enumerate(rows):
        b.put_row(
            [(t, cx, "left") for t, cx in zip(row, cells, strict=True)],
            y,
            kind="serif-bold" if r == 0 else kind,
            points=10,
            column=2,
        )
        y += step
    y += step
    right_w = b.width - b.margin - x
    for _ in range(26 - len(rows) - 1):
        b.put_row(
            [(_prose(rng, kind, size, right_w), x, "left")], y, kind=kind, points=10, column=3
        )
        y += step


def _layout_newspaper(b: _Builder, rng: random.Random, kind: str) -> None:
    """A headline over three columns; a halftone photograph over the two right-hand columns
    with its caption under it. Truth order: headline, column 1, caption, columns 2 and 3."""
    margin = b.px(0.6)
    size = font_px(9, b.dpi)
    step = _line_step(9, b.dpi, 1.2)
    headline = "Railway Opens New Line to the Coast"
    b.put_row([(headline, b.width // 2, "center")], margin, kind="serif-bold", points=26)
    top = margin + b.px(0.7)
    gutter = b.px(0.2)
    col_w = (b.width - 2 * margin - 2 * gutter) // 3
    xs = [margin + c * (col_w + gutter) for c in range(3)]
    bottom = b.height - margin
    y = top
    while y + step < bottom:
        b.put_row(
            [(_prose(rng, kind, size, col_w), xs[0], "left")], y, kind=kind, points=9, column=1
        )
        y += step
    photo_bottom = top + b.px(3.2)
    b.halftones.append((xs[1], top, xs[2] + col_w, photo_bottom))
    y = photo_bottom + b.px(0.08)
    caption = "The first train leaves the harbour station, March 3 (photograph: R. Baxter)."
    b.put_row([(caption, xs[1], "left")], y, kind="sans", points=8, column=2)
    y += _line_step(8, b.dpi, 1.2) + b.px(0.15)
    for c in (1, 2):
        yy = y
        while yy + step < bottom:
            b.put_row(
                [(_prose(rng, kind, size, col_w), xs[c], "left")],
                yy,
                kind=kind,
                points=9,
                column=2 + c,
            )
            yy += step


def _layout_photo_band(b: _Builder, rng: random.Random, kind: str) -> None:
    """A band cut from a newspaper page: a column of text beside a large halftone photo."""
    margin = b.px(0.3)
    size = font_px(9, b.dpi)
    step = _line_step(9, b.dpi, 1.2)
    col_w = b.px(2.3)
    y = margin
    while y + step < b.height - margin:
        b.put_row([(_prose(rng, kind, size, col_w), margin, "left")], y, kind=kind, points=9)
        y += step
    b.halftones.append((margin + col_w + b.px(0.2), margin, b.width - margin, b.height - margin))


def _layout_edge_photo(b: _Builder, rng: random.Random, kind: str) -> None:
    """A magazine page: a paragraph across the top, then a dark photograph that runs off the
    left and bottom edges, with a column of text beside it."""
    size = font_px(11, b.dpi)
    step = _line_step(11, b.dpi)
    y = b.margin
    for _ in range(10):
        b.put_row([(_prose(rng, kind, size, b.width - 2 * b.margin), b.margin, "left")], y)
        y += step
    top = y + b.px(0.3)
    right = round(0.45 * b.width)
    b.dark_photos.append((0, top, right, b.height))
    x = right + b.px(0.3)
    y = top
    while y + step < b.height - b.margin:
        b.put_row([(_prose(rng, kind, size, b.width - b.margin - x), x, "left")], y, column=1)
        y += step


def _layout_receipt(b: _Builder, rng: random.Random, kind: str) -> None:
    """A till receipt: centred header, items with their prices at the right edge, totals."""
    kind = "typewriter"
    step = _line_step(9, b.dpi, 1.25)
    left, right = b.px(0.25), b.width - b.px(0.25)
    y = b.px(0.3)
    b.put_row([("HARBOUR STORES", b.width // 2, "center")], y, kind="sans-bold", points=13)
    y += _line_step(13, b.dpi, 1.4)
    for text in ("14 Quay Street, Portland", "Tel. 555-0192"):
        b.put_row([(text, b.width // 2, "center")], y, kind=kind, points=9)
        y += step
    y += step // 2
    b.put_row([("12/03/1987", left, "left"), ("14:32", right, "right")], y, kind=kind, points=9)
    y += step
    b.put_row([("-" * 30, left, "left")], y, kind=kind, points=9)
    y += step
    total = 0
    for _ in range(9):
        item = rng.choice(
            (
                "COFFEE",
                "TEA, 1/4 LB",
                "SUGAR",
                "MATCHES (2)",
                "SOAP",
                "OIL, LAMP",
                "BREAD",
                "CHEESE",
                "NAILS #4",
            )
        )
        cents = rng.randint(15, 999)
        total += cents
        b.put_row(
            [(item, left, "left"), (f"{cents / 100:.2f}", right, "right")], y, kind=kind, points=9
        )
        y += step
    b.put_row([("-" * 30, left, "left")], y, kind=kind, points=9)
    y += step
    for label, cents in (
        ("SUBTOTAL", total),
        ("TAX 5%", total // 20),
        ("TOTAL", total + total // 20),
    ):
        b.put_row(
            [(label, left, "left"), (f"{cents / 100:.2f}", right, "right")], y, kind=kind, points=9
        )
        y += step
    y += step // 2
    b.put_row([("THANK YOU -- PLEASE CALL AGAIN!", b.width // 2, "center")], y, kind=kind, points=9)


def _layout_header_band(b: _Builder, rng: random.Random, kind: str) -> None:
    """The head of a report page: a 30 point title beside a block of 5 point small print."""
    top = b.px(0.25)
    b.put_row([("Annual Report", b.px(0.3), "left")], top, kind="serif-bold", points=30)
    x = b.px(4.6)
    size = font_px(5, b.dpi)
    y = top
    for _ in range(6):
        b.put_row(
            [(_prose(rng, "sans", size, b.width - x - b.px(0.3)), x, "left")],
            y,
            kind="sans",
            points=5,
            column=1,
        )
        y += _line_step(5, b.dpi, 1.3)


_LAYOUT_FUNCS = {
    "one_column": _layout_one_column,
    "two_column": _layout_two_column,
    "narrow_gutter": _layout_narrow_gutter,
    "display": _layout_display,
    "letter": _layout_letter,
    "table": _layout_table,
    "headings": _layout_headings,
    "picture": _layout_picture,
    "card": _layout_card,
    "blank": lambda b, rng, kind: None,
    "transcript": _layout_transcript,
    "pleading": _layout_pleading,
    "typewritten": _layout_typewritten,
    "tight_print": _layout_tight_print,
    "grey_text": _layout_grey_text,
    "shaded": _layout_shaded,
    "mixed_table": _layout_mixed_table,
    "newspaper": _layout_newspaper,
    "photo_band": _layout_photo_band,
    "receipt": _layout_receipt,
    "header_band": _layout_header_band,
    "edge_photo": _layout_edge_photo,
}

# Paper sizes (inches) of the layouts that are not letter pages.
_SIZES_IN = {
    "card": (7.0, 5.0),
    "photo_band": (8.5, 3.2),
    "receipt": (3.2, 6.0),
    "header_band": (8.5, 1.2),
}


def _compose(b: _Builder, shape: tuple[int, int], paper: np.ndarray) -> np.ndarray:
    """Multiply each line's ink onto the paper (float32 0..1); white ink replaces it."""
    page = paper.copy()
    for ink in b.inks:
        h, w = ink.coverage.shape
        if ink.x < 0 or ink.y < 0 or ink.x + w > shape[1] or ink.y + h > shape[0]:
            raise ValueError(
                f"line {ink.text!r} does not fit a {shape[1]}x{shape[0]} px page; "
                "give a larger size_in"
            )
        region = page[ink.y : ink.y + h, ink.x : ink.x + w]
        if ink.inverted:
            region += ink.coverage * (ink.darkness - region)
        else:
            region *= 1.0 - ink.coverage * (1.0 - ink.darkness)
    return page


def _ink_points(ink: _Ink) -> np.ndarray:
    """Centres of this line's ink pixels (hull only: enough for a rotated bounding box)."""
    ys, xs = np.nonzero(ink.coverage > INK_COVERAGE)
    pts = np.stack([xs + ink.x + 0.5, ys + ink.y + 0.5], axis=1).astype(np.float32)
    hull = cv2.convexHull(pts.reshape(-1, 1, 2)).reshape(-1, 2)
    return hull.astype(np.float64)


def _box_of(points: np.ndarray, width: int, height: int) -> BBox:
    x0 = math.floor(points[:, 0].min())
    y0 = math.floor(points[:, 1].min())
    x1 = math.ceil(points[:, 0].max())
    y1 = math.ceil(points[:, 1].max())
    return BBox(x0, y0, x1, y1).clip(width, height)


def _illumination(shape: tuple[int, int], strength: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth light falloff: 1.0 at the brightest spot, 1 - strength at the darkest."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    d = np.hypot((xx - cx) / w, (yy - cy) / h)
    ramp = xx / w * rng.uniform(-1, 1) + yy / h * rng.uniform(-1, 1)
    field = d + 0.5 * ramp
    field = (field - field.min()) / max(float(np.ptp(field)), 1e-6)
    return (1.0 - strength * field).astype(np.float32)


def render_page(
    layout: str = "one_column",
    *,
    dpi: int = 300,
    angle_deg: float = 0.0,
    size_in: tuple[float, float] | None = None,
    font: str = "serif",
    illumination: float = 0.0,
    noise_sigma: float = 0.0,
    speckles: int = 0,
    dark_border_in: float = 0.0,
    seed: int = 0,
) -> SynthPage:
    """Render a synthetic scan and its truth.

    layout: one of LAYOUTS. dpi scales everything (fonts are given in points).
    angle_deg: counter-clockwise skew (baselines rise to the right), about the page centre.
    size_in: paper size in inches (default letter, 8.5 x 11; the card is 7 x 5).
    illumination: 0..1, how much darker the darkest part of the page is than the brightest.
    noise_sigma: Gaussian noise in gray levels. speckles: number of small dark specks.
    dark_border_in: a black scanner margin of this width along the left and bottom edges.
    """
    if layout not in _LAYOUT_FUNCS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    if size_in is None:
        size_in = _SIZES_IN.get(layout, (8.5, 11.0))
    b = _Builder(dpi, size_in, margin_in=1.0)
    _LAYOUT_FUNCS[layout](b, rng, font)
    shape = (b.height, b.width)

    if layout == "card":
        paper, background = _card_paper(b, nrng)
    else:
        paper = np.full(shape, 0.96, np.float32)
        background = 0.96
    for x0, y0, x1, y1 in b.rules:
        paper[y0:y1, x0:x1] *= 0.1
    for x0, y0, x1, y1 in b.pictures:
        paper[y0:y1, x0:x1] = _picture((y1 - y0, x1 - x0), nrng)
    for x0, y0, x1, y1 in b.halftones:
        paper[y0:y1, x0:x1] = _halftone(_picture((y1 - y0, x1 - x0), nrng), b.px(1 / 85))
    for x0, y0, x1, y1 in b.dark_photos:
        paper[y0:y1, x0:x1] = _dark_photo((y1 - y0, x1 - x0), nrng, b.px(0.25))
    for x0, y0, x1, y1, level, pattern in b.shades:
        paper[y0:y1, x0:x1] = _shade((y1 - y0, x1 - x0), level, pattern, b.px(1 / 30))
    page = _compose(b, shape, paper)
    if layout == "card":
        page = _stamp(b, page)

    # Truth boxes: each line's ink hull through the same rotation as the image.
    hulls = [_ink_points(ink) for ink in b.inks]
    photos = [
        np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], np.float64)
        for x0, y0, x1, y1 in b.pictures + b.halftones + b.dark_photos
    ]
    if angle_deg:
        rot = cv2.getRotationMatrix2D((b.width / 2.0, b.height / 2.0), angle_deg, 1.0)
        page = cv2.warpAffine(
            page,
            rot,
            (b.width, b.height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=float(background),
        )
        hulls = [h @ rot[:, :2].T + rot[:, 2] for h in hulls]
        photos = [c @ rot[:, :2].T + rot[:, 2] for c in photos]
    lines = tuple(
        SynthLine(ink.text, _box_of(h, b.width, b.height), ink.column)
        for ink, h in zip(b.inks, hulls, strict=True)
    )
    pictures = tuple(_box_of(c, b.width, b.height) for c in photos)

    if illumination:
        page *= _illumination(shape, illumination, nrng)
    if dark_border_in:
        border = b.px(dark_border_in)
        page[:, :border] = 0.05
        page[-border:, :] = 0.05
    if speckles:
        page = _speckle(page, speckles, dpi, nrng)
    image = page * 255.0
    if noise_sigma:
        image = image + nrng.normal(0.0, noise_sigma, shape).astype(np.float32)
    image = np.clip(image + 0.5, 0, 255).astype(np.uint8)
    return SynthPage(image, lines, layout, dpi, angle_deg, pictures)


def _card_paper(b: _Builder, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A cream card with a printed border, on a dark, slightly textured mount."""
    h, w = b.height, b.width
    mount = 0.22 + 0.03 * rng.standard_normal((h // 8 + 1, w // 8 + 1)).astype(np.float32)
    mount = cv2.resize(mount, (w, h), interpolation=cv2.INTER_LINEAR)
    paper = mount.astype(np.float32)
    inset = b.px(0.6)
    paper[inset : h - inset, inset : w - inset] = 0.87  # the card, yellowed
    frame = b.px(0.15)
    thick = max(2, b.px(0.012))
    x0, y0, x1, y1 = inset + frame, inset + frame, w - inset - frame, h - inset - frame
    for ys, xs in (
        (slice(y0, y0 + thick), slice(x0, x1)),
        (slice(y1 - thick, y1), slice(x0, x1)),
        (slice(y0, y1), slice(x0, x0 + thick)),
        (slice(y0, y1), slice(x1 - thick, x1)),
    ):
        paper[ys, xs] = 0.35
    return paper, 0.22


def _stamp(b: _Builder, page: np.ndarray) -> np.ndarray:
    """A rubber stamp at the lower right: two rings and a box in gray ink (no text)."""
    ink = np.zeros(page.shape, np.uint8)
    cx, cy = b.width - b.margin - b.px(1.2), b.height - b.margin - b.px(0.7)
    thick = max(2, b.px(0.02))
    cv2.circle(ink, (cx, cy), b.px(0.55), 255, thick, cv2.LINE_AA)
    cv2.circle(ink, (cx, cy), b.px(0.42), 255, max(1, thick // 2), cv2.LINE_AA)
    cv2.rectangle(
        ink,
        (cx - b.px(1.5), cy - b.px(0.25)),
        (cx - b.px(0.75), cy + b.px(0.25)),
        255,
        thick,
        cv2.LINE_AA,
    )
    coverage = ink.astype(np.float32) / 255.0
    return page * (1.0 - 0.55 * coverage)


def _picture(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A halftone-free 'photograph': smooth dark shapes with texture."""
    h, w = shape
    small = rng.uniform(0.1, 0.8, (max(2, h // 40), max(2, w // 40))).astype(np.float32)
    photo = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    photo += 0.05 * rng.standard_normal((h, w)).astype(np.float32)
    return np.clip(photo, 0.02, 0.95)


def _dark_photo(shape: tuple[int, int], rng: np.random.Generator, rim_px: int) -> np.ndarray:
    """A dark photograph (a figure in dark clothes on a dark ground) whose light patches (a
    shirt, a face) are crossed by dark folds and grain. The patches keep `rim_px` off the
    photograph's top and right edges, where the page is: it runs off the other two."""
    h, w = shape

    def smooth(cell_h: int, cell_w: int, low: float, high: float) -> np.ndarray:
        grid = rng.uniform(low, high, (max(2, h // cell_h), max(2, w // cell_w)))
        return cv2.resize(grid.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)

    photo = smooth(60, 60, 0.04, 0.22)
    light = smooth(110, 110, 0.0, 1.0) > 0.78
    light[:rim_px, :] = False
    light[:, w - rim_px :] = False
    folds = smooth(10, 28, 0.0, 1.0) > 0.8
    photo[light] = np.where(folds[light], 0.3, 0.85)
    photo += 0.04 * rng.standard_normal((h, w)).astype(np.float32)
    return np.clip(photo, 0.02, 0.95)


def _halftone(photo: np.ndarray, cell_px: int) -> np.ndarray:
    """The photograph as a printer's screen: one round dot per cell, as big as it is dark."""
    h, w = photo.shape
    cell = max(3, cell_px)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # Distance from the centre of each cell (45 degree screens are no harder; keep it square).
    dx = (xx % cell) - (cell - 1) / 2.0
    dy = (yy % cell) - (cell - 1) / 2.0
    radius = np.sqrt((1.0 - photo) / np.pi) * cell
    return np.where(np.hypot(dx, dy) < radius, 0.08, 0.96).astype(np.float32)


def _shade(shape: tuple[int, int], level: float, pattern: str, pitch_px: int) -> np.ndarray:
    """A background under text: a flat tint, or diagonal hatching printed in grey ink (a
    table header's tint) with half of each pitch inked, `level` being the ink's tone."""
    h, w = shape
    if pattern == "flat":
        return np.full(shape, level, np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    pitch = max(4, pitch_px)
    stripe = ((xx + yy) % pitch) < pitch // 2
    return np.where(stripe, level, 0.96).astype(np.float32)


def _speckle(page: np.ndarray, count: int, dpi: int, rng: np.random.Generator) -> np.ndarray:
    """Small dark specks of dust (radius up to about 1/150 inch)."""
    h, w = page.shape
    out = page.copy()
    max_r = max(1, round(dpi / 150))
    for _ in range(count):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.integers(1, max_r + 1))
        cv2.circle(out, (x, y), r, float(rng.uniform(0.0, 0.3)), -1)
    return out


def with_lines(page: SynthPage, lines: Sequence[SynthLine]) -> SynthPage:
    """The same page with a different truth (for tests that drop or merge lines)."""
    return replace(page, lines=tuple(lines))


if __name__ == "__main__":  # pragma: no cover - a quick look at every layout
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/synth")
    out.mkdir(parents=True, exist_ok=True)
    for name in LAYOUTS:
        p = render_page(name, angle_deg=1.5, illumination=0.3, noise_sigma=6, speckles=200)
        view = cv2.cvtColor(p.image, cv2.COLOR_GRAY2BGR)
        for i, line in enumerate(p.lines):
            bb = line.bbox
            cv2.rectangle(view, (bb.x0, bb.y0), (bb.x1 - 1, bb.y1 - 1), (0, 0, 255), 1)
            cv2.putText(view, str(i), (bb.x0, bb.y0), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 0, 0), 2)
        cv2.imwrite(str(out / f"{name}.png"), view)
        print(name, p.image.shape, len(p.lines))


# -- a carbon copy and a typed original --------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """One archive's document condition, drawn once: every line of it, corrected or not, shares
    the typewriter, ribbon, paper and scanner; only the text and the random fields differ."""

    name: str
    size_px: int  # type size before the scan's downsampling (12 pt at 200 dpi: 33)
    spread_px: int  # ink bleeding into the paper, a square kernel this wide
    blur_sigma_px: float  # the copy's softness
    fade: float  # 0..1, how much the ink fades in patches (an uneven ribbon or carbon)
    fade_floor: float  # the least share of its ink a faded stroke keeps
    paper: float  # paper tone, 1 = white
    ink: float  # the darkest ink's tone, 0 = black
    noise_sigma: float  # paper grain and sensor noise, in tone units (0..1)
    scan_scale: float  # the scanner's resolution against size_px's (0.7 of 200 dpi: 140 dpi)
    jpeg_quality: int


# A carbon copy, the file copy of typed letters and reports that fills archives: soft, bled
# strokes, carbon that fades in patches, grey onion-skin paper, scanned at 140 dpi to JPEG.
# Chosen, before any fine-tuning, as what the shipped model reads badly (the same lines
# without the fading: 1% CER). A faded stroke keeps 30% of its ink: the person who corrects
# the lines must be able to read them, and at 15% some characters were gone altogether.
CARBON_COPY = Condition(
    name="carbon copy, 140 dpi JPEG",
    size_px=32,
    spread_px=1,
    blur_sigma_px=1.2,
    fade=0.6,
    fade_floor=0.3,
    paper=0.88,
    ink=0.4,
    noise_sigma=0.05,
    scan_scale=0.7,
    jpeg_quality=60,
)


# The typed original itself: a ribbon that inks a little unevenly, white paper, a 200 dpi
# scan to JPEG. Clean enough that every stroke is there: what a model misreads on it is the
# typewriter's face, not lost ink.
RIBBON_ORIGINAL = Condition(
    name="ribbon original, 200 dpi JPEG",
    size_px=32,
    spread_px=0,
    blur_sigma_px=0.6,
    fade=0.2,
    fade_floor=0.6,
    paper=0.95,
    ink=0.15,
    noise_sigma=0.02,
    scan_scale=1.0,
    jpeg_quality=90,
)


def _patches(shape: tuple[int, int], cell_px: float, rng: random.Random) -> np.ndarray:
    """A smooth random field in 0..1 that changes over about `cell_px`."""
    field = np.random.default_rng(rng.randrange(2**32)).random(
        (max(2, int(shape[0] / cell_px) + 2), max(2, int(shape[1] / cell_px) + 2))
    )
    return cv2.resize(field.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def on_paper(ink: np.ndarray, condition: Condition, rng: random.Random) -> np.ndarray:
    """Ink (1 = ink) as the copy shows it: float tones, 1 = white."""
    c = condition
    if c.spread_px:
        ink = cv2.dilate(ink, np.ones((c.spread_px, c.spread_px), np.uint8))
    fade = _patches(ink.shape, 0.3 * c.size_px, rng)
    ink = ink * np.clip(1.0 - 1.5 * c.fade * fade, c.fade_floor, 1.0)
    ink = cv2.GaussianBlur(ink, (0, 0), c.blur_sigma_px)
    tone = c.paper - (c.paper - c.ink) * np.clip(ink, 0.0, 1.0)
    noise = np.random.default_rng(rng.randrange(2**32)).normal(0, c.noise_sigma, tone.shape)
    return tone + noise.astype(np.float32)


def scan(tone: np.ndarray, condition: Condition) -> np.ndarray:
    """The scanner's image of the copy: downsampled, 8 bits, through JPEG."""
    height, width = tone.shape
    scale = condition.scan_scale
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(tone, size, interpolation=cv2.INTER_AREA)
    image = np.clip(small * 255.0, 0, 255).astype(np.uint8)
    _, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, condition.jpeg_quality])
    return cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)


def typed_page(
    words: Iterator[str], face_path: str, condition: Condition, rng: random.Random
) -> tuple[np.ndarray, list[SynthLine]]:
    """A letter-size page at 200 dpi typed key by key as a typewriter strikes
    (scandex.training.render.draw_typewritten): `words` filling lines of up to 60
    characters at the face's pitch, a line every 1.25 type sizes, put on the condition's
    copy and scanned like it. The scan and its lines, each with the box of its ink before
    the copy faded it, in the scan's pixels."""
    from scandex.training.fonts import FontFace
    from scandex.training.render import draw_typewritten

    face = FontFace(face_path, Path(face_path).stem, "")
    width, height, margin = 1700, 2200, 200
    step = round(1.25 * condition.size_px)
    # draw_typewritten's widest pitch is 1.1 "M"s.
    pitch = 1.1 * ImageFont.truetype(face_path, condition.size_px).getlength("M")
    max_chars = min(60, int((width - 2 * margin) / pitch))
    ink = np.zeros((height, width), np.float32)
    typed: list[tuple[str, tuple[int, int, int, int]]] = []
    word = next(words)
    for top in range(margin, height - margin - step, step):
        line = word[:max_chars]
        word = next(words)
        while len(line) + 1 + len(word) <= max_chars:
            line, word = f"{line} {word}", next(words)
        strip = draw_typewritten(line, face, condition.size_px, rng)
        # The strip's own margin is one type size on each side.
        y0, x0 = top - condition.size_px, margin - condition.size_px
        region = ink[y0 : y0 + strip.shape[0], x0 : x0 + strip.shape[1]]
        np.maximum(region, strip[: region.shape[0], : region.shape[1]], out=region)
        rows = np.flatnonzero((strip > 0.3).any(axis=1))
        cols = np.flatnonzero((strip > 0.3).any(axis=0))
        typed.append((line, (x0 + cols[0], y0 + rows[0], x0 + cols[-1] + 1, y0 + rows[-1] + 1)))
    image = scan(on_paper(ink, condition, rng), condition)
    factor = image.shape[1] / width
    lines = [
        SynthLine(text, BBox(*(round(v * factor) for v in box)), column=0) for text, box in typed
    ]
    return image, lines


def typed_carbon_page(seed: int, condition: Condition = CARBON_COPY) -> SynthPage:
    """A page typed key by key in Courier Prime (typed_page) on a carbon copy: its letters
    fade into pieces of different heights, off their line's baseline."""
    rng = random.Random(seed)
    words = iter(lambda: rng.choice(_WORDS), None)
    image, lines = typed_page(words, find_font("typewriter"), condition, rng)
    return SynthPage(image, tuple(lines), "typed_carbon", round(200 * condition.scan_scale), 0.0)


def carbon_copy_page(seed: int, condition: Condition = CARBON_COPY) -> SynthPage:
    """A one-column page typed in Courier Prime at 200 dpi (12 pt is 33 px, the condition's
    size_px), put on the condition's copy and scanned like it; boxes in the scan's pixels."""
    page = render_page("one_column", dpi=200, font="typewriter", seed=seed)
    ink = np.clip((0.96 - page.image.astype(np.float32) / 255.0) / 0.75, 0.0, 1.0)
    image = scan(on_paper(ink, condition, random.Random(seed)), condition)
    factor = image.shape[1] / page.image.shape[1]
    lines = tuple(
        replace(line, bbox=BBox(*(round(v * factor) for v in astuple(line.bbox))))
        for line in page.lines
    )
    return replace(page, image=image, lines=lines, dpi=round(page.dpi * factor))
