"""Line recognizer: normalization, codec, CTC decoding, model files, ONNX runtime, training."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from synth import find_font

from scandex.errors import ModelError, UsageError
from scandex.ocr.codec import DEFAULT_ALPHABET, Codec, normalize_text
from scandex.ocr.ctc import greedy_decode
from scandex.ocr.normalize import (
    NormalizeParams,
    TextBand,
    letters_are_capitals,
    normalize_line,
    quantile,
    room_for_accents,
)

CODEC = Codec()


def _text_line(
    text: str = "Hamburgefonts 1934", height_px: int = 40, face: str = "sans"
) -> np.ndarray:
    """A dark text line on white paper, drawn with a system font."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(find_font(face), int(height_px * 0.7))
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("L", (right - left + 20, height_px), 255)
    ImageDraw.Draw(image).text(
        (10 - left, (height_px - (bottom - top)) // 2 - top), text, font=font, fill=0
    )
    return np.asarray(image)


# -- normalization ------------------------------------------------------------------------


@pytest.mark.parametrize("height_px", [12, 24, 40, 120, 300])
def test_normalized_line_has_fixed_height_and_float_ink(height_px):
    line = normalize_line(_text_line(height_px=height_px))
    assert line.image.shape[0] == NormalizeParams().height_px
    assert line.image.dtype == np.float32
    assert line.image.min() >= 0.0 and line.image.max() <= 1.0
    # Ink is bright: the text occupies a visible share of the image.
    assert 0.05 < (line.image > 0.5).mean() < 0.6


def test_normalization_keeps_aspect_so_widths_scale_with_height():
    small = normalize_line(_text_line(height_px=30))
    large = normalize_line(_text_line(height_px=120))
    assert abs(small.image.shape[1] - large.image.shape[1]) < 0.15 * large.image.shape[1]


def test_a_bar_from_edge_to_edge_normalizes_without_error():
    # A mount's border or a rule that fills the image's width has no stroke edges inside it.
    image = np.full((40, 300), 255, np.uint8)
    image[15:25, :] = 0
    line = normalize_line(image)
    assert line.image.shape[0] == NormalizeParams().height_px
    assert line.image.max() > 0.5


@given(
    st.integers(2, 60),
    st.integers(2, 200),
    st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1))),
    st.integers(0, 255),
)
def test_any_image_normalizes_to_the_fixed_height(height, width, rectangles, ink):
    # Whatever a segmenter or a user hands in (bars, blocks, specks, one colour), the
    # normalizer returns a line image and never fails.
    image = np.full((height, width), 255, np.uint8)
    for y0, x0, y1, x1 in rectangles:
        rows = sorted((int(y0 * height), int(y1 * height) + 1))
        cols = sorted((int(x0 * width), int(x1 * width) + 1))
        image[rows[0] : rows[1], cols[0] : cols[1]] = ink
    line = normalize_line(image)
    assert line.image.shape[0] == NormalizeParams().height_px
    assert np.isfinite(line.image).all()


@given(
    st.lists(st.floats(-1e6, 1e6, width=32), min_size=1, max_size=300),
    st.floats(0, 1),
)
def test_the_band_quantile_is_numpys(values, q):
    # The band's edge is measured by partial sorting; it must be the estimate np.quantile
    # gives, or the trained network would see lines scaled otherwise than in training.
    array = np.array(values, np.float32)
    # To a few float32 steps of the values' size: numpy orders its arithmetic its own way.
    tolerance = 4 * float(np.spacing(np.abs(array).max()))
    assert abs(quantile(array, q) - float(np.quantile(array, q))) <= tolerance


def test_blank_and_degenerate_lines_normalize_to_blank_images():
    for image in (
        np.full((40, 300), 255, np.uint8),
        np.zeros((0, 0), np.uint8),
        np.full((1, 5), 0, np.uint8),
        np.zeros((30, 200), bool),
    ):
        line = normalize_line(image)
        assert line.image.shape[0] == NormalizeParams().height_px
        assert line.image.max() == 0.0


def test_binary_and_gray_inputs_normalize_alike():
    gray = _text_line()
    binary = gray < 128
    a = normalize_line(gray).image
    b = normalize_line(binary).image
    assert a.shape == b.shape
    assert np.abs(a - b).mean() < 0.08


def _between_neighbours(line: np.ndarray, above: np.ndarray, below: np.ndarray, cut: float):
    """`line` cut from a single-spaced page: the lower part of the line above and the upper
    part of the line below (a share `cut` of each) in the same image."""
    width = max(line.shape[1], above.shape[1], below.shape[1])

    def padded(image):
        return np.pad(image, ((0, 0), (0, width - image.shape[1])), constant_values=255)

    keep = int(cut * above.shape[0])
    return np.vstack(
        [padded(above)[-keep:], padded(line), padded(below)[: int(cut * below.shape[0])]]
    )


@pytest.mark.parametrize("cut", [0.35, 0.6])
def test_slivers_of_neighbouring_lines_are_blanked(cut):
    # A short line between two long ones: the neighbours have more ink than the line itself,
    # and the own line is found by its x-height band, not by the amount of ink.
    own = _text_line("Committee.", height_px=40)
    above = _text_line("the quickly jumping gypsy typography, quite plainly", height_px=40)
    below = _text_line("Hamburgefonts by lighthouse keepers in July 1934", height_px=40)
    cut_line = normalize_line(_between_neighbours(own, above, below, cut)).image
    clean = normalize_line(own).image
    assert cut_line.shape[1] == pytest.approx(clean.shape[1], rel=0.1)
    width = min(cut_line.shape[1], clean.shape[1])
    # The neighbours' ink is gone: what is left is the line itself, at the same place.
    assert (cut_line > 0.5).sum() == pytest.approx((clean > 0.5).sum(), rel=0.15)
    assert np.abs(cut_line[:, :width] - clean[:, :width]).mean() < 0.05


def test_an_underline_is_not_taken_for_the_text_band():
    line = _text_line("Restrictions Enforced on Jews.", height_px=50)
    underlined = line.copy()
    rows = np.flatnonzero((line < 128).any(axis=1))
    underlined[rows[-1] + 2 : rows[-1] + 5, 5:-5] = 0
    plain = normalize_line(line).image
    ruled = normalize_line(underlined).image
    # The text keeps its size: the underline is one long stroke, not a band of letters.
    assert ruled.shape[1] == pytest.approx(plain.shape[1], rel=0.2)


def _ink_rows(normalized: np.ndarray) -> int:
    return int(np.count_nonzero((normalized > 0.5).any(axis=1)))


def test_a_row_of_dashes_keeps_the_size_of_dashes_in_text():
    # A receipt's rule has no x-height; scaled to fill the band, each dash became a block
    # the recognizer read as nothing, and the row dropped out of the page.
    row = normalize_line(_crop_rows(_text_line("-" * 30, height_px=48))).image
    assert _ink_rows(row) <= row.shape[0] // 4  # filling the band, 22 of 32 rows
    # ... and is still there, one mark per dash.
    columns = (row > 0.5).any(axis=0)
    assert np.count_nonzero(columns[1:] & ~columns[:-1]) == 30


@pytest.mark.parametrize("text", ["=" * 20, "= = = = = ="])
def test_a_row_of_equals_signs_keeps_both_bars(text):
    # The text band of a row of "=" is one bar; the other was blanked as a neighbour's, so
    # rows of "=" reached the recognizer (and training) as rows of hyphens.
    line = _crop_rows(_text_line(text, height_px=48))
    kept = normalize_line(line).image
    all_ink = normalize_line(line, NormalizeParams(drop_neighbours=False)).image
    assert np.array_equal(kept, all_ink)
    bars = _row_runs_of(kept[:, (kept > 0.5).any(axis=0)].max(axis=1) > 0.5)
    assert bars == 2


def _row_runs_of(mask: np.ndarray) -> int:
    return int(np.count_nonzero(mask[1:] & ~mask[:-1]) + mask[0])


def test_capitals_and_text_are_not_taken_for_flat_marks():
    for text in ("BOARD OF TRUSTEES", "Hamburgefonts 1934", "= 12"):
        line = _crop_rows(_text_line(text, height_px=48))
        without = NormalizeParams(flat_mark_share=0.0)
        assert np.array_equal(normalize_line(line).image, normalize_line(line, without).image)


def _crop_rows(image: np.ndarray) -> np.ndarray:
    """The line cut to its ink rows and two pixels, as a segmenter cuts a line alone."""
    rows = np.flatnonzero((image < 128).any(axis=1))
    return image[max(0, rows[0] - 2) : rows[-1] + 3]


@pytest.mark.parametrize("face", ["sans", "serif", "typewriter"])
@pytest.mark.parametrize(
    "text", ["RÉSUMÉ OF THE MINUTES", "THE COMMITTEE MET AT THE HÔTEL IN NÎMES"]
)
def test_the_accents_of_an_all_caps_line_are_in_the_frame(face, text):
    # An ALL-CAPS line's band is its capitals' height, and the accents over them lay above
    # the 32 rows, cut off by the frame's top row: the recognizer read ÛÓÌ as LOT, ÕÀ as ÖÅ.
    line = _crop_rows(_text_line(text, height_px=60, face=face))
    assert normalize_line(line, NormalizeParams(room_for_accents=False)).image[0].max() > 0.5
    assert normalize_line(line).image[0].max() < 0.25


def test_capitals_without_accents_and_mixed_case_lines_keep_their_scale():
    for text in ("BOARD OF TRUSTEES", "Committee Report, 1938"):
        line = _crop_rows(_text_line(text, height_px=48))
        without = NormalizeParams(room_for_accents=False)
        assert np.array_equal(normalize_line(line).image, normalize_line(line, without).image)


def test_a_neighbours_fragments_over_a_mixed_case_line_do_not_shrink_it():
    # On a line cut from a page the dashes over its letters are the tails of the line above
    # (not cut by the image's edge where the segmenter's outline cut them off).
    line = np.pad(
        _crop_rows(_text_line("Ever Clark, Broder", height_px=48)),
        ((6, 0), (0, 0)),
        constant_values=255,
    )
    line[2:4, 12:20] = 0
    line[2:4, 60:66] = 0
    without = NormalizeParams(room_for_accents=False)
    assert np.array_equal(normalize_line(line).image, normalize_line(line, without).image)


def test_a_lower_case_line_whose_band_took_in_its_ascenders_is_not_of_capitals():
    # A typed EHRI line ('the "kultusgemeinde" have ...'): its band reached the tops of its
    # many ascenders, every letter stood in it, and the quotes over its letters got room:
    # the line shrank and "kultusgemeinde" read "ultusgemeinde".
    band = TextBand(10, 30)
    ascenders, short = (10, 30), (18, 30)
    lower_case = np.array([ascenders] * 4 + [short] * 6)
    capitals = np.array([ascenders] * 9 + [(27, 30)])  # and a full stop
    params = NormalizeParams()
    assert not letters_are_capitals(lower_case[:, 0], lower_case[:, 1], band, 20.0, params)
    assert letters_are_capitals(capitals[:, 0], capitals[:, 1], band, 20.0, params)
    descenders = np.array([ascenders] * 7 + [(10, 38)] * 3)  # 'J', 'Q', ','
    assert not letters_are_capitals(descenders[:, 0], descenders[:, 1], band, 20.0, params)


def test_room_is_made_for_an_accent_but_not_for_a_rule_or_a_sliver():
    params = NormalizeParams()
    centre = np.full(200, 30.0, np.float32)  # band: rows 20..40
    capital = [10, 20, 14, 20]  # x, y, width, height: from the band's top to its bottom
    accent = [12, 14, 8, 4]  # over the capital, two rows above it
    assert room_for_accents(np.array([capital, accent]), centre, 10.0, 60, params) == (
        pytest.approx(6.5)
    )
    # A rule over the line, a sliver the image's top edge cuts, a mark far over the letter,
    # a mark over no letter.
    for mark in ([0, 14, 60, 3], [12, 0, 8, 4], [12, 4, 8, 4], [40, 14, 8, 4]):
        assert room_for_accents(np.array([capital, mark]), centre, 10.0, 60, params) == 0.0


def test_marks_of_the_line_itself_are_kept():
    # Quotes and i-dots float above the x-height band, commas below it: all are the line's.
    line = _text_line('"Hi," said Jim; quiet.', height_px=48)
    normalized = normalize_line(line)
    kept = (normalized.image > 0.5).sum()
    without_band_logic = normalize_line(line, NormalizeParams(drop_neighbours=False))
    assert kept == (without_band_logic.image > 0.5).sum()


def test_a_long_typed_comma_and_a_high_quote_are_the_lines_own():
    """Some typewriters hang a comma most of an x-height below the band and set quotes more
    than one above it (real lines lost both, and the recognizer read "babies," as "babies"):
    marks that touch the band's edge rows are the line's at those distances."""
    line = _text_line("even near resumes", height_px=60)
    rows = np.flatnonzero((line < 128).any(axis=1))
    columns = np.flatnonzero((line < 128).any(axis=0))
    top, bottom = rows[0], rows[-1] + 1  # no ascenders or descenders: the x-height band
    x_height = bottom - top
    image = np.pad(line, ((x_height + 4, x_height + 4), (30, 40)), constant_values=255)
    top, bottom = top + x_height + 4, bottom + x_height + 4
    columns = columns + 30
    end = columns[-1] + 6
    comma = slice(end, end + max(3, x_height // 4))
    image[bottom - 3 : bottom + int(0.95 * x_height), comma] = 0
    for x in (columns[0] - 14, columns[0] - 8):  # an opening double quote
        image[top - int(1.1 * x_height) : top - 1, x : x + 3] = 0
    kept = normalize_line(image).image
    all_ink = normalize_line(image, NormalizeParams(drop_neighbours=False)).image
    assert np.array_equal(kept, all_ink)


def _bent(image: np.ndarray, rise_px: float) -> np.ndarray:
    """The line bent as on a page that does not lie flat: level along its first half, then
    rising to `rise_px` rows higher at its end."""
    width = image.shape[1]
    out = np.pad(image, ((int(rise_px) + 2, 0), (0, 0)), constant_values=255)
    for x in range(width):
        shift = int(round(rise_px * max(0.0, (x - width / 2) / (width / 2)) ** 2))
        out[:, x] = np.roll(out[:, x], -shift)  # the rows it leaves are paper
    return out


@pytest.mark.parametrize("face", ["typewriter", "serif"])
def test_quotes_and_commas_are_kept_along_a_bent_line(face):
    """On a page that does not lie flat a line bends up from its middle to its end; measured
    level, its band was the two ends' bands together, and the quotes at the raised end stood
    too far above it: '"elders"' was read 'elders' on a real typewritten page."""
    text = 'the block "elders" took rations, and "Capos" too; bread, soup, "coffee", "extra"'
    own = _text_line(text, height_px=48, face=face)
    rows = np.flatnonzero((own < 128).any(axis=1))
    bent = _bent(own, 0.5 * (rows[-1] - rows[0]))
    kept = normalize_line(bent).image
    all_ink = normalize_line(bent, NormalizeParams(drop_neighbours=False)).image
    assert np.array_equal(kept, all_ink)
    # ... and the neighbours' slivers still go.
    width = bent.shape[1]
    above = _bent(_text_line("the quickly jumping gypsy typography, quite plainly " * 2, 48), 9)
    below = _bent(_text_line("Hamburgefonts by lighthouse keepers in July 1934 " * 2, 48), 9)
    cut = normalize_line(_between_neighbours(bent, above[:, :width], below[:, :width], 0.35))
    assert (cut.image > 0.5).sum() == pytest.approx((kept > 0.5).sum(), rel=0.1)


def _band_edges(columns: range, centre_at) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of stroke edges filling a 10-row band centred at centre_at(x)."""
    points = [(int(round(centre_at(x))) + dy, x) for x in columns for dy in range(-5, 5)]
    rows, cols = np.array(points).T
    return rows, cols


def test_a_bend_is_held_level_beyond_the_stretches_it_was_measured_on():
    """A typed line whose right part was too faint to place its band: the parabola through
    the left part's bend ran off by three line heights at the right end, the band there lay
    off the line, and every letter of it was blanked as a neighbour's ('Case? Wealthy Like
    30 "¡Hola!"' read '3')."""
    from scandex.ocr.normalize import line_drift

    rows, cols = _band_edges(range(0, 300), lambda x: 25 + 6 * (x / 300) ** 2)
    drift = line_drift(rows, cols, 1000, (20, 30))
    assert drift is not None  # the left part's bend, 6 rows over 300 columns
    assert drift[:300].max() - drift[:300].min() > 4
    assert drift[300:].max() <= drift[:300].max() + 0.5  # held, not 86 rows down at 1000
    assert drift[300:].min() >= drift[:300].min() - 0.5
    # Three stretches are no test of a bend: a parabola passes through any three points.
    rows, cols = _band_edges(range(0, 150), lambda x: 25 + 6 * (x / 150) ** 2)
    assert line_drift(rows, cols, 1000, (20, 30)) is None


@pytest.mark.parametrize("face", ["typewriter", "serif", "sans"])
def test_a_binarized_line_full_of_specks_keeps_its_letters_and_their_size(face):
    """On a binarized noisy scan the specks, everywhere above and below the letters, were
    counted as strokes: the band reached the image's edges and the letters came out half
    their size with one pixel in fifty a speck. The band is measured on the letters now."""
    clean = _text_line("LOCO COMPETENCIA INVITACION TIENE", height_px=70, face=face)
    expected = normalize_line(clean).image
    centre = np.average(np.arange(expected.shape[0]), weights=(expected > 0.5).mean(axis=1))
    for seed in range(3):
        noise = np.random.default_rng(seed).random(clean.shape) < 0.05
        got = normalize_line(np.where(noise, 0, clean).astype(np.uint8)).image
        # The letters fill the band as on the clean line (the line was 0.45-0.57 of its
        # width), centred as there.
        assert got.shape[1] == pytest.approx(expected.shape[1], rel=0.12)
        rows = (got > 0.5).mean(axis=1)
        assert abs(np.average(np.arange(len(rows)), weights=rows) - centre) < 2


def test_to_input_x_maps_output_columns_back_to_the_line_image():
    image = np.full((40, 400), 255, np.uint8)
    image[8:32, 100:104] = 0  # two vertical bars at known columns
    image[8:32, 300:304] = 0
    line = normalize_line(image)
    columns = np.flatnonzero(line.image.max(axis=0) > 0.5)
    left_bar = columns[columns < line.image.shape[1] / 2]
    right_bar = columns[columns > line.image.shape[1] / 2]
    assert abs(line.to_input_x(left_bar.mean()) - 101.5) < 2.0
    assert abs(line.to_input_x(right_bar.mean()) - 301.5) < 2.0


# -- codec --------------------------------------------------------------------------------


@given(st.text(alphabet=DEFAULT_ALPHABET, max_size=60))
def test_codec_round_trip(text):
    assert CODEC.decode(CODEC.encode(text)) == text


def test_codec_covers_typographic_characters_and_blank_is_zero():
    for ch in "“”‘’–—§°£€éÉçñüßæœ?":
        assert CODEC.can_encode(ch)
    assert min(CODEC.encode(DEFAULT_ALPHABET)) == 1
    assert CODEC.num_classes == len(DEFAULT_ALPHABET) + 1


def test_text_normalization_expands_ligatures_and_spaces():
    assert normalize_text("ﬁne\u00a0 ﬂow\tﬀ") == "fine flow ff"
    assert normalize_text("e\u0301t\u00e9") == "été"


# -- CTC decoding on hand-made posteriors -------------------------------------------------


def _posteriors(frames: list[dict[str, float]]) -> np.ndarray:
    """Rows of {char: prob}; the rest of each row's mass goes to the blank."""
    probs = np.zeros((len(frames), CODEC.num_classes), np.float32)
    for t, frame in enumerate(frames):
        for ch, p in frame.items():
            probs[t, CODEC.encode(ch)[0]] = p
        probs[t, 0] = 1.0 - sum(frame.values())
    return probs


def test_greedy_decoding_merges_repeats_and_splits_at_blanks():
    a, b = {"a": 0.9}, {"b": 0.8}
    probs = _posteriors([{}, a, a, {}, a, {}, b, b, b, {}])
    chars = greedy_decode(probs, CODEC)
    assert "".join(c.text for c in chars) == "aab"
    assert [(c.start_step, c.end_step) for c in chars] == [(1, 3), (4, 5), (6, 9)]


def test_greedy_decoding_reports_peak_confidence_positions_and_close_alternatives():
    probs = _posteriors([{}, {"c": 0.55, "e": 0.4}, {"c": 0.7, "e": 0.2}, {}, {}, {"l": 0.99}, {}])
    c, ell = greedy_decode(probs, CODEC)
    assert c.text == "c" and c.confidence == pytest.approx(0.7)
    assert c.alternatives and c.alternatives[0][0] == "e"
    assert c.alternatives[0][1] == pytest.approx(0.2)
    assert ell.alternatives == ()
    # Neighbouring characters meet halfway between their runs.
    assert c.x1_step == pytest.approx(ell.x0_step) == pytest.approx((3 + 5) / 2)
    assert c.x0_step < c.start_step and ell.x1_step > ell.end_step


def test_a_stop_before_a_lower_case_word_is_a_comma_where_the_network_saw_one():
    from scandex.ocr.context import commas_before_lower_case

    def frames(text: str, mark: dict) -> list[dict]:
        return [x for ch in text for x in ({}, mark if ch == "." else {ch: 0.95})] + [{}]

    def read(text: str, mark: dict) -> str:
        chars = greedy_decode(_posteriors(frames(text, mark)), CODEC)
        return "".join(c.text for c in commas_before_lower_case(chars))

    # "monsters. moonlighting" in small print: the comma at a seventh of the stop's peak.
    assert read("monsters. moon", {".": 0.8, ",": 0.15}) == "monsters, moon"
    # An abbreviation keeps its stop: the network has no doubt of it.
    assert read("e.g. the", {".": 0.95, ",": 0.02}) == "e.g. the"
    # Nor before a capital, or after a number: a sentence ends, a list is numbered.
    assert read("monsters. Moon", {".": 0.8, ",": 0.15}) == "monsters. Moon"
    assert read("2. moon", {".": 0.8, ",": 0.15}) == "2. moon"
    # The stop stays the comma's alternative.
    probs = _posteriors(frames("a. b", {".": 0.7, ",": 0.25}))
    comma = commas_before_lower_case(greedy_decode(probs, CODEC))[1]
    assert comma.text == "," and comma.confidence == pytest.approx(0.25)
    assert comma.alternatives[0] == (".", pytest.approx(0.7))


def _read_by(rule, text: str) -> str:
    """`text` as decoded characters (one step each, confidence 0.9) through a context rule."""
    from scandex.ocr.ctc import DecodedChar

    chars = [DecodedChar(ch, 0.9, i, i + 1, i, i + 1) for i, ch in enumerate(text)]
    return "".join(c.text for c in rule(chars))


def test_look_alike_letters_in_numbers_are_read_as_digits():
    from scandex.ocr.context import digits_in_numbers
    from scandex.ocr.ctc import DecodedChar

    def read(text: str) -> str:
        return _read_by(digits_in_numbers, text)

    # A typist's l for 1, an o or O for 0, inside punctuation and hyphenated words.
    assert read("long-term experience of 1oo.") == "long-term experience of 100."
    assert read("the WSR-3O1-solution") == "the WSR-301-solution"
    assert read("on the lst October, the 2lst, (llth)") == "on the 1st October, the 21st, (11th)"
    # Words of these letters, codes with other letters and wrong ordinals stay.
    assert read("lo Ist Oil I-O lost A1O 1O% lnd lth") == "lo Ist Oil I-O lost A1O 1O% lnd lth"
    assert read("the 2lnd") == "the 2lnd"
    # The letter read stays the digit's alternative.
    chars = [DecodedChar(ch, 0.8, i, i + 1, i, i + 1) for i, ch in enumerate("1o")]
    assert digits_in_numbers(chars)[1].alternatives == (("o", 0.8),)


def test_a_lone_s_in_a_list_of_numbers_is_a_five():
    from scandex.ocr.context import fives_in_lists
    from scandex.ocr.ctc import DecodedChar

    def read(text: str) -> str:
        return _read_by(fives_in_lists, text)

    # A letterhead's flat-topped 5 (jls-letters-dev: "ROOMS 3, 4 AND S, UP STAIRS").
    assert read("ROOMS 3, 4 AND S, UP STAIRS") == "ROOMS 3, 4 AND 5, UP STAIRS"
    assert read("items 1, S and 7; pages 3 or S") == "items 1, 5 and 7; pages 3 or 5"
    # An initial, a word after a year, and words with an S keep their letters.
    assert (
        read("in 1938 and S. Smith; in 1938, S wrote") == "in 1938 and S. Smith; in 1938, S wrote"
    )
    assert read("2 and SS, 4 and Sam") == "2 and SS, 4 and Sam"
    chars = [DecodedChar(ch, 0.9, i, i + 1, i, i + 1) for i, ch in enumerate("4 and S")]
    assert fives_in_lists(chars)[-1].alternatives == (("S", 0.9),)


def test_a_contraction_is_one_word_though_its_apostrophe_is_as_wide_as_a_space():
    from scandex.ocr.context import contractions_joined

    def read(text: str) -> str:
        return _read_by(contractions_joined, text)

    # Typed apostrophes fill a whole character cell ("doesn’ t", "o' clock" on real lines).
    assert read("This doesn’ t augur well") == "This doesn’t augur well"
    assert read("at twelve o' clock. I' m sure we' ll, they' re") == (
        "at twelve o'clock. I'm sure we'll, they're"
    )
    # Quotes and plural possessives are followed by words, which keep their space.
    assert read("the boys' games, three times' the 'best' time") == (
        "the boys' games, three times' the 'best' time"
    )
    assert read("feet 4' tall, the ' t' key") == "feet 4' tall, the ' t' key"


def test_one_mark_split_between_look_alike_classes_is_read_once():
    """A typeset apostrophe read curly in its first steps and straight in the next came out
    as two ("won’'t"); with a blank between, two marks stay two (a typed '')."""
    n, t = {"n": 0.9}, {"t": 0.9}
    curly, straight = {"’": 0.47, "'": 0.3}, {"'": 0.83, "’": 0.13}
    chars = greedy_decode(_posteriors([n, {}, curly, straight, {}, t]), CODEC)
    assert "".join(c.text for c in chars) == "n't"  # the class with most posterior overall
    mark = chars[1]
    assert (mark.start_step, mark.end_step) == (2, 4) and mark.confidence == pytest.approx(0.83)
    closing = greedy_decode(_posteriors([n, {}, {"”": 0.6}, {'"': 0.7}, {}]), CODEC)
    assert "".join(c.text for c in closing) == 'n"'
    two = greedy_decode(_posteriors([n, {"'": 0.9}, {}, {"’": 0.9}, {}]), CODEC)
    assert "".join(c.text for c in two) == "n'’"
    # Marks of different shapes side by side are two marks.
    both = greedy_decode(_posteriors([n, {"'": 0.9}, {'"': 0.9}, {}]), CODEC)
    assert "".join(c.text for c in both) == "n'\""
    # An apostrophe whose posterior is shared by two classes, each below the blank: "I’ve"
    # was read "Ive". Together they outweigh the blank; a mark of another shape never joins.
    i, v = {"I": 0.9}, {"v": 0.9}
    shared = greedy_decode(_posteriors([i, {"'": 0.34, "’": 0.18}, {}, v]), CODEC)
    assert "".join(c.text for c in shared) == "I'v"
    assert shared[1].confidence == pytest.approx(0.34)  # the mark read, as sure as it was
    unlike = greedy_decode(_posteriors([i, {"'": 0.3, '"': 0.25}, {}, v]), CODEC)
    assert "".join(c.text for c in unlike) == "Iv"


def test_an_apostrophe_below_the_blank_between_letters_is_read():
    """A typeset apostrophe tight between its letters got 0.42 against the blank's 0.58:
    "I've" was read "Ive". Between letters it is read; elsewhere, or fainter, it is not."""
    i, v, e, space = {"I": 0.9}, {"v": 0.9}, {"e": 0.9}, {" ": 0.9}

    def read(frames: list[dict[str, float]]) -> str:
        return "".join(c.text for c in greedy_decode(_posteriors(frames), CODEC))

    assert read([i, {"’": 0.2}, {"’": 0.42}, {}, v, {}, e]) == "I’ve"
    assert read([i, {"'": 0.25, "’": 0.15}, {}, v, {}, e]) == "I've"  # the likelier one
    assert read([i, {"’": 0.2}, {}, v, {}, e]) == "Ive"  # too faint: no apostrophe there
    assert read([i, {"’": 0.5}, {}, space, {}, v]) == "I v"  # no word around it
    assert read([i, {"’": 0.4}, {}, {"’": 0.45}, {}, v]) == "I’v"  # one a stretch


def test_greedy_decoding_of_all_blank_or_empty_input_is_empty():
    assert greedy_decode(_posteriors([{}, {}, {}]), CODEC) == []
    assert greedy_decode(np.zeros((0, CODEC.num_classes)), CODEC) == []


def _row_image(widths_px: list[int], pitch_px: int, height_px: int = 32) -> np.ndarray:
    """A normalized line image (ink 1) with one flat stroke of each width, `pitch_px` apart."""
    image = np.zeros((height_px, 12 + pitch_px * len(widths_px)), np.float32)
    for k, width in enumerate(widths_px):
        x = 8 + k * pitch_px
        image[15:18, x : x + width] = 1.0
    return image


def _reading_at(image: np.ndarray, char: str, every_step: list[int]) -> list:
    """The greedy reading of a one-step `char` emitted at each of the given steps."""
    frames: list[dict[str, float]] = [{} for _ in range(image.shape[1] // 4)]
    for step in every_step:
        frames[step] = {char: 0.9}
    return greedy_decode(_posteriors(frames), CODEC)


def test_a_row_of_marks_the_network_miscounted_is_recounted_from_its_strokes():
    from scandex.ocr.mark_rows import recount_mark_rows

    image = _row_image([14] * 30, pitch_px=22)
    centres = [(8 + k * 22 + 7) // 4 for k in range(30)]
    missed = {3, 11, 12, 20, 27}  # the network emitted nothing for these marks
    chars = _reading_at(image, "-", [c for k, c in enumerate(centres) if k not in missed])
    recounted = recount_mark_rows(chars, image, 4)
    assert "".join(c.text for c in recounted) == "-" * 30
    # Each mark sits on its own stroke; boxes tile the row in order.
    assert [c.start_step for c in recounted] == centres
    assert all(a.x1_step == b.x0_step for a, b in zip(recounted, recounted[1:], strict=False))
    assert recounted[0].x0_step == chars[0].x0_step and recounted[-1].x1_step == chars[-1].x1_step


def _bar_row_image(bars_per_stroke: list[int], width_px: int = 14) -> np.ndarray:
    """A normalized line image of strokes 22 px apart, each one bar ("-"), two ("="), one low
    bar (3, "_"), a bar with a speck under it (4) or, for 0, a letter's tall ink."""
    image = np.zeros((32, 12 + 22 * len(bars_per_stroke)), np.float32)
    for k, bars in enumerate(bars_per_stroke):
        x = 8 + k * 22
        shapes = {
            0: [(8, 24)],
            1: [(15, 18)],
            2: [(12, 15), (19, 22)],
            3: [(26, 29)],
            4: [(15, 18)],
        }
        for top, bottom in shapes[bars]:
            image[top:bottom, x : x + width_px] = 1.0
        if bars == 4:  # a hyphen with a speck of dirt under it
            image[24:30, x + 5 : x + 8] = 1.0
    return image


def _mixed_reading(image: np.ndarray, text: str, pitch_px: int = 22) -> list:
    """The greedy reading of one character of `text` on each stroke of `image`."""
    frames: list[dict[str, float]] = [{} for _ in range(image.shape[1] // 4)]
    for k, char in enumerate(text):
        frames[(8 + k * pitch_px + 7) // 4] = {char: 0.9}
    return greedy_decode(_posteriors(frames), CODEC)


@pytest.mark.parametrize(
    "bars, read, expected",
    [
        ([1] * 30, "--================--=---------", "-" * 30),  # heavy hyphens read as "="
        ([2] * 12, "==-===-=====", "=" * 12),
        ([1] * 6 + [2] * 6, "-----=-=====", "-----=-====="),  # both marks in the ink: kept
        ([1, 1], "–-", "--"),  # a typist's two hyphens read as an en dash and a hyphen
        ([0, 1], "–-", "–-"),  # a letter's ink is no bar: kept
        ([1] * 30, "----------_-------------------", "-" * 30),  # bars at one height
        ([1] * 10 + [4] + [1] * 19, "----------_-------------------", "-" * 30),  # dirt
        ([1] * 8, "_____-__", "_" * 8),
        ([1] * 4 + [3] * 4, "----____", "----____"),  # hyphens, then underscores: kept
    ],
)
def test_a_run_mixing_bar_marks_is_read_as_the_marks_its_bars_show(bars, read, expected):
    from scandex.ocr.mark_rows import recount_mark_rows

    image = _bar_row_image(bars)
    chars = _mixed_reading(image, read)
    recounted = recount_mark_rows(chars, image, 4)
    assert "".join(c.text for c in recounted) == expected
    assert [c.start_step for c in recounted] == [c.start_step for c in chars]


def test_one_dash_read_as_two_marks_is_the_longest_dash_read():
    from scandex.ocr.mark_rows import recount_mark_rows

    image = _bar_row_image([1], width_px=36)  # one printed en dash, two frames apart
    chars = _mixed_reading(image, "–-", pitch_px=12)
    assert "".join(c.text for c in recount_mark_rows(chars, image, 4)) == "–"


def _dash_line_image(slots: str, dash_px: int, hyphen_px: int = 8) -> np.ndarray:
    """A normalized line image, one slot of 22 px per character of `slots`: a letter's tall
    ink, a hyphen's bar ("-"), a dash's bar `dash_px` long ("="), or paper (space)."""
    image = np.zeros((32, 12 + 22 * len(slots)), np.float32)
    for k, char in enumerate(slots):
        x = 8 + k * 22
        if char.isalpha():
            image[8:24, x : x + 12] = 1.0
        elif char in "-=":
            image[15:18, x : x + (hyphen_px if char == "-" else dash_px)] = 1.0
    return image


@pytest.mark.parametrize(
    "dash_px, read, expected",
    [
        (14, "well-to-do - yes", "well-to-do – yes"),  # print: an en dash 1.75 hyphens long
        (8, "well-to-do – yes", "well-to-do - yes"),  # a typewriter's one hyphen key
        (20, "well-to-do - yes", "well-to-do - yes"),  # an em dash's length: left as read
        (14, "wellxtoxdo - yes", "wellxtoxdo - yes"),  # no hyphen in the line to go by
    ],
)
def test_a_spaced_dash_is_read_by_its_length_beside_the_lines_hyphens(dash_px, read, expected):
    """v8 read the synthetic pages' printed spaced en dashes as hyphens (22 missed): alone,
    a dash's length tells nothing (a typewriter's hyphen is as long as a printed en dash),
    but beside the same line's in-word hyphens it does."""
    from scandex.ocr.mark_rows import spaced_dashes_by_length

    dash = read.index(" ") + 1
    slots = "".join("=" if k == dash else c for k, c in enumerate(read.replace("x", "a")))
    image = _dash_line_image(slots, dash_px)
    chars = _mixed_reading(image, read)
    assert "".join(c.text for c in spaced_dashes_by_length(chars, image, 4)) == expected


@pytest.mark.parametrize(
    "widths, read",
    [
        ([14, 14, 40, 6, 14, 14], "----"),  # strokes of many widths: letters, not a row
        ([220], "--------"),  # one long stroke: touching marks, uncountable
        ([14] * 6, "------"),  # the network's count already matches the ink
        ([14] * 6, "aaaa"),  # letters are never recounted
    ],
)
def test_rows_that_are_not_regular_strokes_keep_the_networks_reading(widths, read):
    from scandex.ocr.mark_rows import recount_mark_rows

    image = _row_image(widths, pitch_px=22 if len(widths) > 1 else 240)
    steps = np.linspace(3, image.shape[1] // 4 - 3, len(read)).astype(int).tolist()
    chars = _reading_at(image, read[0], steps)
    assert recount_mark_rows(chars, image, 4) == chars


def test_the_shipped_model_counts_a_typed_row_of_hyphens():
    """A receipt's rule of 30 typed hyphens, each its own stroke, reads as 30 hyphens (the
    network alone read 25 to 29 of them)."""
    from synth import font_px, render_text

    from scandex.ocr.pipeline import get_recognizer

    images = [
        np.pad(
            (255 * (1 - render_text(text, "typewriter", font_px(points, 300)))).astype(np.uint8),
            10,
            constant_values=255,
        )
        for points in (8, 9, 12)
        for text in ("-" * 30, "=" * 20)
    ]
    texts = [r.text for r in get_recognizer().recognize(images)]
    assert texts == ["-" * 30, "=" * 20] * 3


# -- model files --------------------------------------------------------------------------


def test_missing_empty_and_corrupt_model_files_give_clear_errors(tmp_path):
    from scandex.ocr.recognize import Recognizer

    with pytest.raises(ModelError, match="not found"):
        Recognizer(tmp_path / "nope.onnx")
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(ModelError, match="empty"):
        Recognizer(tmp_path / "empty.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x01garbage" * 100)
    with pytest.raises(ModelError, match="not a valid ONNX model"):
        Recognizer(tmp_path / "junk.onnx")


def _tiny_onnx(path: Path, metadata: dict[str, str]) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["images"], ["log_probs"])],
        "g",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("log_probs", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


def test_foreign_and_newer_models_are_refused(tmp_path):
    pytest.importorskip("onnx")
    from scandex.ocr.recognize import Recognizer

    _tiny_onnx(tmp_path / "foreign.onnx", {})
    with pytest.raises(ModelError, match="not a scandex line recognizer"):
        Recognizer(tmp_path / "foreign.onnx")
    _tiny_onnx(tmp_path / "newer.onnx", {"format": "scandex-line-ctc", "format_version": "99"})
    with pytest.raises(ModelError, match="newer scandex"):
        Recognizer(tmp_path / "newer.onnx")


# -- torch model, ONNX export, training ---------------------------------------------------


def _small_torch_model():
    torch = pytest.importorskip("torch")
    from scandex.training.model import LineRecognizer, ModelConfig

    torch.manual_seed(0)
    return LineRecognizer(ModelConfig(num_classes=CODEC.num_classes, lstm_hidden=32))


def test_onnx_runtime_matches_torch_and_round_trips_to_torch(tmp_path):
    torch = pytest.importorskip("torch")
    from scandex.ocr.recognize import Recognizer
    from scandex.training.export import export_onnx, load_torch_from_onnx

    model = _small_torch_model().eval()
    path = tmp_path / "m.onnx"
    export_onnx(model, CODEC, NormalizeParams(), path, quantize=False)
    batch = np.random.default_rng(1).random((3, 1, 32, 160), np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(batch)).exp().numpy()
    runtime = Recognizer(path)
    np.testing.assert_allclose(runtime.posteriors(batch), expected, atol=1e-4)
    rebuilt, codec, _ = load_torch_from_onnx(path)
    with torch.no_grad():
        again = rebuilt.eval()(torch.from_numpy(batch)).exp().numpy()
        # In training mode (fine-tuning) the folded normalization must stay as exported.
        training = rebuilt.train()(torch.from_numpy(batch)).exp().numpy()
    np.testing.assert_allclose(again, expected, atol=1e-4)
    np.testing.assert_allclose(training, expected, atol=1e-4)
    assert codec == CODEC
    # Every input line gets a result, in the order given, with positions inside the image.
    lines = [_text_line("ab"), np.full((30, 50), 255, np.uint8), _text_line("wide " * 20)]
    results = runtime.recognize(lines)
    assert len(results) == 3
    for image, result in zip(lines, results, strict=True):
        assert all(-1 <= c.x0 <= c.x1 <= image.shape[1] + 1 for c in result.chars)


def test_the_quantized_model_reads_like_the_float_one(tmp_path):
    pytest.importorskip("torch")
    from scandex.ocr.recognize import Recognizer
    from scandex.training.export import export_onnx, load_torch_from_onnx

    model = _small_torch_model().eval()
    export_onnx(model, CODEC, NormalizeParams(), tmp_path / "float.onnx", quantize=False)
    export_onnx(model, CODEC, NormalizeParams(), tmp_path / "int8.onnx")
    batch = np.random.default_rng(3).random((3, 1, 32, 200), np.float32)
    exact = Recognizer(tmp_path / "float.onnx").posteriors(batch)
    quantized = Recognizer(tmp_path / "int8.onnx")
    np.testing.assert_allclose(quantized.posteriors(batch), exact, atol=0.05)
    assert quantized.model.info["quantized"] is True
    assert (tmp_path / "int8.onnx").stat().st_size < 0.6 * (tmp_path / "float.onnx").stat().st_size
    # Without its torch weights beside it, a quantized file cannot be fine-tuned: a clear error.
    with pytest.raises(ModelError, match="quantized model"):
        load_torch_from_onnx(tmp_path / "int8.onnx")


def test_torch_weights_round_trip_beside_the_onnx_file(tmp_path):
    torch = pytest.importorskip("torch")
    from scandex.ocr.recognize import Recognizer
    from scandex.training.export import export_model, load_for_training, weights_path

    model = _small_torch_model()
    # Non-trivial BatchNorm statistics: the weights file must keep them, unfolded.
    model.train()
    with torch.no_grad():
        model(torch.rand(4, 1, 32, 96))
    model.eval()
    path = tmp_path / "m.onnx"
    export_model(model, CODEC, NormalizeParams(), path)  # quantized, as shipped
    assert weights_path(path).is_file()
    batch = np.random.default_rng(2).random((2, 1, 32, 120), np.float32)
    loaded, codec, normalize = load_for_training(path)
    assert not loaded.frozen_batchnorm  # real statistics: fine-tuning may update them
    with torch.no_grad():
        again = loaded.eval()(torch.from_numpy(batch)).exp().numpy()
    np.testing.assert_allclose(Recognizer(path).posteriors(batch), again, atol=0.05)
    assert codec == CODEC and normalize == NormalizeParams()
    # A weights file left from another model is not used: the (float) ONNX graph is.
    exact = tmp_path / "exact.onnx"
    export_model(model, CODEC, NormalizeParams(), exact, quantize=False)
    other = tmp_path / "other.onnx"
    export_model(_small_torch_model(), CODEC, NormalizeParams(), other)
    weights_path(other).replace(weights_path(exact))
    rebuilt, _, _ = load_for_training(exact)
    assert rebuilt.frozen_batchnorm
    with torch.no_grad():
        np.testing.assert_allclose(
            rebuilt.eval()(torch.from_numpy(batch)).exp().numpy(), again, atol=1e-4
        )


def test_export_of_several_weights_files_ships_their_weighted_mean(tmp_path, monkeypatch, capsys):
    torch = pytest.importorskip("torch")
    from scandex.ocr.recognize import Recognizer, default_model_path
    from scandex.training import export
    from scandex.training.model import LineRecognizer, ModelConfig

    first, second = _small_torch_model(), _small_torch_model()
    with torch.no_grad():
        for p in second.parameters():
            p.add_(torch.randn_like(p))
    export.export_model(first, CODEC, NormalizeParams(), tmp_path / "a.onnx")
    export.export_model(second, CODEC, NormalizeParams(), tmp_path / "b.onnx")
    out = tmp_path / "mean.onnx"
    argv = ["export", str(tmp_path / "a.pt"), str(tmp_path / "b.pt"), str(out)]
    monkeypatch.setattr("sys.argv", [*argv, "--shares", "1", "3"])
    export.main()
    mean, _, _, _ = export.load_weights(tmp_path / "mean.pt")
    for name, value in mean.state_dict().items():
        if value.is_floating_point():
            expected = 0.25 * first.state_dict()[name] + 0.75 * second.state_dict()[name]
            torch.testing.assert_close(value, expected)
    assert Recognizer(out).recognize([np.full((40, 200), 255, np.uint8)])  # it loads and reads
    # Weights of another architecture cannot be averaged in: the file is named, in one line.
    wider = LineRecognizer(ModelConfig(num_classes=CODEC.num_classes, lstm_hidden=48))
    export.export_model(wider, CODEC, NormalizeParams(), tmp_path / "c.onnx")
    monkeypatch.setattr("sys.argv", [*argv[:2], str(tmp_path / "c.pt"), str(out)])
    with pytest.raises(SystemExit) as exit_info:
        export.main()
    assert exit_info.value.code == 2
    message = capsys.readouterr().err
    assert "c.pt: another architecture" in message and message.count("\n") == 1
    # "default" is the shipped model's weights.
    assert export._weights_file(Path("default")) == export.weights_path(default_model_path())
    assert export._weights_file(tmp_path / "a.pt") == tmp_path / "a.pt"


@pytest.mark.slow
def test_a_short_training_run_lowers_the_loss_and_resumes(tmp_path):
    pytest.importorskip("torch")
    import cv2

    from scandex.training.fonts import find_fonts
    from scandex.training.train import TrainOptions, train

    # Transcribed lines in the OCRopus convention, plus synthetic lines when fonts are installed.
    lines = tmp_path / "lines"
    lines.mkdir()
    for i, text in enumerate(SENTENCES * 4):
        cv2.imwrite(str(lines / f"{i:03d}.png"), _text_line(text, height_px=30 + i % 20))
        (lines / f"{i:03d}.gt.txt").write_text(text + "\n", encoding="utf-8")
    synthetic = bool(find_fonts())
    options = TrainOptions(
        out_dir=tmp_path / "run",
        line_dirs=[str(lines)],
        synthetic=synthetic,
        batch_size=8,
        max_iterations=40,
        eval_every_seconds=1e9,
        lstm_hidden=32,
        threads=1,
        seed=3,
    )
    summary = train(options, log=lambda _: None)
    assert summary["iterations"] == 40
    assert summary["last_loss_avg"] < 0.7 * summary["first_loss"]
    assert (tmp_path / "run" / "best.onnx").is_file()
    options.max_iterations = 45
    options.dev_dirs = [str(lines)]
    messages: list[str] = []
    assert train(options, log=messages.append)["iterations"] == 45
    # The evaluation reports word errors beside CER: a dropped space costs CER one character
    # and search two words.
    evals = [m for m in messages if m.startswith("eval iteration 45")]
    assert evals and " WER lines " in evals[-1]

    def fine_tune(name: str, **settings) -> dict:
        """A short fine-tuning run from the model trained above, into tmp_path / name."""
        return train(
            TrainOptions(
                out_dir=tmp_path / name,
                from_model=str(tmp_path / "run" / "best.onnx"),
                line_dirs=[str(lines)],
                batch_size=8,
                eval_every_seconds=1e9,
                threads=1,
                seed=3,
                **settings,
            ),
            log=lambda _: None,
        )

    # Fine-tuning from the exported model starts where training left off, not from scratch.
    tuned = fine_tune("tuned", synthetic=synthetic, max_iterations=3, learning_rate=1e-5)
    assert tuned["first_loss"] < 0.8 * summary["first_loss"]

    # --anchor is off by default (it halved what a few hundred lines teach); given, it holds
    # the weights near the ones fine-tuning started from.
    from scandex.cli.train import train as train_command
    from scandex.training.export import load_weights

    assert inspect.signature(train_command).parameters["anchor"].default.default == 0.0
    start = load_weights(tmp_path / "run" / "best.pt")[0].state_dict()

    def moved(anchor: float) -> float:
        name = f"anchor-{anchor:g}"
        settings = {"max_iterations": 4, "learning_rate": 1e-3, "anchor_weight": anchor}
        fine_tune(name, synthetic=False, **settings)
        tuned = load_weights(tmp_path / name / "last.pt")[0].state_dict()
        return sum(
            float((tuned[k] - v).abs().sum()) for k, v in start.items() if v.is_floating_point()
        )

    assert moved(100.0) < 0.5 * moved(0.0)

    # A widened model starts from the loss the model it grew from had on the same batch.
    settings = {"synthetic": False, "max_iterations": 2, "learning_rate": 1e-4}
    plain = fine_tune("plain", **settings)
    wide = fine_tune("wide", widen_lstm=48, **settings)
    assert wide["first_loss"] == pytest.approx(plain["first_loss"], rel=1e-4)
    assert load_weights(tmp_path / "wide" / "last.pt")[0].config.lstm_hidden == 48


def test_the_learning_rate_falls_on_a_half_cosine_only_when_a_final_rate_is_given():
    from scandex.training.train import scheduled_learning_rate

    assert scheduled_learning_rate(1e-4, None, 500, 1000) == 1e-4
    assert scheduled_learning_rate(1e-4, 1e-6, 0, 1000) == pytest.approx(1e-4)
    assert scheduled_learning_rate(1e-4, 1e-6, 500, 1000) == pytest.approx((1e-4 + 1e-6) / 2)
    assert scheduled_learning_rate(1e-4, 1e-6, 1000, 1000) == pytest.approx(1e-6)
    # A run resumed past its planned length keeps the final rate.
    assert scheduled_learning_rate(1e-4, 1e-6, 1500, 1000) == pytest.approx(1e-6)
    rates = [scheduled_learning_rate(1e-4, 1e-6, i, 1000) for i in range(0, 1001, 100)]
    assert rates == sorted(rates, reverse=True)


def test_word_error_rate_counts_a_dropped_space_as_two_wrong_words():
    from scandex.training.train import character_error_rate, word_error_rate

    merged = [("paid for our coal", "paid forour coal")]
    assert character_error_rate(merged) == pytest.approx(1 / 17)
    assert word_error_rate(merged) == pytest.approx(2 / 4)
    assert word_error_rate([("paid for our coal", "paid for our coal")]) == 0.0


def test_relabel_puts_an_archives_transcriptions_into_the_models_convention(tmp_path):
    import cv2

    from scandex.training.train import _encodable_lines, relabel

    folder = tmp_path / "archive"
    folder.mkdir()
    cv2.imwrite(str(folder / "l1.png"), np.full((30, 200), 255, np.uint8))
    (folder / "l1.gt.txt").write_text("Holland – people who had – rendered\n", encoding="utf-8")
    typed = [(" – ", " - ")]
    [line] = _encodable_lines([str(folder)], CODEC, lambda _: None, typed)
    assert line.text == "Holland - people who had - rendered"
    # An en dash that is not spaced (a range) is another mark and stays.
    assert relabel("pages 3–7 – see", typed) == "pages 3–7 - see"
    assert relabel("unchanged", ()) == "unchanged"


def test_train_command_rejects_a_relabel_rule_without_an_equals_sign(tmp_path):
    from typer.testing import CliRunner

    from scandex.cli import app

    pytest.importorskip("torch")
    result = CliRunner().invoke(app, ["train", "--out", str(tmp_path), "--relabel", "–"])
    # UsageError: the entry point prints its one line and exits 2.
    assert isinstance(result.exception, UsageError)
    assert "expected OLD=NEW" in str(result.exception)
    # Widening grows a trained model; without one there is nothing to widen.
    result = CliRunner().invoke(app, ["train", "--out", str(tmp_path), "--widen", "192"])
    assert isinstance(result.exception, UsageError)
    assert "--widen grows a model given with --from" in str(result.exception)
    result = CliRunner().invoke(app, ["train", "--out", str(tmp_path), "--capitals-share", "1.5"])
    assert isinstance(result.exception, UsageError)
    assert "--capitals-share 1.5: a share from 0 to 1" in str(result.exception)


# -- the shipped model --------------------------------------------------------------------

# Fonts the shipped model never saw in training (see scandex.training.fonts).
HELD_OUT_FONTS = [
    "/usr/share/fonts/truetype/crosextra/Carlito-Regular.ttf",
    "/usr/share/fonts/opentype/urw-base35/P052-Roman.otf",
    "/usr/share/fonts/opentype/courier-prime/Courier Prime.otf",
]
SHIPPED_MODEL_MAX_CER = 0.005  # the shipped model reads them all right (2026-11-30)

SENTENCES = [
    "The committee met on August 5, 1934.",
    "Please remit $12.50 to the address below.",
    "WHERE IS THE REPORT? It was due in May.",
    "Results improved by 37% over the previous quarter;",
    "Mr. Smith's letter (dated 3/14/1952) arrived today.",
    "hydrogen, oxygen and nitrogen were measured",
]


def _held_out_font_lines(sentences: list[str]) -> tuple[list[np.ndarray], list[str]]:
    """Each sentence drawn as a line in each held-out font there is (skips without any)."""
    from PIL import Image, ImageDraw, ImageFont

    fonts = [f for f in HELD_OUT_FONTS if Path(f).exists()]
    if not fonts:
        pytest.skip("held-out fonts not installed (apt-get install fonts-crosextra-carlito)")
    images, truths = [], []
    for font_path in fonts:
        font = ImageFont.truetype(font_path, 32)
        for text in sentences:
            left, top, right, bottom = font.getbbox(text)
            image = Image.new("L", (right - left + 24, bottom - top + 16), 255)
            ImageDraw.Draw(image).text((12 - left, 8 - top), text, font=font, fill=20)
            images.append(np.asarray(image))
            truths.append(text)
    return images, truths


def test_shipped_model_reads_lines_in_fonts_it_never_saw():
    from scandex.ocr.pipeline import get_recognizer
    from scandex.training.train import character_error_rate

    images, truths = _held_out_font_lines(SENTENCES)
    results = get_recognizer().recognize(images)
    cer = character_error_rate([(t, r.text) for t, r in zip(truths, results, strict=True)])
    assert cer < SHIPPED_MODEL_MAX_CER, [r.text for r in results]
    assert all(0.0 <= c.confidence <= 1.0 for r in results for c in r.chars)


CAPITALS_SENTENCES = [
    "BOARD OF TRUSTEES, MINUTES OF MAY 5, 1934",
    "REPORT ON THE ÉCOLE NORMALE",
    "RECEIVED: AUGUST 14, 1952",
    "STATEMENT OF ACCOUNT — $1,250.00",
]


def test_the_shipped_model_reads_lines_of_capitals_with_its_companion():
    from scandex.ocr.recognize import Recognizer, capitals_companion, default_model_path
    from scandex.training.train import character_error_rate

    assert capitals_companion(default_model_path()).is_file()  # packaged beside en.onnx
    images, truths = _held_out_font_lines(CAPITALS_SENTENCES)
    assert all(normalize_line(image).capitals for image in images)  # the companion's lines
    results = Recognizer().recognize(images)
    cer = character_error_rate([(t, r.text) for t, r in zip(truths, results, strict=True)])
    assert cer < SHIPPED_MODEL_MAX_CER, [r.text for r in results]


def test_ocr_line_cli_prints_text_and_jsonl(tmp_path):
    import cv2
    from typer.testing import CliRunner

    from scandex.cli import app

    path = tmp_path / "line.png"
    cv2.imwrite(str(path), _text_line("Hello world"))
    runner = CliRunner()
    result = runner.invoke(app, ["ocr", "--line", str(path), "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.splitlines()[0])
    assert record["path"] == str(path)
    assert set(record) >= {"path", "text", "confidence", "chars"}
    assert {"char", "confidence", "x0", "x1", "alternatives"} <= set(record["chars"][0])
    assert "".join(c["char"] for c in record["chars"]) == record["text"]
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    result = runner.invoke(app, ["ocr", "--line", str(bad), str(path)])
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 1


def test_a_transcript_without_its_image_is_named_not_skipped(tmp_path):
    import cv2

    from scandex.errors import ScanError
    from scandex.training.data import load_line_dir

    cv2.imwrite(str(tmp_path / "a.png"), _text_line("Hello"))
    (tmp_path / "a.gt.txt").write_text("Hello\n", encoding="utf-8")
    assert [s.text for s in load_line_dir(tmp_path)] == ["Hello"]
    (tmp_path / "b.gt.txt").write_text("orphan\n", encoding="utf-8")
    with pytest.raises(ScanError, match="b.gt.txt: no image beside it"):
        load_line_dir(tmp_path)


def test_training_lines_cut_from_pages_by_our_segmenter_carry_their_own_text():
    import random

    from scandex.training.fonts import FontFace
    from scandex.training.pages import segmented_lines

    face = FontFace(find_font("serif"), "DejaVu Serif", "Book")
    samples = segmented_lines(SENTENCES, face, random.Random(2))
    assert len(samples) >= len(SENTENCES) - 1
    texts = [text for _, text in samples]
    assert len(set(texts)) == len(texts) and set(texts) <= set(SENTENCES)
    for image, _ in samples:
        assert image.dtype == np.uint8 and (image < 128).any()


def test_synthetic_lines_favour_typewriter_faces_by_the_set_share():
    import random

    from scandex.training.data import BatchStream
    from scandex.training.fonts import FontFace

    serif, mono = find_font("serif"), find_font("typewriter")
    # Nine ordinary families to one typewriter: picked family by family it would get 10%.
    faces = [FontFace(serif, f"Serif {i}", "Book") for i in range(9)]
    faces.append(FontFace(mono, "FreeMono", "Regular"))
    stream = BatchStream(
        CODEC, real=[], fonts=faces, real_fraction=0.0, batch_size=2, seed=0,
        typewriter_fraction=0.4,
    )  # fmt: skip
    rng = random.Random(3)
    share = sum(stream._face(rng).is_typewriter for _ in range(2000)) / 2000
    assert 0.36 < share < 0.44


def test_training_text_has_rows_of_repeated_marks_the_codec_can_write():
    """Receipts' dashed rows, typed rules and leaders were read as nothing: the recognizer
    never saw a row of one mark."""
    from scandex.training.text import TextSource

    source = TextSource(seed=5)
    lines = [source.line() for _ in range(3000)]
    rows = [line for line in lines if any(mark * 6 in line for mark in "-=_.")]
    assert len(rows) > 30
    # The marks themselves; a row's label may hold a rare letter outside the alphabet
    # ("Dvořák"), and the trainer skips such lines whole.
    runs = [m.group(0) for row in rows for m in re.finditer(r"([-=_.*~])(?: ?\1){5,}", row)]
    assert len(runs) >= len(rows)
    assert all(CODEC.can_encode(run) for run in runs)


def test_training_text_puts_accented_capitals_into_capitals_lines():
    """Lines of capitals held 11 accented capitals in 1000 characters: the network, now
    shown the accents over capitals, had too few to tell Õ from Ö and Û from U. And capitals
    lines are one in six: ALL-CAPS degraded lines were the kind furthest from its target."""
    from scandex.training.text import ACCENTED_CAPITALS, TextSource

    source = TextSource(seed=7)
    lines = [source.line() for _ in range(4000)]
    capitals = [line for line in lines if sum(ch.isupper() for ch in line) > 10 and line.isupper()]
    accented = [line for line in capitals if any(ch in ACCENTED_CAPITALS for ch in line)]
    # One line in six is a capitals line (about 550 of 4000 pass the filter; at one in
    # nine, 415 did).
    assert len(capitals) > 480
    per_1000 = 1000 * sum(ch in ACCENTED_CAPITALS for line in capitals for ch in line)
    assert 18 < per_1000 / sum(len(line) for line in capitals) < 40
    assert len(accented) < 0.6 * len(capitals)  # most headings are plain English
    assert CODEC.can_encode(ACCENTED_CAPITALS)


def test_training_text_has_page_numbers_standing_alone_with_their_spaces():
    """A typed page number "- 2 -" was read "-2-": no training line was one."""
    from scandex.training.text import TextSource

    source = TextSource(seed=11)
    lines = [source.line() for _ in range(3000)]
    spaced = [line for line in lines if re.fullmatch(r"- \d+ -", line)]
    tight = [line for line in lines if re.fullmatch(r"-\d+-", line)]
    assert len(spaced) >= 3 and len(tight) >= 1
    assert len(spaced) + len(tight) < 0.02 * len(lines)  # a seasoning, not a diet


def test_training_text_spells_contractions_with_both_apostrophes():
    """Contractions came only with the straight apostrophe of the word lists; a typeset
    "won’t" was read "won’'t" and "I’ve" "Ive"."""
    from scandex.training.text import TextSource

    source = TextSource(seed=3)
    words = [source.word() for _ in range(20000)]
    straight = [w for w in words if re.search(r"\w'\w", w)]
    curly = [w for w in words if re.search(r"\w’\w", w)]
    assert len(straight) > 20 and len(curly) > 20
    assert 0.5 < len(curly) / len(straight) < 2


def test_training_text_writes_the_pronoun_i_and_its_contractions_with_a_capital():
    """The word lists hold "i", "i've", "i'm" in lower case: "I've" was rare in training
    and read "Ive" on the dev pages."""
    from scandex.training.text import TextSource

    source = TextSource(seed=3)
    words = [source.word() for _ in range(20000)]
    pronoun = [w for w in words if re.fullmatch(r"[iI]|[iI]['’](?:m|ve|ll|d)", w)]
    assert len(pronoun) > 20
    assert all(w.startswith("I") for w in pronoun)


def test_training_text_closes_quotes_both_before_and_after_the_period():
    """Quotes were only ever closed before a sentence's mark; typeset "it.”" was read "it”"."""
    from scandex.training.text import TextSource

    source = TextSource(seed=4)
    lines = [source.line() for _ in range(5000)]
    inside = sum(len(re.findall(r"\w[.,?!][”\"’]", line)) for line in lines)
    outside = sum(len(re.findall(r"\w[”\"’][.,?!]", line)) for line in lines)
    assert inside > 20 and outside > 20


def test_training_lines_label_a_dash_the_face_draws_as_its_hyphen_a_hyphen():
    """Courier's en dash is its hyphen to the pixel; labelled "–", such lines taught the
    model to read a typed " --" as "–-"."""
    pytest.importorskip("torch")
    import random

    from scandex.training.data import BatchStream
    from scandex.training.fonts import FontFace
    from scandex.training.render import dashes_seen_as_hyphens
    from scandex.training.text import TextSource

    courier = find_font("typewriter")
    assert dashes_seen_as_hyphens(courier)[ord("–")] == "-"
    assert dashes_seen_as_hyphens(find_font("serif")) == {}  # its dashes are longer

    face = FontFace(courier, "Courier Prime", "Regular")
    stream = BatchStream(CODEC, real=[], fonts=[face], real_fraction=0.0, batch_size=4, seed=1)
    source = TextSource(seed=7)
    texts = [stream._text_for(face, random.Random(i), source) for i in range(1500)]
    assert not any("–" in text or "—" in text for text in texts)
    assert sum(" -" in text for text in texts) > 10  # the dashes are there, as hyphens


def test_training_lines_set_some_word_spaces_as_tight_as_justified_print():
    """v8, trained only on each face's own word space, read the narrow gaps of justified
    print and of money columns as no space ("9s. 7d." -> "9s.7d."), and search lost both
    words. Training lines now narrow word spaces to as little as 0.55 of the face's."""
    pytest.importorskip("PIL")
    import random

    from scandex.training.fonts import FontFace
    from scandex.training.render import draw_text, random_space_scale

    face = FontFace(find_font("serif"), "serif", "Regular")

    def gaps_and_extent(space_scale: float) -> tuple[list[int], int]:
        ink = draw_text("paid 9s. 7d. in", face, 40, random.Random(1), space_scale) > 0.4
        cols = ink.any(axis=0)
        start = int(np.argmax(cols))
        end = len(cols) - int(np.argmax(cols[::-1]))
        blank = ~cols[start:end]
        edges = np.flatnonzero(np.diff(np.concatenate([[0], blank.astype(int), [0]])))
        return [int(b - a) for a, b in zip(edges[::2], edges[1::2], strict=True)], end - start

    (normal, normal_width), (tight, tight_width) = gaps_and_extent(1.0), gaps_and_extent(0.55)
    assert len(tight) == len(normal)  # no two marks came to touch
    word_gaps = sorted(normal)[-3:]
    # Three spaces, each 0.45 of its width narrower (a pixel of rounding apiece).
    assert abs((normal_width - tight_width) - 0.45 * sum(word_gaps)) < 0.2 * sum(word_gaps)
    # Drawn at random, about one line in five with spaces is set tight.
    scales = [random_space_scale("a b c", random.Random(i)) for i in range(1000)]
    assert 0.15 < sum(scale < 1.0 for scale in scales) / 1000 < 0.25
    assert min(scales) >= 0.55
    assert random_space_scale("abc", random.Random(0)) == 1.0  # nothing to narrow


def test_training_lines_track_some_capitals_and_keep_their_word_spaces_wider():
    """Trained on tight word spaces and never on letter-spaced type, models after v7 read a
    magazine's tracked capitals as several words ("MOSTLY" -> "MO STLY")."""
    pytest.importorskip("PIL")
    import random

    from scandex.training.fonts import FontFace
    from scandex.training.render import draw_text, random_tracking

    face = FontFace(find_font("serif"), "serif", "Regular")

    def gaps(tracking: float) -> list[int]:
        ink = draw_text("MOSTLY RESTORED", face, 40, random.Random(1), 1.0, tracking) > 0.4
        cols = ink.any(axis=0)
        start, end = int(np.argmax(cols)), len(cols) - int(np.argmax(cols[::-1]))
        blank = ~cols[start:end]
        edges = np.flatnonzero(np.diff(np.concatenate([[0], blank.astype(int), [0]])))
        return [int(b - a) for a, b in zip(edges[::2], edges[1::2], strict=True)]

    tracked = gaps(0.3)
    assert len(gaps(0.0)) < len(tracked) == 13  # 14 letters each apart, one word gap
    word_gap = max(tracked)
    letter_gaps = sorted(tracked)[:-1]
    assert min(letter_gaps) >= 0.3 * 40 - 6  # the tracking, less the letters' own overhang
    assert word_gap > max(letter_gaps) + 5  # the space still tells the words apart
    # Drawn at random: a quarter of ALL-CAPS lines, few others, never a single character.
    caps = [random_tracking("MOSTLY RESTORED", random.Random(i)) for i in range(1000)]
    lower = [random_tracking("mostly restored", random.Random(i)) for i in range(1000)]
    assert 0.2 < sum(t > 0 for t in caps) / 1000 < 0.3
    assert sum(t > 0 for t in lower) / 1000 < 0.05
    assert max(caps) <= 0.35 and random_tracking("A", random.Random(0)) == 0.0


def test_training_lines_put_specks_and_faint_rules_in_word_gaps_not_over_words():
    """Models trained from v7 read typed lines with a speck or a crease in a word gap as one
    word ("to' this" -> "tothis"); training lines now carry such dirt, in the gaps only, and
    smaller than a full stop, so the label's spaces stay true."""
    pytest.importorskip("PIL")
    import random

    from scandex.training.fonts import FontFace
    from scandex.training.render import add_gap_marks, draw_text

    face = FontFace(find_font("serif"), "serif", "Regular")
    ink = draw_text("paid for our coal and the rent in June", face, 40, random.Random(1))
    clean = ink > 0.4
    specked = add_gap_marks(ink, 40, random.Random(2), speck_share=1.0, rule_share=0.0) > 0.4
    added = specked & ~clean
    assert added.any()
    # The specks lie in word gaps: no column that has a letter's ink got any.
    assert not (added.any(axis=0) & clean.any(axis=0)).any()
    import cv2

    count, _, stats, _ = cv2.connectedComponentsWithStats(added.astype(np.uint8))
    assert count - 1 >= 2  # a third of the seven gaps
    assert stats[1:, cv2.CC_STAT_HEIGHT].max() <= 0.1 * 40  # under a full stop's size
    ruled = add_gap_marks(ink, 40, random.Random(2), speck_share=0.0, rule_share=1.0)
    rule_rows = np.flatnonzero(((ruled > 0.2) & ~clean).sum(axis=1) > 0.5 * ink.shape[1])
    assert 1 <= rule_rows.size <= 5  # one faint line across the whole line
    assert ruled[rule_rows][~clean[rule_rows]].max() <= 0.6  # fainter than the ink
    # Drawn at random, most lines stay clean.
    drawn = [add_gap_marks(ink, 40, random.Random(i)) for i in range(200)]
    assert 0.1 < sum(d is not ink for d in drawn) / 200 < 0.3


def test_some_training_lines_lie_on_a_shaded_band_fainter_than_their_letters():
    """v7 had never seen letters on hatching and read a table's hatched header "Article
    Weight Rate Toll" as "Afticle eight Rate 6l"; a few training lines now lie on a tint,
    hatching or a dot screen, over the letters' rows and not far beyond, never darker than
    the letters, which stay as they were."""
    pytest.importorskip("PIL")
    import random

    from scandex.training.fonts import FontFace
    from scandex.training.render import add_shading, draw_text

    face = FontFace(find_font("serif"), "serif", "Regular")
    ink = draw_text("Article Weight Rate Toll", face, 40, random.Random(1))
    letters = ink > 0.75
    letter_rows = np.flatnonzero(letters.any(axis=1))
    reach = letter_rows[-1] + 1 - letter_rows[0]
    patterned = 0
    for seed in range(40):
        shaded = add_shading(ink, 40, random.Random(seed), share=1.0)
        added = (shaded > ink + 1e-6) & ~letters
        assert added.any()
        assert (shaded >= ink).all() and np.array_equal(shaded[letters], ink[letters])
        assert shaded[added].max() <= 0.7
        rows = np.flatnonzero(added.any(axis=1))
        assert rows[0] >= letter_rows[0] - reach // 2 and rows[-1] <= letter_rows[-1] + reach // 2
        cols = np.flatnonzero(added.any(axis=0))
        box = shaded[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] > 0.05
        patterned += box.mean() < 0.8  # hatching or dots, not a flat tint
    assert 5 < patterned < 35
    drawn = [add_shading(ink, 40, random.Random(i)) for i in range(500)]
    assert 0.01 < sum(d is not ink for d in drawn) / 500 < 0.08  # most lines stay clean


def test_a_faded_typewriter_line_binarized_keeps_its_strokes():
    """The binarized-scan degradation set its threshold from the ink level the line was meant
    to have; a faded typewriter line then fell wholly on the paper's side and came out blank
    or as a few specks, labelled with its text, in training and in bench_recognizer alike."""
    pytest.importorskip("PIL")
    import random

    from scandex.training.fonts import FontFace
    from scandex.training.render import degrade, draw_text

    face = FontFace(find_font("typewriter"), "Courier Prime", "Regular")
    ink = draw_text("ASSUME ANY RIGHTS", face, 24, random.Random(1))
    strokes = ink > 0.5
    kept = []
    for seed in range(300):
        image = degrade(ink, random.Random(seed), typewriter=True, warp=False)
        if set(np.unique(image).tolist()) <= {0, 255}:  # the binarized scans
            kept.append(float((image[strokes] == 0).mean()))
    assert len(kept) > 50
    assert min(kept) > 0.3  # fading takes patches, never the line


def test_faded_bars_lose_the_horizontal_strokes_and_keep_the_upright_ones():
    """The training degradation for faces whose bars fade first (ALL-CAPS E, F, T read as I):
    a bar as thin as a tenth of the type size fades, a stem keeps all its ink and length."""
    import random

    from scandex.training.render import fade_horizontal_strokes

    ink = np.zeros((40, 60), np.float32)
    ink[5:35, 10:14] = 1.0  # a stem, 30 px tall
    ink[5:7, 14:40] = 1.0  # a bar 2 px thick (an E's top)
    ink[20:22, 14:34] = 1.0  # and its middle
    for seed in range(20):
        faded = fade_horizontal_strokes(ink, 40, random.Random(seed))
        assert np.array_equal(faded[5:35, 10:14], ink[5:35, 10:14])
        assert faded[5:7, 16:40].max() <= 0.6 and faded[20:22, 16:34].max() <= 0.6
        assert faded[5:7, 16:40].min() >= 0.1  # faded, not erased: a reader still sees a trace
        assert (faded[ink == 0] == 0).all()


def test_a_widened_model_reads_as_before_and_learns_with_its_new_units():
    torch = pytest.importorskip("torch")
    from scandex.training.model import LineRecognizer, ModelConfig, new_unit_masks, widened

    torch.manual_seed(0)
    config = ModelConfig(num_classes=CODEC.num_classes, lstm_hidden=16, lstm_layers=2)
    model = LineRecognizer(config).eval()
    grown = widened(model, 24).eval()
    assert grown.config.lstm_hidden == 24
    assert sum(p.numel() for p in grown.parameters()) > sum(p.numel() for p in model.parameters())
    batch = torch.rand(2, 1, 32, 96)
    with torch.no_grad():
        assert torch.allclose(grown(batch), model(batch), atol=1e-6)
    with pytest.raises(ValueError, match="cannot narrow"):
        widened(model, 8)
    # The trainer speeds up the new units' weights: every weight the old model lacked, and
    # only those, is marked; with them all at zero the new units are silent.
    masks = new_unit_masks(grown, 16)
    old_state = model.state_dict()
    for name, mask in masks.items():
        assert int((~mask).sum()) == old_state[name].numel()
    with torch.no_grad():
        for name, parameter in grown.named_parameters():
            if name in masks:
                parameter[masks[name]] = 0.0
        assert torch.allclose(grown(batch), model(batch), atol=1e-6)
    # Fine-tuning's pull towards the starting weights holds the old units only: the new ones'
    # starting values mean nothing, and held at zero they would stay silent.
    from scandex.training.train import anchor_penalty, new_unit_parameters

    start = widened(model, 24)
    anchor = [p.detach().clone() for p in start.parameters()]
    new_units = new_unit_parameters(start, 16)
    assert float(anchor_penalty(start, anchor, new_units).detach()) == 0.0
    with torch.no_grad():
        for parameter, mask in new_units:
            parameter[mask] += 1.0
    assert float(anchor_penalty(start, anchor, new_units).detach()) == 0.0
    with torch.no_grad():
        start.classifier.bias += 1.0
    penalty = anchor_penalty(start, anchor, new_units).detach()
    assert float(penalty) == pytest.approx(CODEC.num_classes)
    # The new units' outgoing weights start at zero but get gradients, so training uses them.
    silent = widened(model, 24).train()
    silent(batch).sum().backward()
    new_columns = silent.classifier.weight.grad[:, 16:24]
    assert float(new_columns.abs().sum()) > 0


# -- capitals companion -------------------------------------------------------------------


def test_normalization_marks_lines_of_capitals():
    def capitals(text: str) -> bool:
        return normalize_line(_crop_rows(_text_line(text, height_px=48))).capitals

    assert capitals("BOARD OF TRUSTEES")
    assert not capitals("Committee Report, 1938")
    assert not capitals("the kultusgemeinde have")


def test_training_text_can_be_mostly_capitals():
    from scandex.training.text import TextSource

    source = TextSource(seed=5, capitals_share=0.85)
    lines = [source.line() for _ in range(1000)]
    in_capitals = [line for line in lines if not any(ch.islower() for ch in line)]
    # 85% drawn as capitals lines, and the usual mix's own capitals lines, dates and numbers.
    assert 0.85 < len(in_capitals) / len(lines) < 0.95


def test_lines_of_capitals_are_read_by_the_models_capitals_companion(tmp_path):
    torch = pytest.importorskip("torch")
    from scandex.ocr.recognize import Recognizer, capitals_companion
    from scandex.training.export import export_onnx
    from scandex.training.model import LineRecognizer, ModelConfig

    def export(path: Path, reads: str, codec: Codec = CODEC) -> None:
        """A network that reads every line as the one character `reads`."""
        model = LineRecognizer(ModelConfig(num_classes=codec.num_classes, lstm_hidden=32))
        with torch.no_grad():
            model.classifier.weight.zero_()
            model.classifier.bias.zero_()
            model.classifier.bias[codec.encode(reads)[0]] = 30.0
        export_onnx(model.eval(), codec, NormalizeParams(), path, quantize=False)

    main, companion = tmp_path / "m.onnx", tmp_path / "m-capitals.onnx"
    assert capitals_companion(main) == companion
    export(main, reads="x")
    export(companion, reads="Q")
    heading = _crop_rows(_text_line("BOARD OF TRUSTEES", height_px=48))
    prose = _crop_rows(_text_line("Committee Report, 1938", height_px=48))
    assert [r.text for r in Recognizer(main).recognize([heading, prose])] == ["Q", "x"]
    assert [r.text for r in Recognizer(main, capitals=False).recognize([heading])] == ["x"]
    # A line the companion reads in lower case is not of capitals after all (a table row of
    # figures stands as tall as capitals): the model reads it.
    export(companion, reads="q")
    assert [r.text for r in Recognizer(main).recognize([heading, prose])] == ["x", "x"]
    # A companion that does not read like its model (another alphabet) is refused by name.
    export(companion, reads="a", codec=Codec("abc"))
    with pytest.raises(ModelError, match="m-capitals.onnx.*alphabet or line normalization"):
        Recognizer(main)


def test_a_reading_is_of_capitals_when_nine_in_ten_of_its_letters_are():
    from scandex.ocr.recognize import reads_as_capitals

    def reading(text: str) -> list:
        # Each character on a frame of its own, a blank between: the greedy path is `text`.
        return greedy_decode(_posteriors([f for ch in text for f in ({ch: 0.9}, {})]), CODEC)

    assert reads_as_capitals(reading("RÉSUMÉ OF THE BOARD, 1938"))
    assert reads_as_capitals(reading("ACQUIRED BY THE TRUSTEeS"))  # one misread letter in 20
    assert not reads_as_capitals(reading("Timber -- deal 300 ft. 2s."))
    assert not reads_as_capitals(reading("30 0 0"))  # no letters
