"""Binarization: from a whole, uncropped grayscale scan to level ink on flat paper.

The OCRopus "nlbin" idea (divide out a local white level, stretch between text-aware black
and white levels, threshold), done on a small working image so that only a handful of cheap
passes touch the full-resolution pixels:

1. A working copy, about `work_long_side_px` on its long side (INTER_AREA), carries all the
   estimation: the local white level (a morphological closing, which passes over every dark
   feature thinner than its kernel, i.e. text, and follows larger ones), the regions outside
   the page (dark scanner margins, a photo's mount, large dark pictures, punched holes) and
   the skew (projection profiles of the ink, coarse to fine).
2. At full resolution the scan is divided by the upsampled white level (paper -> constant),
   stretched between the black level of the text and the paper level, with the outside set
   to paper, then rotated ONCE into the deskewed frame and thresholded at the midpoint.
   Lines too thin for the working image (a page edge's shadow) are caught on this
   thresholded ink before the skew is measured.

Why a midpoint threshold after flattening rather than Sauvola: once the white level is
divided out, illumination is gone, and a fixed midpoint between the measured ink and paper
levels keeps thin strokes in sparse regions that a local-variance rule (Sauvola, Niblack)
thins or breaks, and never turns the noise or show-through of a blank region into ink. The
black level is the page's (a low percentile of the clearly dark pixels), raised locally
where the nearby ink is fainter (faded typing under a dark letterhead) up to a cap; very
noisy pages get a light Gaussian smoothing before the threshold.

The skew search, the deskewed frame and the mapping of its pixels back to the original image
are scandex.ocr.deskew's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import cv2
import numpy as np

from scandex.ocr.components import label_components
from scandex.ocr.deskew import IDENTITY, SkewParams, deskew_transform, estimate_skew_deg, to_frame
from scandex.page import BBox

__all__ = ["BinarizeParams", "Binarized", "as_uint8", "binarize"]

# The flattened image puts paper at this level (not 255) so that paper noise brighter than
# the white-level estimate is not clipped, which keeps the paper-noise estimate honest.
_PAPER_LEVEL = 200


@dataclass(frozen=True)
class BinarizeParams:
    """Knobs of `binarize`; the defaults suit 150-600 dpi pages and photos of cards."""

    # Long side of the working image on which white level, page mask and skew are estimated
    # (approximately: the image is shrunk by a whole factor, which OpenCV does much faster).
    work_long_side_px: int = 900
    # Side of the closing that estimates the white level, as a fraction of the working
    # image's long side (3 % of a letter page is 8 mm): the white level passes over dark
    # features thinner than this, so they stay ink (text strokes, even those of 100 pt bold
    # headings), and follows larger ones, so they flatten away (mounts, margins, pictures).
    background_kernel_frac: float = 0.03
    # Ink/paper decision, 0..1 between the text's black level (0) and the paper level (1).
    threshold: float = 0.5
    # The black level is this percentile of the pixels that are clearly darker than paper.
    black_percentile: float = 10.0
    # "Clearly darker than paper": below paper by this many noise sigmas and by at least
    # `min_contrast` of the paper level.
    noise_sigmas: float = 6.0
    min_contrast: float = 0.12
    # Black level per place (see _local_black): over windows of this fraction of the long
    # side, where at least `min_local_ink` of the window is clearly dark, and never lighter
    # than `max_local_black` of the paper level.
    local_black: bool = True
    local_window_frac: float = 0.06
    min_local_ink: float = 0.02
    max_local_black: float = 0.6
    # Fewer candidate ink pixels than this (full resolution): the page is blank.
    min_ink_px: int = 20
    # When the threshold lies fewer than this many paper-noise sigmas below the paper level,
    # the flattened page is smoothed before the threshold (heavy noise would speckle).
    denoise_below_sigmas: float = 5.0
    # Outside-the-page detection (dark margins, mounts, pictures): a region counts when its
    # white level is below `dark_ratio` of the paper level nearby and its edge is a step
    # (edge contrast at least `edge_sharpness` of the region's contrast), not a vignette.
    dark_ratio: float = 0.55
    edge_sharpness: float = 0.3
    # A dark strip touching the image border longer than this fraction of that side is a
    # scanner margin even when it is thinner than the background kernel.
    border_strip_frac: float = 0.2
    # ... unless it is a rule running away from the one edge it touches, at most this share
    # of the image across (an underline with the letters it touches: 2% on a real page).
    edge_rule_frac: float = 0.04
    # A solid round blob this big (fraction of the long side: 3-12 mm on a letter page)
    # centred this close to an edge (fraction of that side) is a punched hole.
    hole_size_frac: tuple[float, float] = (0.011, 0.045)
    hole_band_frac: float = 0.1
    # ... and only when solid at full resolution (the radius of the widest disc inside it
    # at least this fraction of its width: a disc has 0.5, a bold letter half its stroke
    # width, under 0.2) and alone (no mark a fifth its size or more within this many of its
    # sizes: a letter has the neighbours of its word and line closer than that).
    hole_solidity: float = 0.35
    hole_clearance: float = 1.0
    detect_outside: bool = True
    # Skew: measured on the working image's ink (scandex.ocr.deskew); skews smaller than
    # min_rotation_deg are reported as 0 and the page is not rotated.
    deskew: bool = True
    skew: SkewParams = SkewParams()
    min_rotation_deg: float = 0.05
    # The page lies turned this many quarter turns counter-clockwise (2: upside down; 1 and
    # 3: sideways, its lines running up or down): deskewing turns it back too, so the frame
    # holds it upright and the way back to the original image turns it as it lies.
    quarter_turns: int = 0


@dataclass(frozen=True)
class Binarized:
    """A page's ink in the deskewed frame and the way back to the original image."""

    binary: np.ndarray  # bool HxW, True = ink, deskewed frame
    gray: np.ndarray  # uint8 HxW, 255 = paper, flattened background, deskewed frame
    angle_deg: float  # skew found in the original, counter-clockwise positive
    to_original: np.ndarray  # 2x3 float64 affine: deskewed (x, y) -> original (x, y)
    original_size: tuple[int, int]  # (width, height) of the original image
    # Beyond the contract: the text's black level on the flattened page (fraction of the
    # paper level), and the outside-the-page mask as estimated (uint8, 255 = outside, on the
    # original image shrunk by work_factor); `page_mask` turns it into the deskewed frame.
    black_level: float = 0.0
    outside_work: np.ndarray | None = None
    work_factor: int = 1

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the deskewed frame."""
        return (int(self.binary.shape[1]), int(self.binary.shape[0]))

    @cached_property
    def page_mask(self) -> np.ndarray:
        """bool, deskewed frame: True where the page shows, False on dark margins, mounts,
        large dark pictures and the canvas the rotation added (binary is False there)."""
        return enlarge(self.page_mask_work, self.work_factor, self.size, cv2.INTER_NEAREST) > 0

    def outside_counts(self, boxes: np.ndarray) -> np.ndarray:
        """How many pixels of each box ((N, 4) int x0, y0, x1, y1, inside the deskewed
        frame) page_mask has False. Only boxes near something outside at working resolution
        are counted at full resolution; the rest have none."""
        counts = np.zeros(len(boxes), np.int64)
        outside = (self.page_mask_work == 0).astype(np.uint8)
        if len(boxes) == 0 or not outside.any():
            return counts
        # page_mask takes each pixel from the working cell it falls in (the last row and
        # column reach to the frame's edge): a cell of margin covers any rounding.
        f = self.work_factor
        cells_h, cells_w = outside.shape
        cx0 = np.clip(boxes[:, 0] // f - 1, 0, cells_w)
        cy0 = np.clip(boxes[:, 1] // f - 1, 0, cells_h)
        cx1 = np.clip(-(-boxes[:, 2] // f) + 1, 0, cells_w)
        cy1 = np.clip(-(-boxes[:, 3] // f) + 1, 0, cells_h)
        table = cv2.integral(outside, sdepth=cv2.CV_32S)
        near = table[cy1, cx1] - table[cy0, cx1] - table[cy1, cx0] + table[cy0, cx0] > 0
        for i in np.flatnonzero(near):
            x0, y0, x1, y1 = (int(v) for v in boxes[i])
            counts[i] = np.count_nonzero(~self.page_mask[y0:y1, x0:x1])
        return counts

    @cached_property
    def page_mask_work(self) -> np.ndarray:
        """page_mask at working resolution (uint8, 255 = page; work_factor times smaller,
        the last row and column reaching to the frame's edges)."""
        width, height = self.original_size
        factor = self.work_factor
        outside = self.outside_work
        if outside is None:
            outside = np.zeros((height // factor, width // factor), np.uint8)
        return _page_work(outside, factor, self.original_size, self.to_original, self.size)


def binarize(gray: np.ndarray, params: BinarizeParams = BinarizeParams()) -> Binarized:
    """Flatten, threshold and deskew a grayscale page (uint8, uint16, float 0..1 or bool)."""
    image = as_uint8(gray)
    height, width = image.shape
    work, factor = _working_image(image, params.work_long_side_px)

    smooth = cv2.medianBlur(work, 3)
    kernel_px = round(params.background_kernel_frac * max(work.shape))
    white = _white_level(smooth, kernel_px)
    outside_work = (
        _outside_mask(smooth, white, params, image, factor)
        if params.detect_outside
        else np.zeros_like(work)
    )

    flat = _flatten(image, white, outside_work, factor)
    levels = _levels(flat, outside_work, factor, params)
    margin = (1.0 - params.threshold) * (levels.paper - levels.black)
    if levels.has_ink and margin < params.denoise_below_sigmas * levels.noise_sigma:
        flat = _denoise(flat)
        levels = _levels(flat, outside_work, factor, params)
    local_black = (
        _local_black(flat, levels, outside_work, factor, params)
        if levels.has_ink and params.local_black
        else None
    )
    if local_black is None:
        stretched = cv2.LUT(flat, _stretch_lut(levels), dst=flat)
    else:
        stretched = _stretch_local(flat, local_black[0], levels.paper, local_black[1])
    ink_threshold = round(255 * params.threshold)

    angle_deg = 0.0
    if levels.has_ink:
        ink_work = _working_ink(stretched, factor, work.shape, ink_threshold)
        ink_work[outside_work > 0] = 0
        # White text on a dark banner: turned into dark text on paper, it reads like any.
        banners = _invert_banners(image, stretched, ink_work | (outside_work > 0), factor)
        for x0, y0, x1, y1 in banners:
            outside_work[y0 // factor : -(-y1 // factor), x0 // factor : -(-x1 // factor)] = 0
        if banners:
            ink_work = _working_ink(stretched, factor, work.shape, ink_threshold)
            ink_work[outside_work > 0] = 0
        if params.detect_outside:
            # Lines too thin to survive the working image's median (the shadow of a page
            # edge, a one-pixel scanner margin) show in the thresholded ink.
            thin = _edge_artifacts(ink_work, params, stretched, factor)
            if thin.any():
                thin = cv2.dilate(thin, np.ones((3, 3), np.uint8))
                outside_work = cv2.max(outside_work, thin)
                ink_work[thin > 0] = 0
                cv2.max(
                    stretched,
                    enlarge(thin, factor, (width, height), cv2.INTER_NEAREST),
                    dst=stretched,
                )
        if params.deskew:
            # Measured with the page turned upright (np.rot90 turns counter-clockwise).
            upright_ink = np.ascontiguousarray(np.rot90(ink_work, -params.quarter_turns))
            angle_deg = estimate_skew_deg(upright_ink, params.skew)
            if abs(angle_deg) < params.min_rotation_deg:
                angle_deg = 0.0
    angle_deg += 90.0 * (params.quarter_turns % 4)

    to_original, frame_size = deskew_transform((width, height), angle_deg)
    if angle_deg:
        stretched = to_frame(stretched, to_original, frame_size, border_value=255)
    if levels.has_ink:
        _, ink = cv2.threshold(stretched, ink_threshold - 1, 1, cv2.THRESH_BINARY_INV)
        binary = ink.view(bool)
    else:
        binary = np.zeros(stretched.shape, bool)
    black = levels.black / levels.paper if levels.has_ink and levels.paper else 0.0
    return Binarized(
        binary=binary,
        gray=stretched,
        angle_deg=float(angle_deg),
        to_original=to_original,
        original_size=(width, height),
        black_level=float(black),
        outside_work=outside_work,
        work_factor=factor,
    )


def enclosed_boxes(outside: np.ndarray, factor: int, min_fraction: float = 0.01) -> list[BBox]:
    """Boxes, `factor` times the mask's pixels, of the parts of a working-resolution mask
    of what is not the page (`outside`, bool) that do not touch its edges and cover at
    least `min_fraction` of it: large dark pictures (scanner margins, mounts and shadows
    touch the edges)."""
    if not outside.any():
        return []
    # Outer contours' boxes: forty times faster than labelling with statistics here.
    contours, _ = cv2.findContours(
        outside.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    height, width = outside.shape
    return [
        BBox(int(x * factor), int(y * factor), int((x + w) * factor), int((y + h) * factor))
        for x, y, w, h in (cv2.boundingRect(c) for c in contours)
        if x > 0
        and y > 0
        and x + w < width
        and y + h < height
        and w * h >= min_fraction * width * height
    ]


# ----------------------------------------------------------------------------------------
# Input


def as_uint8(gray: np.ndarray) -> np.ndarray:
    """A contiguous uint8 HxW copy or view of a grayscale image (0 = black, 255 = white).

    uint16 is scaled by 1/257; floats are taken as 0..1, or as 0..255 when their maximum
    is above 1.5 (nothing in 0..1 goes there), and clipped; bool is a 1-bit image where True
    is white (Pillow's mode "1"). An HxWx1 array is accepted as HxW.
    """
    array = np.asarray(gray)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale image, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"empty image of shape {array.shape}")
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if array.dtype == np.bool_:
        return np.where(array, np.uint8(255), np.uint8(0))
    if array.dtype == np.uint16:
        return ((array.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        values = array.astype(np.float32)
        finite = np.isfinite(values)
        top = float(values[finite].max()) if finite.any() else 1.0
        scaled = values * (1.0 if top > 1.5 else 255.0)
        scaled[~finite] = 255.0  # no data: paper
        return np.clip(scaled + 0.5, 0, 255).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer):
        return np.clip(array, 0, 255).astype(np.uint8)
    raise TypeError(f"unsupported image dtype {array.dtype}; expected uint8, uint16 or float")


def _working_image(image: np.ndarray, long_side_px: int) -> tuple[np.ndarray, int]:
    """The image shrunk by a whole factor to about `long_side_px`, and that factor.

    Up to factor-1 rows and columns at the bottom and right are left out of the working
    image; everything estimated on it is smooth enough to be stretched over them.
    """
    factor = max(1, round(max(image.shape) / max(long_side_px, 16)))
    return shrink(image, factor), factor


def shrink(image: np.ndarray, factor: int) -> np.ndarray:
    """Box-average downsampling by a whole factor (OpenCV's fast INTER_AREA paths)."""
    height, width = image.shape
    factor = max(1, min(factor, height, width))
    out = image[: height - height % factor, : width - width % factor]
    while factor % 2 == 0:
        out = cv2.resize(out, (out.shape[1] // 2, out.shape[0] // 2), interpolation=cv2.INTER_AREA)
        factor //= 2
    if factor > 1:
        out = cv2.resize(
            out,
            (out.shape[1] // factor, out.shape[0] // factor),
            interpolation=cv2.INTER_AREA,
        )
    return np.ascontiguousarray(out)


# ----------------------------------------------------------------------------------------
# White level, outside regions, levels


def _white_level(smooth: np.ndarray, kernel_px: int) -> np.ndarray:
    """Local paper level: a closing removes dark features thinner than the kernel (text)."""
    k = max(3, min(kernel_px, *smooth.shape) | 1)
    element = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    closed = cv2.morphologyEx(smooth, cv2.MORPH_CLOSE, element, borderType=cv2.BORDER_REPLICATE)
    # A light blur hides the closing's blocky plateaus, which would show as steps in the
    # flattened paper.
    return cv2.blur(closed, (3, 3))


def _outside_mask(
    smooth: np.ndarray,
    white: np.ndarray,
    params: BinarizeParams,
    image: np.ndarray | None = None,
    factor: int = 1,
) -> np.ndarray:
    """uint8 working-size mask, 255 where the image shows no page: margins, mounts, pictures.

    Two kinds: regions whose white level is far below the paper nearby with a step edge
    (a mount, a thick margin, a large dark picture); and dark things along the edges that
    the closing cannot see because they are thin or small (thin scanner margins glued to the
    image border, punched holes). `image` is the full-resolution scan, `factor` times the
    working image's size: there a hole's shape is told from a bold letter's.
    """
    height, width = white.shape
    outside: np.ndarray = np.zeros((height, width), np.uint8)
    if min(height, width) < 8:
        return outside

    # Paper level nearby: the brightest white level within about 1/8 of the image, but never
    # below 60 % of the page's brightest paper, so a wide mount far from the card still
    # compares against paper rather than against itself.
    reach = max(3, (max(height, width) // 8) | 1)
    nearby = cv2.dilate(white, cv2.getStructuringElement(cv2.MORPH_RECT, (reach, reach)))
    brightest = _percentile_u8(white, 99.0)
    reference = np.maximum(nearby, np.uint8(min(255, round(0.6 * brightest))))
    dark = _below_share(white, reference, params.dark_ratio)
    if dark.any():
        outside |= _sharp_dark_regions(dark, white, reference, params.edge_sharpness)

    # Thin dark strips along the image border and punched holes: dark against the local
    # white level, told from text by shape and place.
    ink = _below_share(smooth, white, params.dark_ratio)
    outside |= _edge_artifacts(ink, params, image, factor)

    # Grow by three working pixels: the upsampled white level is smeared across the step,
    # and the smeared band would otherwise come out as a thin line of ink.
    if outside.any():
        outside = cv2.dilate(outside, cv2.getStructuringElement(cv2.MORPH_RECT, (7, 7)))
    return outside


def _below_share(values: np.ndarray, reference: np.ndarray, share: float) -> np.ndarray:
    """uint8 0/1: where a uint8 value lies below `share` of its uint8 reference, compared in
    float32. A value v is below share * r exactly when v < ceil(share * r), one threshold per
    reference level (for a share of at most 1, a level within uint8): a table lookup, eight
    times faster than the float arithmetic per pixel."""
    levels = np.float32(share) * np.arange(256, dtype=np.float32)
    thresholds = np.clip(np.ceil(levels), 0, 255).astype(np.uint8)
    return (values < cv2.LUT(reference, thresholds)).view(np.uint8)


def _invert_banners(
    image: np.ndarray, stretched: np.ndarray, dark_work: np.ndarray, factor: int
) -> list[tuple[int, int, int, int]]:
    """Write the banners of white text of `image` into the stretched page (uint8, 255 =
    paper), inverted and stretched between the banner's own levels.

    A banner is a solid dark rectangle twice as wide as tall or more (ink or outside the
    page over 60% of its box on the working image, `dark_work`, uint8 0/1; the stretched
    page may have set it to paper already) whose light marks inside are three or more of
    about one height, filling a tenth to a half of a band of rows with dark rows above or
    below it (letters, not a photograph's highlights). Returns the banners' boxes (x0, y0,
    x1, y1), full resolution."""
    mask = dark_work.astype(np.uint8)
    # Outer contours' boxes: forty times faster than labelling with statistics here.
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    found = []
    for x, y, w, h in (cv2.boundingRect(c) for c in contours):
        # A banner holds a row or two of letters: wider than tall, solid around them.
        if w * h < 200 or w < 2 * h or mask[y : y + h, x : x + w].sum() < 0.6 * w * h:
            continue
        # Inside the box by a working pixel: its edge may be paper at full resolution.
        x0, y0, x1, y1 = (
            (x + 1) * factor,
            (y + 1) * factor,
            (x + w - 1) * factor,
            (y + h - 1) * factor,
        )
        crop = image[y0:y1, x0:x1]
        if crop.size == 0:
            continue
        paper = _white_letters(crop)
        if paper is not None:
            dark, bright = np.percentile(crop, [10, 99])
            inverted = (bright - crop.astype(np.float32)) * (255.0 / max(bright - dark, 1.0))
            inverted[paper] = 255.0
            stretched[y0:y1, x0:x1] = np.clip(inverted + 0.5, 0, 255).astype(np.uint8)
            found.append((int(x0), int(y0), int(x1), int(y1)))
    return found


def _white_letters(crop: np.ndarray) -> np.ndarray | None:
    """Whether the light marks of a dark region are a row of letters (see _invert_banners):
    if so, the paper in the corners of its box (bool), else None."""
    dark, bright = np.percentile(crop, [10, 99])
    if bright - dark < 60:
        return None
    light = (crop > (dark + bright) / 2).astype(np.uint8)
    paper = _skewed_corners(light)
    light[paper] = 0
    # Paper around the banner (the box may reach past its edge) is no letter.
    inside_rows = np.flatnonzero((light | paper).mean(axis=1) < 0.9)
    inside_cols = np.flatnonzero((light | paper).mean(axis=0) < 0.9)
    if len(inside_rows) == 0 or len(inside_cols) == 0:
        return None
    marks = np.ascontiguousarray(
        light[inside_rows[0] : inside_rows[-1] + 1, inside_cols[0] : inside_cols[-1] + 1]
    )
    m, _, stats, _ = cv2.connectedComponentsWithStats(marks, connectivity=8)
    heights = stats[1:m, cv2.CC_STAT_HEIGHT]
    letters = heights[(heights >= 6) & (heights < 0.9 * marks.shape[0])]
    if len(letters) < 3:
        return None
    q25, q75 = np.percentile(letters, [25, 75])
    rows = np.flatnonzero(marks.mean(axis=1) > 0.01)
    if len(rows) == 0 or rows[-1] - rows[0] + 1 > 0.9 * len(marks):
        return None
    band = marks[rows[0] : rows[-1] + 1]
    return paper if q75 <= 2.0 * q25 and 0.1 <= band.mean() <= 0.5 else None


def _skewed_corners(light: np.ndarray, min_aspect: float = 6.0) -> np.ndarray:
    """bool: the paper in the corners of a skewed banner's upright box. Each is a thin right
    triangle in a corner of the box (light touching two adjacent edges, `min_aspect` times
    longer than wide, half its box's area or so): the gaps between a heavy word's letters,
    which can touch the box's edges too, are neither that thin nor triangles."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(light, connectivity=8)
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    area = stats[:, cv2.CC_STAT_AREA]
    height, width = light.shape
    left, top, right, bottom = x == 0, y == 0, x + w == width, y + h == height
    corner = (left | right) & (top | bottom)
    thin = np.maximum(w, h) >= min_aspect * np.minimum(w, h)
    corners = corner & thin & (area <= 0.6 * w * h)
    corners[0] = False
    if not corners.any():
        return np.zeros(light.shape, bool)
    return corners[labels]


def _percentile_u8(image: np.ndarray, percent: float) -> float:
    """A percentile of a uint8 image from its histogram (much faster than np.percentile)."""
    cdf = np.cumsum(cv2.calcHist([image], [0], None, [256], [0, 256]).ravel())
    return float(np.searchsorted(cdf, percent / 100.0 * cdf[-1]))


def _sharp_dark_regions(
    dark: np.ndarray, white: np.ndarray, reference: np.ndarray, sharpness: float
) -> np.ndarray:
    """255 on dark components whose boundary is a step edge (mounts), not a slow vignette."""
    count, labels = cv2.connectedComponents(dark, connectivity=8)
    element = np.ones((3, 3), np.uint8)
    gradient = cv2.morphologyEx(white, cv2.MORPH_GRADIENT, element)
    boundary = (dark > 0) & (cv2.erode(dark, element, borderType=cv2.BORDER_REPLICATE) == 0)
    lab = labels[boundary]
    n_edge = np.bincount(lab, minlength=count).astype(np.float64)
    grad_sum = np.bincount(lab, weights=gradient[boundary].astype(np.float64), minlength=count)
    # Over the dark pixels only: the rest is label 0, which is never kept.
    inside = np.flatnonzero(dark)
    all_lab = labels.ravel()[inside]
    contrast = reference.ravel()[inside].astype(np.float64) - white.ravel()[inside]
    n_px = np.bincount(all_lab, minlength=count).astype(np.float64)
    contrast_sum = np.bincount(all_lab, weights=contrast, minlength=count)
    with np.errstate(divide="ignore", invalid="ignore"):
        edge_contrast = grad_sum / n_edge
        region_contrast = contrast_sum / n_px
        keep = (n_edge > 0) & (edge_contrast >= sharpness * region_contrast)
    keep[0] = False
    return np.where(keep[labels], np.uint8(255), np.uint8(0))


def _edge_artifacts(
    ink: np.ndarray,
    params: BinarizeParams,
    full: np.ndarray | None = None,
    factor: int = 1,
) -> np.ndarray:
    """255 on dark things along the image's edges that are not text.

    Scanner margins: components touching the image border and longer than
    `border_strip_frac` of that side, but for thin rules (`edge_rule_frac`) that run away
    from the one edge they touch. Punched holes: solid, round blobs of hole size
    (`hole_size_frac` of the long side) centred within `hole_band_frac` of an edge and
    standing apart from any text (see `_is_hole`); the white level cannot remove them
    because it must keep the strokes of large headings. `full` is the uint8 image at full
    resolution (ink dark), `factor` times larger than `ink`: a hole's shape is checked there.
    """
    height, width = ink.shape
    labels, stats, centroids = label_components(ink)
    x0, y0 = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    # "Touching" allows a gap of 1 % of the side: a page edge's shadow seldom starts exactly
    # at the image border, and text seldom comes this close to it.
    gap_x, gap_y = max(1, round(0.01 * width)), max(1, round(0.01 * height))
    at_left, at_right = x0 < gap_x, x0 + w > width - gap_x
    at_top, at_bottom = y0 < gap_y, y0 + h > height - gap_y
    touches = at_left | at_right | at_top | at_bottom
    long_across = w >= params.border_strip_frac * width
    long_down = h >= params.border_strip_frac * height
    # A thin rule that only starts at one edge, running away from it, is the page's: an
    # underline under a heading typed close to the left edge of a tightly cropped scan went
    # with the letters it touches; a typed rule from the edge is a separator.
    thin = params.edge_rule_frac
    rule_across = long_across & (h <= thin * height) & (at_left ^ at_right) & ~(at_top | at_bottom)
    rule_down = long_down & (w <= thin * width) & (at_top ^ at_bottom) & ~(at_left | at_right)
    strip = touches & (long_across | long_down) & ~rule_across & ~rule_down
    long_side = max(height, width)
    lo, hi = (f * long_side for f in params.hole_size_frac)
    fill = stats[:, cv2.CC_STAT_AREA] / np.maximum(w * h, 1)
    cx, cy = centroids[:, 0], centroids[:, 1]
    band = params.hole_band_frac
    near_edge = (np.minimum(cx, width - cx) < band * width) | (
        np.minimum(cy, height - cy) < band * height
    )
    hole = (
        (w >= lo) & (h >= lo) & (w <= hi) & (h <= hi)
        & (np.maximum(w, h) <= 1.5 * np.minimum(w, h))
        & (fill >= 0.65)
        & near_edge
    )  # fmt: skip
    hole[0] = False
    for i in np.flatnonzero(hole):
        hole[i] = _is_hole(labels, stats, int(i), strip, params, full, factor)
    keep = strip | hole
    keep[0] = False
    if not keep.any():
        return np.zeros_like(ink)
    return np.where(keep[labels], np.uint8(255), np.uint8(0))


def _is_hole(
    labels: np.ndarray,
    stats: np.ndarray,
    i: int,
    strip: np.ndarray,
    params: BinarizeParams,
    full: np.ndarray | None,
    factor: int,
) -> bool:
    """Whether hole-sized component i is a punched hole rather than a (bold) letter.

    Size, fill and place alone cannot tell: on the working image, shrunk and median-filtered,
    a bold glyph (a heading's, or body text's on a small image) is a dark, compact blob of
    hole size, its counters filled in, and text starts near the edges. So a hole must be
    solid where its shape is sharp, at full resolution (the widest disc inside it spans
    most of it, where a letter's is a stroke wide), AND stand alone: no mark of comparable
    size within `hole_clearance` of its size, where a letter has the neighbours of its word
    and line.
    """
    x, y, w, h = (int(v) for v in stats[i, :4])
    if full is None:
        blob = (labels[y : y + h, x : x + w] == i).astype(np.uint8)
    else:
        blob = _full_resolution_blob(full, (x - 1, y - 1, x + w + 1, y + h + 1), factor)
    if blob is None or _inscribed_radius(blob) < params.hole_solidity * min(blob.shape):
        return False
    size = max(w, h)
    pad = math.ceil(params.hole_clearance * size)
    height, width = labels.shape
    x0, y0 = max(0, x - pad), max(0, y - pad)
    x1, y1 = min(width, x + w + pad), min(height, y + h + pad)
    near = np.unique(labels[y0:y1, x0:x1])
    near = near[(near != 0) & (near != i) & ~strip[near]]
    # Specks and dust nearby do not make a hole a letter; a letter's neighbours are letters.
    big = np.maximum(stats[near, cv2.CC_STAT_WIDTH], stats[near, cv2.CC_STAT_HEIGHT])
    return not bool((big >= max(3, 0.2 * size)).any())


def _full_resolution_blob(
    full: np.ndarray, box: tuple[int, int, int, int], factor: int
) -> np.ndarray | None:
    """uint8 mask, cropped to its extent, of the largest dark component (Otsu's threshold)
    of the full-resolution image under a working-image box (x0, y0, x1, y1, exclusive)."""
    height, width = full.shape
    x0, y0, x1, y1 = (v * factor for v in box)
    crop = full[max(0, y0) : min(height, y1), max(0, x0) : min(width, x1)]
    if crop.size == 0:
        return None
    _, dark = cv2.threshold(crop, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
    if count <= 1:
        return None
    j = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h = (int(v) for v in stats[j, :4])
    return (labels[y : y + h, x : x + w] == j).astype(np.uint8)


def _inscribed_radius(blob: np.ndarray) -> float:
    """Radius in pixels of the largest disc inside a uint8 0/1 mask."""
    padded = cv2.copyMakeBorder(blob, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    return float(cv2.distanceTransform(padded, cv2.DIST_L2, 3).max())


def _flatten(
    image: np.ndarray, white: np.ndarray, outside_work: np.ndarray, factor: int
) -> np.ndarray:
    """Full-resolution uint8 image / white level, paper at _PAPER_LEVEL, outside = 255."""
    size = (image.shape[1], image.shape[0])
    white_full = enlarge(np.maximum(white, 1), factor, size, cv2.INTER_LINEAR)
    # In place: every fresh full-page array costs page faults as well as the pass itself.
    flat = cv2.divide(image, white_full, dst=white_full, scale=_PAPER_LEVEL)
    if outside_work.any():
        cv2.max(flat, enlarge(outside_work, factor, size, cv2.INTER_NEAREST), dst=flat)
    return flat


def enlarge(
    small: np.ndarray, factor: int, size: tuple[int, int], interpolation: int
) -> np.ndarray:
    """Undo `shrink`: scale up by `factor` and fill the left-out edge by replication."""
    width, height = size
    if factor == 1 and small.shape == (height, width):
        return small
    scaled = (small.shape[1] * factor, small.shape[0] * factor)
    if scaled[0] >= width and scaled[1] >= height:
        return cv2.resize(small, scaled, interpolation=interpolation)[:height, :width]
    # The left-out edge replicated in place: a border added afterwards would copy the whole
    # page once more.
    big = np.empty((height, width), small.dtype)
    inner_w, inner_h = min(scaled[0], width), min(scaled[1], height)
    if scaled == (inner_w, inner_h):
        cv2.resize(small, scaled, dst=big[:inner_h, :inner_w], interpolation=interpolation)
    else:
        resized = cv2.resize(small, scaled, interpolation=interpolation)
        big[:inner_h, :inner_w] = resized[:inner_h, :inner_w]
    big[inner_h:, :inner_w] = big[inner_h - 1 : inner_h, :inner_w]
    big[:, inner_w:] = big[:, inner_w - 1 : inner_w]
    return big


class _Levels(NamedTuple):
    black: float  # the text's ink, flattened units (paper near _PAPER_LEVEL)
    paper: float
    noise_sigma: float  # spread of the paper, flattened units
    has_ink: bool
    ink_limit: float = 0.0  # pixels below this are clearly darker than paper


def _levels(
    flat: np.ndarray,
    outside_work: np.ndarray,
    factor: int,
    params: BinarizeParams,
) -> _Levels:
    """Black level, paper level and paper noise of the flattened page, from its histogram.

    Paper is the majority: its level is the median and its noise the spread above it. Ink is
    what lies clearly below paper; its black level is a low percentile of those pixels, so
    it follows the strokes' cores rather than their anti-aliased edges.
    """
    hist = cv2.calcHist([flat], [0], None, [256], [0, 256]).ravel()
    if outside_work.any():
        # Outside pixels were set to 255; take them out of the statistics.
        outside_px = float(np.count_nonzero(outside_work)) * factor * factor
        hist[255] = max(0.0, hist[255] - outside_px)
    total = hist.sum()
    if total <= 0:
        return _Levels(0.0, float(_PAPER_LEVEL), 0.0, False)
    cdf = np.cumsum(hist) / total
    paper = float(np.searchsorted(cdf, 0.5))
    upper = float(np.searchsorted(cdf, 0.75))
    sigma = max(1.0, (upper - paper) / 0.674)
    # Very noisy pages: never ask for more than half the paper level below paper, or
    # nothing at all would count as ink.
    below = min(params.noise_sigmas * sigma, 0.5 * paper)
    limit = paper - max(below, params.min_contrast * paper)
    candidates = hist[: max(0, int(math.floor(limit)))]
    if candidates.sum() < params.min_ink_px:
        return _Levels(0.0, paper, sigma, False, limit)
    ccdf = np.cumsum(candidates) / candidates.sum()
    black = float(np.searchsorted(ccdf, params.black_percentile / 100.0))
    return _Levels(black, paper, sigma, True, limit)


def _local_black(
    flat: np.ndarray,
    levels: _Levels,
    outside_work: np.ndarray,
    factor: int,
    params: BinarizeParams,
) -> tuple[np.ndarray, int] | None:
    """Map of the ink's black level where it is lighter than the page's, and the map's
    shrink factor against full resolution; None where nowhere is.

    The page's black level follows its darkest text; a faded typewritten letter under a dark
    printed letterhead would fall above the threshold. Locally the black level is the mean
    of the darker half of the clearly-dark stroke cores nearby (a core is the darkest pixel
    of a working pixel's block), never darker than the page's and never lighter than
    `max_local_black` of the paper level, which keeps faint show-through and the paper's own
    mottling paper. Computed on a grid four times coarser than the working image.
    """
    height, width = outside_work.shape
    if factor > 1:
        eroded = cv2.erode(flat, np.ones((factor, factor), np.uint8))
        half = factor // 2
        cores = eroded[half : height * factor : factor, half : width * factor : factor]
    else:
        cores = flat[:height, :width]
    cores = np.ascontiguousarray(cores, dtype=np.float32)
    dark = ((cores < levels.ink_limit) & (outside_work == 0)).astype(np.float32)
    coarse = 4 if min(height, width) >= 32 else 1
    window = max(3, round(params.local_window_frac * max(height, width) / coarse) | 1)

    def local_mean(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weighted mean of the cores over the window, and the window's share of weight."""
        share = cv2.blur(shrink(weights, coarse), (window, window))
        total = cv2.blur(shrink(cores * weights, coarse), (window, window))
        return total / np.maximum(share, 1e-6), share

    mean_all, share = local_mean(dark)
    mean_up = enlarge(mean_all, coarse, (width, height), cv2.INTER_LINEAR)
    mean_dark, _ = local_mean(dark * (cores <= mean_up))
    cap = params.max_local_black * levels.paper
    local = np.clip(mean_dark, levels.black, cap)
    local[share < params.min_local_ink] = levels.black
    if float(local.max()) < levels.black + 0.05 * (levels.paper - levels.black):
        return None
    return local, factor * coarse


def _stretch_local(
    flat: np.ndarray, black_map: np.ndarray, paper: float, factor: int
) -> np.ndarray:
    """Full-resolution uint8: black (per place) -> 0 and paper -> 255, linear, clipped."""
    size = (flat.shape[1], flat.shape[0])
    black_u8 = np.clip(black_map + 0.5, 0, 255).astype(np.uint8)
    span_u8 = np.clip(paper - black_map + 0.5, 1, 255).astype(np.uint8)
    black = enlarge(black_u8, factor, size, cv2.INTER_LINEAR)
    span = enlarge(span_u8, factor, size, cv2.INTER_LINEAR)
    return cv2.divide(cv2.subtract(flat, black), span, scale=255)


def _denoise(flat: np.ndarray) -> np.ndarray:
    """Cut heavy noise before the threshold, keeping strokes two pixels wide.

    A narrow Gaussian, not a median: at 150 dpi a 3x3 median breaks thin strokes apart.
    """
    return cv2.GaussianBlur(flat, (0, 0), 0.7)


def _stretch_lut(levels: _Levels) -> np.ndarray:
    """uint8 lookup table mapping black -> 0 and paper -> 255 (linear, clipped)."""
    values = np.arange(256, dtype=np.float64)
    low = levels.black if levels.has_ink else 0.0
    span = max(levels.paper - low, 1.0)
    return np.clip((values - low) / span * 255.0 + 0.5, 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------------------
# Working ink (for the skew and the thin-line pass)


def _working_ink(
    stretched: np.ndarray, factor: int, work_shape: tuple[int, int], threshold: int
) -> np.ndarray:
    """Working-size uint8 ink mask from the full-resolution threshold (keeps thin strokes),
    for the skew and for lines too thin to survive the working image itself."""
    _, ink = cv2.threshold(stretched, threshold - 1, 255, cv2.THRESH_BINARY_INV)
    ink = shrink(ink, factor)[: work_shape[0], : work_shape[1]]
    return (ink >= 48).astype(np.uint8)


# ----------------------------------------------------------------------------------------
# The page in the deskewed frame


def _page_work(
    outside_work: np.ndarray,
    factor: int,
    original_size: tuple[int, int],
    to_original: np.ndarray,
    frame_size: tuple[int, int],
) -> np.ndarray:
    """uint8 mask of the deskewed frame at working resolution (`factor` times smaller):
    255 where the original page shows; enlarged, it is Binarized.page_mask.

    Rotated at working resolution (the mask is coarse anyway); on a rotated page it errs by
    a working pixel towards the page, so no ink falls outside it.
    """
    inside = np.where(outside_work > 0, np.uint8(0), np.uint8(255))
    frame_w, frame_h = frame_size
    if not np.array_equal(to_original, IDENTITY):
        # Working pixel x_w covers full-resolution pixels around x = f * x_w + (f - 1) / 2.
        f = float(factor)
        to_full = np.array([[f, 0.0, (f - 1) / 2], [0.0, f, (f - 1) / 2], [0.0, 0.0, 1.0]])
        forward = np.vstack([cv2.invertAffineTransform(to_original), [0.0, 0.0, 1.0]])
        work_forward = (np.linalg.inv(to_full) @ forward @ to_full)[:2]
        # The working image covers only whole blocks; pad it to cover the full original.
        width, height = original_size
        pad_b = -(-height // factor) - inside.shape[0]
        pad_r = -(-width // factor) - inside.shape[1]
        if pad_b or pad_r:
            inside = cv2.copyMakeBorder(inside, 0, pad_b, 0, pad_r, cv2.BORDER_REPLICATE)
        work_size = (-(-frame_w // factor), -(-frame_h // factor))
        # Generous by a working pixel: the page's ink was rotated at full resolution with
        # interpolation, so its edge can reach a little past the coarse mask's.
        inside = cv2.dilate(inside, np.ones((3, 3), np.uint8))
        inside = cv2.warpAffine(
            inside,
            work_forward,
            work_size,
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
    return inside
