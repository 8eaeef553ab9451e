"""Deskew: how far a page's text lines lean, the level frame that undoes it, and the way
from that frame back to the original image.

Page analysis works in the deskewed frame, where text lines are level; every box it reports
is mapped back to the original image with the functions here.

Coordinates: pixel centres are at integer (x, y), as in OpenCV; `to_original` is a 2x3 affine
that maps a pixel of the deskewed frame to the original image. Boxes (`scandex.page.BBox`)
are pixel edges, x1/y1 exclusive; `map_box_to_original` does the half-pixel bookkeeping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from scandex.page import BBox

__all__ = [
    "IDENTITY",
    "SkewParams",
    "deskew_transform",
    "estimate_skew_deg",
    "line_structure",
    "map_box_to_original",
    "map_boxes_to_original",
    "map_points_to_original",
    "to_frame",
]

# to_original of a page that was not turned.
IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


@dataclass(frozen=True)
class SkewParams:
    """Knobs of `estimate_skew_deg`: search range, precision, and when to believe it."""

    max_skew_deg: float = 10.0
    coarse_step_deg: float = 0.5
    fine_step_deg: float = 0.05
    # At most this many ink points feed the skew search (a deterministic stride sample),
    # and a quarter of them its coarse steps, which only need to land near the peak.
    max_skew_points: int = 60_000
    coarse_skew_points: int = 15_000
    # The best profile must be this many times sharper than the profile of the same number
    # of structureless points (scattered specks score about 1.5, a few words 9, a page 40+),
    # or there are no lines to measure and the skew is 0.
    min_line_structure: float = 4.0
    # ... and the ink must spread at least this far sideways (standard deviation, px).
    min_skew_spread_px: float = 8.0
    # Near the whole page's angle, a profile summed over this many vertical strips of the
    # page overrules it when its own best angle is this far away and at least this much
    # (relative) sharper there (see estimate_skew_deg).
    skew_strips: int = 4
    max_strip_disagreement_deg: float = 0.15
    min_strip_gain: float = 0.03


def estimate_skew_deg(ink: np.ndarray, params: SkewParams = SkewParams()) -> float:
    """Counter-clockwise skew of the text lines in a binary image, in degrees.

    Projection profiles of the ink points: for each candidate angle the points are projected
    onto the direction perpendicular to the lines and histogrammed (linear binning, so the
    score is smooth in the angle); lines that are level give the sharpest profile, measured
    as the sum of squared differences of neighbouring bins. Coarse steps over the whole range,
    then fine steps around the best, then a parabola through the best three. Returns 0 when
    the evidence is too weak (too few points, too narrow, or no line structure at all).

    One profile of the whole page is sharpest 0.25 to 0.4 degrees off on a page whose
    columns' lines stand at different heights (a newspaper's columns, a title beside small
    print): tilting lines up one column's lines with the next one's. A profile per vertical
    strip of the page, summed, lines nothing up across strips, but its lines are shorter, so
    it measures less precisely. Over the fine steps it stands when its best is far from the
    whole page's and clearly sharper there; on a sparse page of short lines its top is flat,
    and the whole page's angle stays.
    """
    evidence = skew_evidence(ink, params)
    if evidence is None or evidence[1] < params.min_line_structure:
        return 0.0
    return evidence[0]


def line_structure(ink: np.ndarray, params: SkewParams = SkewParams()) -> float:
    """How many times sharper the best projection profile of the ink is than that of as
    many structureless points (see estimate_skew_deg): text lines score 9 and more,
    scattered specks and noise about 1.5; 0 where there is too little ink to tell."""
    evidence = skew_evidence(ink, params)
    return 0.0 if evidence is None else evidence[1]


def skew_evidence(ink: np.ndarray, params: SkewParams = SkewParams()) -> tuple[float, float] | None:
    """estimate_skew_deg's search: the angle and line_structure's score, or None where the
    ink is too little or too narrow to measure."""
    # OpenCV lists the points in np.nonzero's order at a fraction of its cost.
    points = cv2.findNonZero(ink.view(np.uint8) if ink.dtype == bool else ink)
    if points is None or len(points) < 50:
        return None
    points = points.reshape(-1, 2)
    stride = max(1, len(points) // params.max_skew_points)
    xs = points[::stride, 0].astype(np.float64)
    ys = points[::stride, 1].astype(np.float64)
    xs -= xs.mean()
    ys -= ys.mean()
    if float(xs.std()) < params.min_skew_spread_px:
        return None
    # The profile is built on quarter-pixel bins and smoothed by a kernel wider than a pixel,
    # so it does not depend on where the points fall between bins: with plain 1-pixel bins,
    # at exactly 0 degrees every point of a pixel row falls on the same bin, and the pixel
    # grid itself would pull small skews towards 0.
    sub = 4
    kernel = np.convolve(np.ones(sub) / sub, _gaussian(0.6 * sub))
    # Strips of equal width across the ink (its outermost percent left out on each side).
    lo, hi = np.percentile(xs, [1, 99])
    n_strips = params.skew_strips
    strip = np.clip(((xs - lo) * (n_strips / max(hi - lo, 1.0))).astype(np.int64), 0, n_strips - 1)

    # Quarter-pixel bins, and each point placed at a fixed random spot inside its pixel
    # (an ink pixel stands for a square): then no angle lines the points up with the bins.
    dither = np.random.default_rng(0).uniform(-0.5, 0.5, (2, len(xs)))
    xs = (xs + dither[0]) * sub
    ys = (ys + dither[1]) * sub
    # Room before the first bin for the kernel's reach (a whole number of bins: the same
    # binning as without it).
    offset = float(np.hypot(xs, ys).max()) + 1.0 + len(kernel)
    # Each strip's bins after the last one's, with room for the kernel between them.
    strip_bins = strip * (int(2 * offset) + 2 * len(kernel))
    kernel_f32 = kernel.astype(np.float32).reshape(1, -1)

    def bins_at(angle_deg: float, px: np.ndarray = xs, py: np.ndarray = ys) -> np.ndarray:
        a = math.radians(angle_deg)
        proj = px * math.sin(a)
        proj += py * math.cos(a)
        proj += offset
        return proj.astype(np.int64)

    def sharpness(bins: np.ndarray) -> float:
        # OpenCV's filter (float32; the kernel is symmetric) at a third of np.convolve's
        # cost, and a plain sum where OpenBLAS would share the dot product among threads.
        profile = np.bincount(bins, minlength=int(bins.max()) + len(kernel))
        smooth = cv2.filter2D(
            profile.astype(np.float32).reshape(1, -1),
            -1,
            kernel_f32,
            borderType=cv2.BORDER_CONSTANT,
        )
        diff = np.diff(smooth.ravel()).astype(np.float64)
        return float(np.sum(diff * diff))

    limit = params.max_skew_deg
    coarse = np.arange(-limit, limit + 1e-9, params.coarse_step_deg)
    every = max(1, len(xs) // params.coarse_skew_points)
    # The coarse steps' share of the points, taken once (not a strided copy per angle).
    xs_coarse, ys_coarse = xs[::every].copy(), ys[::every].copy()
    strip_bins_coarse = strip_bins[::every].copy()
    coarse_scores = [sharpness(bins_at(a, xs_coarse, ys_coarse)) for a in coarse]
    best = float(coarse[int(np.argmax(coarse_scores))])
    step = params.fine_step_deg
    fine = best + np.arange(-params.coarse_step_deg, params.coarse_step_deg + 1e-9, step)
    fine_bins = [bins_at(a) for a in fine]
    fine_scores = np.array([sharpness(b) for b in fine_bins])
    angle = _parabola_top(fine, fine_scores, step)
    best_score = float(fine_scores.max())
    # The strips on the coarse steps' share of the points: they only have to tell whether
    # the whole page's angle is far off.
    strips_scores = np.array([sharpness(b[::every] + strip_bins_coarse) for b in fine_bins])
    strips_angle = _parabola_top(fine, strips_scores, step)
    if abs(strips_angle - angle) > params.max_strip_disagreement_deg:
        gain = (
            sharpness(bins_at(strips_angle) + strip_bins)
            / max(sharpness(bins_at(angle) + strip_bins), 1e-9)
            - 1.0
        )
        if gain >= params.min_strip_gain:  # measured again on all the points
            angle = _parabola_top(
                fine, np.array([sharpness(b + strip_bins) for b in fine_bins]), step
            )
    # Structureless points each add about their kernel's own sharpness to the score.
    noise_score = len(xs) * float(np.dot(np.diff(kernel), np.diff(kernel)))
    return round(angle, 3), best_score / noise_score


def _parabola_top(angles: np.ndarray, scores: np.ndarray, step: float) -> float:
    """The best of angles `step` apart, moved to the top of the parabola through its score
    and its neighbours'."""
    i = int(np.argmax(scores))
    angle = float(angles[i])
    if 0 < i < len(angles) - 1:
        left, mid, right = scores[i - 1 : i + 2]
        denom = left - 2 * mid + right
        if denom < 0:
            angle += step * 0.5 * (left - right) / denom
    return angle


def _gaussian(sigma: float) -> np.ndarray:
    radius = max(1, math.ceil(3 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum()


def deskew_transform(size: tuple[int, int], angle_deg: float) -> tuple[np.ndarray, tuple[int, int]]:
    """(to_original, (width, height) of the deskewed frame) for a page skewed by angle_deg.

    The frame is just large enough to hold the whole rotated original; the original's centre
    lands on the frame's centre.
    """
    width, height = size
    if not angle_deg:
        return IDENTITY.copy(), (width, height)
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    frame_w = max(1, math.ceil(width * abs(c) + height * abs(s) - 1e-6))
    frame_h = max(1, math.ceil(width * abs(s) + height * abs(c) - 1e-6))
    # Deskewing rotates the baselines down to level: (u, v) = R (x, y) with
    # R = [[c, -s], [s, c]]; to_original is its inverse, R^T, around the two centres.
    inverse = np.array([[c, s], [-s, c]])
    centre_frame = np.array([(frame_w - 1) / 2.0, (frame_h - 1) / 2.0])
    centre_orig = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
    offset = centre_orig - inverse @ centre_frame
    return np.hstack([inverse, offset[:, None]]), (frame_w, frame_h)


def to_frame(
    image: np.ndarray,
    to_original: np.ndarray,
    frame_size: tuple[int, int],
    border_value: float = 255,
) -> np.ndarray:
    """An original-size image turned into the deskewed frame (bilinear); what the turn
    brings in from beyond the original's edges is border_value."""
    return cv2.warpAffine(
        image,
        cv2.invertAffineTransform(to_original),
        frame_size,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=border_value,
    )


def map_points_to_original(points: np.ndarray, to_original: np.ndarray) -> np.ndarray:
    """Nx2 (x, y) pixel positions in the deskewed frame -> the original image."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return pts @ np.asarray(to_original, dtype=np.float64)[:, :2].T + to_original[:, 2]


def map_box_to_original(box: BBox, to_original: np.ndarray, original_size: tuple[int, int]) -> BBox:
    """A deskewed-frame box in the original image: bounding box of its corners, clipped."""
    x0, y0, x1, y1 = map_boxes_to_original(
        np.array([[box.x0, box.y0, box.x1, box.y1]]), to_original, original_size
    )[0].tolist()
    return BBox(x0, y0, x1, y1)


def map_boxes_to_original(
    boxes: np.ndarray, to_original: np.ndarray, original_size: tuple[int, int]
) -> np.ndarray:
    """map_box_to_original of each row of an (N, 4) array x0, y0, x1, y1 (numbers of
    pixel edges), as an (N, 4) int64 array: one pass for all of a line's characters."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    # Box edges sit half a pixel before the first / after the last pixel centre.
    x0, y0, x1, y1 = (b[:, k] - 0.5 for k in range(4))
    corners = np.stack([x0, y0, x1, y0, x0, y1, x1, y1], axis=1).reshape(-1, 2)
    mapped = map_points_to_original(corners, to_original).reshape(-1, 4, 2)
    eps = 1e-6
    low = np.floor(mapped.min(axis=1) + 0.5 + eps)
    high = np.ceil(mapped.max(axis=1) + 0.5 - eps)
    width, height = original_size
    out = np.concatenate([low, high], axis=1).astype(np.int64)
    return np.clip(out, 0, np.array([width, height, width, height]))
