"""The one result model every layer speaks: pages, blocks, lines, words and characters.

Coordinates are always pixels of the ORIGINAL image (before any deskew or scaling), with a
top-left origin; a box is (x0, y0, x1, y1) with x1 and y1 exclusive, so width = x1 - x0.
Confidences are probabilities in 0..1 (hOCR's x_wconf is this times 100).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class BBox:
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def area(self) -> int:
        return max(0, self.width) * max(0, self.height)

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0)

    def as_list(self) -> list[int]:
        return [self.x0, self.y0, self.x1, self.y1]

    def union(self, other: BBox) -> BBox:
        return BBox(
            min(self.x0, other.x0),
            min(self.y0, other.y0),
            max(self.x1, other.x1),
            max(self.y1, other.y1),
        )

    def intersection_area(self, other: BBox) -> int:
        w = min(self.x1, other.x1) - max(self.x0, other.x0)
        h = min(self.y1, other.y1) - max(self.y0, other.y0)
        return max(0, w) * max(0, h)

    def iou(self, other: BBox) -> float:
        inter = self.intersection_area(other)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def clip(self, width: int, height: int) -> BBox:
        """This box clipped to an image of the given size."""
        return BBox(
            min(max(self.x0, 0), width),
            min(max(self.y0, 0), height),
            min(max(self.x1, 0), width),
            min(max(self.y1, 0), height),
        )

    @staticmethod
    def union_all(boxes: Iterable[BBox]) -> BBox:
        boxes = list(boxes)
        if not boxes:
            raise ValueError("union of no boxes")
        return BBox(
            min(b.x0 for b in boxes),
            min(b.y0 for b in boxes),
            max(b.x1 for b in boxes),
            max(b.y1 for b in boxes),
        )


@dataclass(frozen=True)
class Char:
    text: str
    bbox: BBox
    confidence: float
    # Runner-up readings where the decision was close: (text, probability), best first.
    alternatives: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Word:
    text: str
    bbox: BBox
    confidence: float
    chars: tuple[Char, ...] = ()
    # Other readings of the whole word, searchable too: the network's own reading when
    # lexicon-aware decoding replaced it.
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class Line:
    bbox: BBox
    text: str = ""
    confidence: float = 0.0
    words: tuple[Word, ...] = ()
    # hOCR baseline "slope offset": y = slope * (x - x0) + offset, relative to the box's
    # bottom-left corner; None when unknown.
    baseline: tuple[float, float] | None = None


@dataclass(frozen=True)
class Block:
    """A column or other region of lines read together (hOCR ocr_carea)."""

    bbox: BBox
    lines: tuple[Line, ...] = ()
    kind: str = "text"  # "text", or "table": rows of cells, each row one line


# Kinds of regions without text lines, and their hOCR classes.
REGION_CLASSES = {"photo": "ocr_photo", "separator": "ocr_separator"}


@dataclass(frozen=True)
class Region:
    """A part of the page that is not text: a photograph or figure ("photo", hOCR ocr_photo)
    or a printed rule ("separator", hOCR ocr_separator)."""

    kind: str
    bbox: BBox


@dataclass(frozen=True)
class Page:
    number: int  # 1-based
    width: int
    height: int
    angle_deg: float = 0.0  # skew (and turn) that was corrected, counter-clockwise positive
    dpi: float | None = None
    blocks: tuple[Block, ...] = ()
    regions: tuple[Region, ...] = ()  # photos and rules, top to bottom
    # A PDF page's size as shown (CropBox, /Rotate), in points: a box maps onto the PDF page
    # by size_pt / (width, height). None for image files.
    size_pt: tuple[float, float] | None = None

    @property
    def text_angle(self) -> int:
        """The quarter turn its text lies at in the image, counter-clockwise: 0 upright, 180
        for a page scanned upside down, 90 or 270 sideways (angle_deg to the nearest)."""
        return round(self.angle_deg / 90.0) % 4 * 90

    @property
    def lines(self) -> tuple[Line, ...]:
        """All lines in reading order."""
        return tuple(line for block in self.blocks for line in block.lines)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


@dataclass(frozen=True)
class Document:
    path: str
    pages: tuple[Page, ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        return "\n\n".join(page.text for page in self.pages)
