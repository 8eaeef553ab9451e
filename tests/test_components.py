"""Component statistics from runs of ink agree with OpenCV's, pixel for pixel."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scandex.ocr.components import label_components, mask_points

pytestmark = pytest.mark.timeout(60)


@st.composite
def random_masks(draw) -> np.ndarray:
    """Bool masks up to 40 x 40 of any density, from sparse dots to solid ink."""
    shape = (draw(st.integers(1, 40)), draw(st.integers(1, 40)))
    density = draw(st.floats(0.0, 1.0))
    return np.random.default_rng(draw(st.integers(0, 10_000))).random(shape) < density


@settings(max_examples=100, deadline=None)
@given(ink=random_masks())
def test_statistics_agree_with_opencv(ink: np.ndarray) -> None:
    height, width = ink.shape
    found = label_components(ink)
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(
        ink.view(np.uint8), connectivity=8
    )
    assert np.array_equal(found.labels, labels)
    assert np.array_equal(found.stats[1:], stats[1:count])
    np.testing.assert_allclose(found.centroids[1:], centroids[1:count], rtol=0, atol=1e-9)
    # The paper's row: the image's box and its paper pixels.
    assert found.stats[0].tolist() == [0, 0, width, height, int((~ink).sum())]


def test_a_blank_image_has_only_the_paper() -> None:
    found = label_components(np.zeros((5, 7), bool))
    assert found.stats.tolist() == [[0, 0, 7, 5, 35]]
    assert not found.labels.any()


@settings(max_examples=100, deadline=None)
@given(mask=random_masks())
def test_mask_points_are_numpys_nonzero(mask: np.ndarray) -> None:
    """The normalizer measures a line's band on the points of its stroke edges in
    np.nonzero's order; OpenCV lists them faster and must list the same ones."""
    rows, cols = mask_points(mask)
    expected_rows, expected_cols = np.nonzero(mask)
    assert rows.dtype == cols.dtype == np.int64
    assert np.array_equal(rows, expected_rows)
    assert np.array_equal(cols, expected_cols)
    assert np.array_equal(mask_points(mask.view(np.uint8))[1], expected_cols)
