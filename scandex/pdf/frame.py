"""Where a PDF page's image pixels lie on the page: one affine map each way.

A PDF page is shown as its visible box (the CropBox, within the MediaBox) turned clockwise by
its /Rotate. scandex OCRs an image of exactly what is shown, `width_px` x `height_px` pixels
with a top-left origin and y growing downwards, so the page model's boxes are in the pixels of
the page as a viewer shows it. `PageFrame` maps those pixels to the page's user space (PDF
points, bottom-left origin, unrotated) and back: the reader uses it to place an extracted image
and the text of born-digital pages, the writer to put each word on its box.

Matrices are PDF's six numbers (a, b, c, d, e, f): x' = a*x + c*y + e, y' = b*x + d*y + f.
"""

from __future__ import annotations

from dataclasses import dataclass

Matrix = tuple[float, float, float, float, float, float]

IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def multiply(first: Matrix, then: Matrix) -> Matrix:
    """The matrix that applies `first`, then `then` (PDF's `first x then`)."""
    a1, b1, c1, d1, e1, f1 = first
    a2, b2, c2, d2, e2, f2 = then
    return (
        a1 * a2 + b1 * c2,
        a1 * b2 + b1 * d2,
        c1 * a2 + d1 * c2,
        c1 * b2 + d1 * d2,
        e1 * a2 + f1 * c2 + e2,
        e1 * b2 + f1 * d2 + f2,
    )


def invert(m: Matrix) -> Matrix:
    a, b, c, d, e, f = m
    det = a * d - b * c
    if det == 0:
        raise ValueError("a matrix that flattens the plane has no inverse")
    return (d / det, -b / det, -c / det, a / det, (c * f - d * e) / det, (b * e - a * f) / det)


def apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = m
    return a * x + c * y + e, b * x + d * y + f


@dataclass(frozen=True)
class PageFrame:
    """A PDF page as shown: its visible box in user space and its clockwise /Rotate."""

    visible: tuple[float, float, float, float]  # x0, y0, x1, y1 in points, x0 < x1, y0 < y1
    rotate_deg: int = 0  # 0, 90, 180 or 270

    @staticmethod
    def of(mediabox, cropbox, rotate: int) -> PageFrame:
        """The frame from a page's boxes (any corner order) and /Rotate (any multiple of 90)."""
        media = _normal(mediabox)
        crop = _normal(cropbox) if cropbox is not None else media
        visible = (
            max(media[0], crop[0]),
            max(media[1], crop[1]),
            min(media[2], crop[2]),
            min(media[3], crop[3]),
        )
        if visible[2] <= visible[0] or visible[3] <= visible[1]:
            visible = media  # a CropBox outside the MediaBox: viewers fall back to the MediaBox
        rotate = int(rotate) % 360
        return PageFrame(visible, rotate if rotate in (0, 90, 180, 270) else 0)

    @property
    def size_pt(self) -> tuple[float, float]:
        """(width, height) of the page as shown, in points."""
        width = self.visible[2] - self.visible[0]
        height = self.visible[3] - self.visible[1]
        return (height, width) if self.rotate_deg in (90, 270) else (width, height)

    def pixels(self, dpi: float) -> tuple[int, int]:
        """(width, height) in pixels of the page as shown, rendered at `dpi`."""
        width, height = self.size_pt
        return max(1, round(width * dpi / 72)), max(1, round(height * dpi / 72))

    def to_user(self, width_px: float, height_px: float) -> Matrix:
        """Pixels of a `width_px` x `height_px` image of the page as shown -> user space."""
        shown_w, shown_h = self.size_pt
        # Pixels (top-left origin) to points of the page as shown (bottom-left origin).
        to_shown: Matrix = (shown_w / width_px, 0.0, 0.0, -shown_h / height_px, 0.0, shown_h)
        x0, y0, x1, y1 = self.visible
        w, h = x1 - x0, y1 - y0
        # The page as shown -> the unrotated visible box: the inverse of turning it clockwise.
        unturn: Matrix = {
            0: IDENTITY,
            90: (0.0, 1.0, -1.0, 0.0, w, 0.0),  # (dx, dy) -> (w - dy, dx)
            180: (-1.0, 0.0, 0.0, -1.0, w, h),
            270: (0.0, -1.0, 1.0, 0.0, 0.0, h),  # (dx, dy) -> (dy, h - dx)
        }[self.rotate_deg]
        return multiply(multiply(to_shown, unturn), (1.0, 0.0, 0.0, 1.0, x0, y0))

    def to_pixels(self, width_px: float, height_px: float) -> Matrix:
        """User space -> pixels of a `width_px` x `height_px` image of the page as shown."""
        return invert(self.to_user(width_px, height_px))


def _normal(box) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in box)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def box_through(m: Matrix, box: tuple[float, float, float, float]) -> tuple[float, ...]:
    """The axis-aligned box around `box`'s four corners mapped through `m`."""
    x0, y0, x1, y1 = box
    corners = [apply(m, x, y) for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1))]
    xs = [p[0] for p in corners]
    ys = [p[1] for p in corners]
    return min(xs), min(ys), max(xs), max(ys)
