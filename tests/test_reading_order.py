"""Reading order on boxes alone: columns, rows, headings, and the cases OCRopus gets wrong."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scandex.ocr.reading_order import find_gutters, reading_blocks, reading_order
from scandex.page import BBox

LINE_H = 40
PITCH = 55


def column(x0: int, x1: int, top: int, n: int, widths: list[int] | None = None) -> list[BBox]:
    """n line boxes stacked from `top`, left-aligned at x0, ragged right up to x1."""
    out = []
    for i in range(n):
        right = x1 if widths is None else x0 + widths[i % len(widths)]
        out.append(BBox(x0, top + i * PITCH, right, top + i * PITCH + LINE_H))
    return out


def shuffled(boxes: list[BBox], seed: int = 3) -> tuple[list[BBox], list[int]]:
    """The boxes in a scrambled order, and for each scrambled position its true index."""
    import random

    truth = list(range(len(boxes)))
    random.Random(seed).shuffle(truth)
    return [boxes[i] for i in truth], truth


def order_of(boxes: list[BBox], **kwargs) -> list[int]:
    """reading_order on scrambled input, translated back to the true indices."""
    scrambled, truth = shuffled(boxes)
    return [truth[i] for i in reading_order(scrambled, **kwargs)]


def test_two_columns_read_column_by_column_even_when_rows_align():
    left = column(300, 1200, 300, 20, widths=[900, 880, 860, 900, 600])
    right = column(1300, 2200, 300, 18, widths=[900, 870, 890, 500])
    assert order_of(left + right) == list(range(38))
    assert len(find_gutters(left + right)) == 1


def test_right_aligned_date_is_read_before_the_address_below_it():
    date = [BBox(1700, 300, 2200, 345)]
    address = column(300, 900, 420, 3, widths=[600, 400, 500])
    greeting = [BBox(300, 640, 520, 685)]
    body = column(300, 2200, 720, 8)
    boxes = date + address + greeting + body
    assert order_of(boxes) == list(range(len(boxes)))


def test_table_is_read_row_by_row():
    cells = []
    for r in range(8):
        y = 400 + r * 70
        for x0, width in ((300, 350), (1000, 300), (1500, 220), (1900, 260)):
            cells.append(BBox(x0, y + (r % 2) * 3, x0 + width, y + 40 + (r % 3)))
    above = column(300, 2200, 200, 3)
    boxes = above + cells
    assert order_of(boxes) == list(range(len(boxes)))
    assert find_gutters(boxes) == []


def test_spanning_heading_is_read_before_the_columns_under_it():
    title = [BBox(500, 100, 2000, 170)]
    left1, right1 = column(300, 1200, 250, 8), column(1300, 2200, 250, 7)
    heading = [BBox(600, 760, 1900, 820)]
    left2, right2 = column(300, 1200, 880, 6), column(1300, 2200, 880, 6)
    boxes = title + left1 + right1 + heading + left2 + right2
    assert order_of(boxes) == list(range(len(boxes)))
    blocks = reading_blocks(boxes)
    assert [len(b.lines) for b in blocks] == [1, 8, 7, 1, 6, 6]
    assert [b.is_column for b in blocks] == [False, True, True, False, True, True]


def test_three_columns():
    cols = [column(x, x + 560, 300, 12) for x in (300, 950, 1600)]
    boxes = cols[0] + cols[1] + cols[2]
    assert order_of(boxes) == list(range(36))
    assert len(find_gutters(boxes)) == 2


def test_columns_override_one_reads_rows_and_two_splits():
    left, right = column(300, 1200, 300, 10), column(1300, 2200, 300, 10)
    rows = reading_order(left + right, columns=1)
    assert rows[:4] == [0, 10, 1, 11]  # forced to one column: row by row
    # Short lines that detection would not call columns are split when asked.
    short_left, short_right = column(300, 500, 300, 3), column(1800, 2000, 300, 3)
    assert reading_order(short_left + short_right) == [0, 3, 1, 4, 2, 5]
    assert reading_order(short_left + short_right, columns=2) == [0, 1, 2, 3, 4, 5]


def test_fragments_of_one_row_are_read_left_to_right_even_when_the_right_one_is_higher():
    boxes = [BBox(1500, 295, 1800, 338), BBox(300, 300, 700, 345), BBox(300, 380, 2000, 425)]
    assert reading_order(boxes) == [1, 0, 2]


def test_empty_and_single():
    assert reading_order([]) == []
    assert reading_order([BBox(0, 0, 10, 10)]) == [0]
    assert reading_blocks([]) == []


boxes_strategy = st.lists(
    st.builds(
        lambda x, y, w, h: BBox(x, y, x + w, y + h),
        st.integers(-50, 3000),
        st.integers(-50, 4000),
        st.integers(0, 2500),
        st.integers(0, 300),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(boxes_strategy, st.one_of(st.none(), st.integers(1, 4)))
def test_reading_order_is_always_a_permutation(boxes, columns):
    order = reading_order(boxes, columns=columns)
    assert sorted(order) == list(range(len(boxes)))
    blocks = reading_blocks(boxes, columns=columns)
    assert all(block.lines for block in blocks)


@settings(max_examples=100, deadline=None)
@given(boxes_strategy)
def test_reading_order_does_not_depend_on_input_order(boxes):
    boxes = list(dict.fromkeys(boxes))  # identical boxes have no defined order
    forward = [boxes[i] for i in reading_order(boxes)]
    backward_input = boxes[::-1]
    backward = [backward_input[i] for i in reading_order(backward_input)]
    assert forward == backward


def test_caption_between_columns_is_read_after_them():
    """Two columns around a picture; its caption, centred under it, crosses the gutter.

    The left column is wide above the picture and narrow beside it."""
    wide_top = column(300, 1150, 300, 4)
    narrow = column(300, 860, 300 + 4 * PITCH, 14)
    right = column(1250, 2100, 300, 18)
    # Under the picture (x 900..1200, y 520..1070), reaching into the gutter.
    caption = [BBox(900, 1080 + 25 * i, 1240, 1100 + 25 * i) for i in range(3)]
    boxes = wide_top + narrow + right + caption
    assert order_of(boxes) == list(range(len(boxes)))


def test_a_line_poking_into_a_narrow_gutter_is_read_in_its_column():
    """Newsprint columns a line height apart; a speck before one line of the right column
    widens its box into the gutter, so the gutter shows only without that line."""
    left = column(300, 1150, 300, 12)
    right = column(1150 + LINE_H, 2000, 300, 12)
    poking = 5
    right[poking] = BBox(1150 + 5, right[poking].y0, 2000, right[poking].y1)
    boxes = left + right
    assert order_of(boxes) == list(range(len(boxes)))


def test_title_under_the_columns_does_not_merge_them():
    left, right = column(300, 1150, 300, 12), column(1250, 2100, 300, 12)
    title = [BBox(700, 300 + 12 * PITCH + 60, 1700, 300 + 12 * PITCH + 160)]
    boxes = left + right + title
    assert order_of(boxes) == list(range(len(boxes)))
