"""Deskew geometry: the skew's sign, the frame round-trips, boxes map back around their pixels."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scandex.ocr.deskew import (
    deskew_transform,
    estimate_skew_deg,
    map_box_to_original,
    map_points_to_original,
    to_frame,
)
from scandex.page import BBox

pytestmark = pytest.mark.timeout(60)


def test_skew_sign_is_counter_clockwise_for_baselines_rising_to_the_right() -> None:
    ink = np.zeros((400, 600), np.uint8)
    for y in range(60, 360, 40):  # lines rising by 5 % to the right
        cv2.line(ink, (50, y + 25), (550, y), 1, 3)
    assert estimate_skew_deg(ink) == pytest.approx(math.degrees(math.atan(25 / 500)), abs=0.1)


@settings(max_examples=200, deadline=None)
@given(
    width=st.integers(1, 5000),
    height=st.integers(1, 5000),
    angle_deg=st.floats(-10, 10, allow_nan=False),
    u=st.floats(0, 1),
    v=st.floats(0, 1),
)
def test_deskew_transform_round_trips_and_keeps_every_pixel(
    width: int, height: int, angle_deg: float, u: float, v: float
) -> None:
    to_original, (frame_w, frame_h) = deskew_transform((width, height), angle_deg)
    forward = cv2.invertAffineTransform(to_original)
    # A point of the original goes into the frame and comes back to where it was.
    point = np.array([[u * (width - 1), v * (height - 1)]])
    there = map_points_to_original(point, forward)
    back = map_points_to_original(there, to_original)
    np.testing.assert_allclose(back, point, atol=1e-6)
    # Every corner of the original (pixel edges) lands inside the frame.
    corners = np.array(
        [[-0.5, -0.5], [width - 0.5, -0.5], [-0.5, height - 0.5], [width - 0.5, height - 0.5]]
    )
    mapped = map_points_to_original(corners, forward)
    assert mapped[:, 0].min() >= -0.5 - 1e-6 and mapped[:, 0].max() <= frame_w - 0.5 + 1e-6
    assert mapped[:, 1].min() >= -0.5 - 1e-6 and mapped[:, 1].max() <= frame_h - 0.5 + 1e-6
    # A level segment in the frame rises to the right by angle_deg in the original.
    (x0, y0), (x1, y1) = map_points_to_original(np.array([[0.0, 0.0], [100.0, 0.0]]), to_original)
    assert math.degrees(math.atan2(y0 - y1, x1 - x0)) == pytest.approx(angle_deg, abs=1e-6)


@settings(max_examples=100, deadline=None)
@given(
    angle_deg=st.floats(-7, 7, allow_nan=False),
    x0=st.integers(0, 300),
    y0=st.integers(0, 300),
    w=st.integers(1, 200),
    h=st.integers(1, 200),
)
def test_map_box_is_the_bounding_box_of_the_mapped_pixels(
    angle_deg: float, x0: int, y0: int, w: int, h: int
) -> None:
    to_original, _ = deskew_transform((400, 500), angle_deg)
    box = BBox(x0, y0, x0 + w, y0 + h)
    mapped = map_box_to_original(box, to_original, (400, 500))
    # Every pixel centre of the box maps inside the mapped box (or outside the image).
    xs, ys = np.meshgrid(np.arange(box.x0, box.x1), np.arange(box.y0, box.y1))
    pts = map_points_to_original(np.stack([xs.ravel(), ys.ravel()], 1), to_original)
    inside_image = (
        (pts[:, 0] >= -0.5) & (pts[:, 0] < 399.5) & (pts[:, 1] >= -0.5) & (pts[:, 1] < 499.5)
    )
    pts = pts[inside_image]
    if len(pts):
        assert pts[:, 0].min() >= mapped.x0 - 0.5 and pts[:, 0].max() <= mapped.x1 - 0.5
        assert pts[:, 1].min() >= mapped.y0 - 0.5 and pts[:, 1].max() <= mapped.y1 - 0.5
    assert 0 <= mapped.x0 <= mapped.x1 <= 400 and 0 <= mapped.y0 <= mapped.y1 <= 500


def test_identity_when_there_is_no_skew() -> None:
    to_original, size = deskew_transform((300, 200), 0.0)
    assert size == (300, 200)
    box = BBox(10, 20, 30, 40)
    assert map_box_to_original(box, to_original, size) == box


def test_to_frame_puts_an_original_pixel_where_the_transform_says() -> None:
    image = np.full((300, 400), 255, np.uint8)
    image[100:104, 200:204] = 0
    to_original, frame = deskew_transform((400, 300), 3.0)
    turned = to_frame(image, to_original, frame)
    ys, xs = np.nonzero(turned < 128)
    centre = map_points_to_original(np.array([[xs.mean(), ys.mean()]]), to_original)
    np.testing.assert_allclose(centre[0], [201.5, 101.5], atol=0.5)
    assert turned.shape == (frame[1], frame[0])
    assert turned[0, 0] == 255  # the corner the turn brought in is paper
