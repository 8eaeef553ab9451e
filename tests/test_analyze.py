"""analyze_page: line images with only their own ink, and the way back to the original image."""

from __future__ import annotations

import math

import numpy as np
import pytest
from synth import render_page, render_text

from scandex.ocr.analyze import PageAnalysis, analyze_page
from scandex.page import BBox


def to_original(line, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    return line.points_to_original(xs, ys)


@pytest.fixture(scope="module")
def skewed() -> tuple:
    page = render_page("two_column", angle_deg=2.5, noise_sigma=4.0, seed=5)
    return page, analyze_page(page.image)


def test_line_ink_maps_back_inside_its_box(skewed):
    page, analysis = skewed
    assert len(analysis.lines) == len(page.lines)
    for line in analysis.lines:
        ys, xs = np.nonzero(line.image < 128)
        assert len(xs) > 0
        pts = to_original(line, xs.astype(float), ys.astype(float))
        b = line.bbox
        assert (pts[:, 0] >= b.x0 - 2).all() and (pts[:, 0] <= b.x1 + 1).all()
        assert (pts[:, 1] >= b.y0 - 2).all() and (pts[:, 1] <= b.y1 + 1).all()


def test_line_images_are_gray_with_a_paper_margin(skewed):
    _, analysis = skewed
    for line in analysis.lines:
        image = line.image
        assert image.dtype == np.uint8 and image.ndim == 2
        border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
        assert border.min() >= 200  # the margin is paper (with the scan's noise)
        # Gray, not binary: anti-aliased stroke edges keep intermediate levels.
        assert np.count_nonzero((image > 40) & (image < 215)) > 0.05 * np.count_nonzero(image < 215)


def test_a_stop_at_a_line_end_has_paper_after_it():
    """Half a text scale of paper around every line's ink, so the recognizer's normalization
    can keep its own margin: a comma at a line's end at the image's edge was not read."""
    page = render_page("edge_photo", seed=10)
    analysis = analyze_page(page.image)
    margin = 0.5 * analysis.scale_px - 1
    for line in analysis.lines:
        ink = np.flatnonzero((line.image < 128).any(axis=0))
        assert ink[0] >= margin and line.image.shape[1] - 1 - ink[-1] >= margin, line.bbox


def test_line_images_hold_their_ink(skewed):
    """The pixels of each line image, mapped back, are dark where the original is dark."""
    page, analysis = skewed
    original = page.image
    for line in analysis.lines[::5]:
        ys, xs = np.nonzero(line.image < 100)
        pts = np.rint(to_original(line, xs.astype(float), ys.astype(float))).astype(int)
        values = original[
            pts[:, 1].clip(0, original.shape[0] - 1), pts[:, 0].clip(0, original.shape[1] - 1)
        ]
        assert np.median(values) < 110


def test_skewed_baselines_follow_the_skew(skewed):
    page, analysis = skewed
    slope = -math.tan(math.radians(page.angle_deg))
    for line in analysis.lines:
        assert line.baseline is not None
        assert line.baseline[0] == pytest.approx(slope, abs=0.003)


def test_baseline_offset_on_a_straight_page():
    page = render_page("letter", seed=2)
    analysis = analyze_page(page.image)
    by_text = {t.text: f for t, f in zip(page.lines, analysis.lines, strict=True)}
    # No descenders: the baseline is the bottom of the ink.
    dear = by_text["Dear Sir:"]
    assert dear.baseline is not None
    assert dear.baseline[0] == 0.0
    assert abs(dear.baseline[1]) <= 1.5
    # With descenders ("g", "p", "y"), the baseline sits above the bottom of the box.
    spring = by_text["Springfield, Mass."]
    assert spring.baseline is not None and spring.baseline[1] < -0.15 * spring.bbox.height


def test_columns_and_page_fields(skewed):
    page, analysis = skewed
    assert isinstance(analysis, PageAnalysis)
    assert (analysis.width, analysis.height) == (page.image.shape[1], page.image.shape[0])
    assert analysis.angle_deg == pytest.approx(2.5, abs=0.15)
    assert 15 <= analysis.scale_px <= 35
    assert len(analysis.columns) == 2
    columns = [line.column for line in analysis.lines]
    assert columns == sorted(columns)
    for line in analysis.lines:
        assert analysis.columns[line.column].union(line.bbox) == analysis.columns[line.column]


def test_neighbouring_lines_ink_is_masked_out():
    """Descenders of a line reaching into the box of the line below are not in its image.

    The lower line is made of letters without ascenders placed between the upper line's
    descenders, so the two lines' boxes overlap but no glyphs touch.
    """
    size = 46
    paper = np.full((600, 1700), 0.96, np.float32)
    upper = render_text("gypsy jogging quietly by the grey quay", "serif", size)
    x_upper, y_upper = 150, 150
    descender_rows = upper[int(upper.shape[0] * 0.8) :]  # below the baseline
    below = np.flatnonzero(descender_rows.max(axis=0) > 0.05) + x_upper
    letter = render_text("o", "serif", size)
    y_lower = y_upper + upper.shape[0] - 8  # x-height top above the descenders' tips
    placed, x = [], x_upper
    while x + letter.shape[1] < x_upper + upper.shape[1]:
        clear = not np.any((below >= x - 6) & (below < x + letter.shape[1] + 6))
        if clear:
            placed.append(x)
            x += letter.shape[1] + 8
        else:
            x += 3
    assert len(placed) >= 10
    for coverage, x, y in [(upper, x_upper, y_upper)] + [(letter, px, y_lower) for px in placed]:
        region = paper[y : y + coverage.shape[0], x : x + coverage.shape[1]]
        region *= 1.0 - 0.92 * coverage
    analysis = analyze_page((paper * 255).astype(np.uint8))
    # The row of o's may come out as one line or as pieces where it skips descenders.
    top, *bottom = sorted(analysis.lines, key=lambda line: line.bbox.y0)
    assert bottom and all(top.bbox.y1 > b.bbox.y0 for b in bottom)  # boxes overlap
    lower_ink = len(placed) * np.count_nonzero(letter > 0.5)
    found = sum(np.count_nonzero(b.image < 128) for b in bottom)
    assert found == pytest.approx(lower_ink, rel=0.03)
    assert np.count_nonzero(top.image < 128) == pytest.approx(
        np.count_nonzero(upper > 0.5), rel=0.06
    )


def test_blank_page_analysis():
    analysis = analyze_page(np.full((1100, 850), 250, np.uint8))
    assert analysis.lines == () and analysis.columns == ()
    assert (analysis.width, analysis.height) == (850, 1100)


def test_reading_order_boxes_are_the_original_boxes():
    """A line's bbox in the analysis is the tight box of its ink in the original image."""
    page = render_page("table", seed=3)
    analysis = analyze_page(page.image)
    for truth, line in zip(page.lines, analysis.lines, strict=True):
        assert truth.bbox.iou(line.bbox) >= 0.9
        assert isinstance(line.bbox, BBox)


def test_paper_inside_a_line_is_cut_and_maps_back():
    """A receipt row (an item, a stretch of paper, its price) is one line whose image has
    the stretch cut to a word space and a half; its ink still maps back onto the row."""
    page = render_page("receipt", seed=3)
    analysis = analyze_page(page.image)
    rows = [line for line in analysis.lines if len(line.cut_at) > 0]
    assert len(rows) >= 9
    for line in rows:
        assert line.image.shape[1] < line.bbox.width - 3 * analysis.scale_px
        ys, xs = np.nonzero(line.image < 128)
        pts = to_original(line, xs.astype(float), ys.astype(float))
        b = line.bbox
        assert pts[:, 0].min() <= b.x0 + 2 and pts[:, 0].max() >= b.x1 - 3
        values = page.image[
            np.rint(pts[:, 1]).astype(int).clip(0, page.image.shape[0] - 1),
            np.rint(pts[:, 0]).astype(int).clip(0, page.image.shape[1] - 1),
        ]
        assert np.median(values) < 110
    box = rows[0].box_to_original(
        0, 0, rows[0].image.shape[1], rows[0].image.shape[0], (9999, 9999)
    )
    assert box.x1 >= rows[0].bbox.x1


def test_faint_strokes_of_a_line_stay_in_its_image():
    """Strokes too faint for the threshold (a worn ribbon) are no component of the line, but
    they are its ink: the line image keeps them, only other lines' ink is painted out."""
    paper = np.full((300, 1400), 0.96, np.float32)
    x = 100
    faint_span = None
    for text, coverage in (("Pen", 0.92), ("dle", 0.2), ("ton", 0.92)):
        ink = render_text(text, "serif", 60)  # no descenders: one baseline at the bottom
        y = 160 - ink.shape[0]
        paper[y:160, x : x + ink.shape[1]] *= 1.0 - coverage * ink
        if coverage < 0.5:
            faint_span = (x, x + ink.shape[1], np.count_nonzero(ink > 0.5))
        x += ink.shape[1] + 6
    image = (paper * 255).astype(np.uint8)
    analysis = analyze_page(image)
    (line,) = analysis.lines
    x0, x1, faint_px = faint_span
    assert line.bbox.x0 < x0  # the faint letters lie inside the line's box
    ys, xs = np.nonzero(line.image < 235)
    pts = to_original(line, xs.astype(float), ys.astype(float))
    assert ((pts[:, 0] > x0) & (pts[:, 0] < x1)).sum() > 0.3 * faint_px


def test_an_underline_touching_the_letters_is_not_in_the_line_image():
    paper = np.full((300, 1400), 0.96, np.float32)
    word = render_text("The Hangman, a typed heading", "typewriter", 60)
    y, x = 100, 100
    paper[y : y + word.shape[0], x : x + word.shape[1]] *= 1.0 - 0.92 * word
    # Through the descenders of g, y and the comma: one component with the letters.
    rule_y = y + word.shape[0] - 6
    paper[rule_y : rule_y + 4, x - 10 : x + word.shape[1] + 10] = 0.05
    analysis = analyze_page((paper * 255).astype(np.uint8))
    (line,) = analysis.lines
    dark = line.image < 128
    longest = max(_longest_run(row) for row in dark)
    assert longest < 2.5 * analysis.scale_px
    assert np.count_nonzero(dark) > 0.5 * np.count_nonzero(word > 0.5)  # the letters stay


def _longest_run(row: np.ndarray) -> int:
    best = run = 0
    for value in row:
        run = run + 1 if value else 0
        best = max(best, run)
    return best


def test_a_page_whose_text_is_too_small_to_segment_is_analysed_enlarged():
    """A thumbnail of a letter (40 dpi: its text 3-4 px high) was refused whole, "the page is
    noise"; enlarged, its lines are found, and every box, baseline and line image is in the
    pixels of the page as given. Noise is still refused (test_segment)."""
    from scandex.ocr import ocr_image
    from scandex.ocr.segment import SegmentParams

    page = render_page("letter", dpi=40, seed=2)
    original = page.image
    analysis = analyze_page(original)
    assert analysis.scale_px < SegmentParams().min_scale_px
    assert (analysis.width, analysis.height) == (original.shape[1], original.shape[0])
    assert len(analysis.lines) == len(page.lines)
    for truth, line in zip(page.lines, analysis.lines, strict=True):
        assert line.bbox.iou(truth.bbox) >= 0.6, (truth.text, line.bbox, truth.bbox)
        assert line.baseline is not None and line.baseline[0] == 0.0
        assert -2.0 <= line.baseline[1] <= 0.0  # on or just above the box's bottom
        ys, xs = np.nonzero(line.image < 100)
        points = np.rint(to_original(line, xs.astype(float), ys.astype(float))).astype(int)
        b = line.bbox
        assert (points[:, 0] >= b.x0 - 1).all() and (points[:, 0] <= b.x1).all()
        assert (points[:, 1] >= b.y0 - 1).all() and (points[:, 1] <= b.y1).all()
        assert np.median(original[points[:, 1], points[:, 0]]) < 110  # onto the page's ink
    words = [word for line in ocr_image(original).lines for word in line.words]
    assert words
    height, width = original.shape
    assert all(
        0 <= w.bbox.x0 < w.bbox.x1 <= width and 0 <= w.bbox.y0 < w.bbox.y1 <= height for w in words
    )
