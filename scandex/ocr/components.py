"""Connected components of an ink mask: 8-connected labels and each one's box, area and centre.

OpenCV's labelling with statistics costs four times its labelling alone, and scipy's
find_objects visits every pixel; here the statistics come from the runs of ink along the
rows (a run's pixels share one label): a few hundred thousand runs even on a page with a
halftone photograph, against millions of pixels.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

__all__ = ["Components", "label", "label_components", "mask_points", "measure"]


class Components(NamedTuple):
    labels: np.ndarray  # int32 HxW, 0 = paper, 1..count-1 the components
    stats: np.ndarray  # int64 (count, 5): x, y, width, height, area; row 0 is the paper
    centroids: np.ndarray  # float64 (count, 2): mean x, y of each one's pixels (row 0: 0, 0)


def label_components(ink: np.ndarray, *, centroids: bool = True) -> Components:
    """The 8-connected components of a bool (or 0/1 uint8) ink mask, as OpenCV's
    connectedComponentsWithStats reports them, except that the paper's row holds the
    image's box and its paper pixels (centroids=False: all zero, not worked out)."""
    count, labels = label(ink)
    return measure(ink, labels, count, centroids=centroids)


def label(ink: np.ndarray) -> tuple[int, np.ndarray]:
    """(labels used, the paper's included; int32 HxW labels) of a bool or 0/1 ink mask."""
    count, labels = cv2.connectedComponentsWithAlgorithm(
        _as_uint8(ink), 8, cv2.CV_32S, cv2.CCL_GRANA
    )
    return int(count), labels


def measure(
    ink: np.ndarray, labels: np.ndarray, count: int, *, centroids: bool = True
) -> Components:
    """The components of `label`: each one's box, area and centre (centroids=False: the
    centres are left zero, two passes over the runs saved)."""
    ink = _as_uint8(ink)
    height, width = ink.shape
    stats = np.zeros((count, 5), np.int64)
    stats[0] = (0, 0, width, height, ink.size)
    centres = np.zeros((count, 2))
    if count == 1:
        return Components(labels, stats, centres)
    x0, x1, y, owner = _ink_runs(ink, labels)
    big = np.iinfo(np.int64).max
    left, top = np.full(count, big, np.int64), np.full(count, big, np.int64)
    right, bottom = np.zeros(count, np.int64), np.zeros(count, np.int64)
    np.minimum.at(left, owner, x0)
    np.maximum.at(right, owner, x1)
    np.minimum.at(top, owner, y)
    np.maximum.at(bottom, owner, y + 1)
    length = x1 - x0
    area = np.bincount(owner, weights=length, minlength=count)
    stats[1:, 0], stats[1:, 1] = left[1:], top[1:]
    stats[1:, 2], stats[1:, 3] = right[1:] - left[1:], bottom[1:] - top[1:]
    stats[1:, 4] = area[1:].astype(np.int64)
    stats[0, 4] = ink.size - stats[1:, 4].sum()
    if not centroids:
        return Components(labels, stats, centres)
    # Sums of pixel coordinates, exact in float64: a run's x sum is its length times its
    # middle.
    sum_x = np.bincount(owner, weights=(x0 + x1 - 1) * length / 2.0, minlength=count)
    sum_y = np.bincount(owner, weights=y * length, minlength=count)
    centres[1:, 0] = sum_x[1:] / area[1:]
    centres[1:, 1] = sum_y[1:] / area[1:]
    return Components(labels, stats, centres)


def mask_points(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) of a bool or 0/1 uint8 mask's set pixels, int64, in raster order: what
    np.nonzero returns, in a quarter of its time on a line's stroke edges (OpenCV lists the
    points without numpy's per-element branches). `_ink_runs` keeps np.flatnonzero: its
    flat indices look the labels up directly, and measured faster there."""
    points = cv2.findNonZero(_as_uint8(mask))
    if points is None:
        empty = np.zeros(0, np.int64)
        return empty, empty.copy()
    points = points.reshape(-1, 2).astype(np.int64)
    return points[:, 1], points[:, 0]


def _as_uint8(ink: np.ndarray) -> np.ndarray:
    return ink.view(np.uint8) if ink.dtype == np.bool_ else (ink > 0).astype(np.uint8)


def _ink_runs(
    ink: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The runs of ink along the rows of a uint8 0/1 image: first x, x after the last, row,
    and label of each, in raster order."""
    width = ink.shape[1]
    # Ink whose left (right) neighbour is paper, or the image's edge, starts (ends) a run:
    # the differences of neighbouring columns, written straight into the masks (no shifted
    # copies of the page). numpy finds the True of a bool array several times faster than
    # the non-zeros of a uint8 one.
    first, last = np.empty_like(ink), np.empty_like(ink)
    first[:, 0] = ink[:, 0]
    cv2.subtract(ink[:, 1:], ink[:, :-1], dst=first[:, 1:])
    last[:, -1] = ink[:, -1]
    cv2.subtract(ink[:, :-1], ink[:, 1:], dst=last[:, :-1])
    starts = np.flatnonzero(first.view(bool))
    ends = np.flatnonzero(last.view(bool))
    rows = starts // width
    return starts - rows * width, ends - rows * width + 1, rows, labels.ravel()[starts]
