"""Doubtful lines read again with the image moved, the readings voting word by word."""

from __future__ import annotations

import numpy as np
import pytest
from synth import find_font

from scandex.ocr.normalize import normalize_line
from scandex.ocr.recognize import CharResult, LineResult, RereadParams, WordResult, voted_line
from scandex.ocr.voting import vote_words


def _texts(readings: list[list[str]], picks: list[tuple[int, int]]) -> list[str]:
    return [readings[r][i] for r, i in picks]


def _sure(readings: list[list[str]], confidence: float = 0.9) -> list[list[float]]:
    return [[confidence] * len(words) for words in readings]


def test_the_word_most_readings_hold_wins():
    readings = [["tne", "cat", "sat"], ["the", "cat", "sat"], ["the", "cot", "sat"]]
    assert _texts(readings, vote_words(readings, _sure(readings))) == ["the", "cat", "sat"]


def test_where_every_reading_differs_the_backbone_stands():
    readings = [["a", "cat"], ["a", "cot"], ["a", "cut"]]
    picks = vote_words(readings, _sure(readings))
    backbone = picks[0][0]
    assert _texts(readings, picks) == ["a", readings[backbone][1]]


def test_of_the_readings_that_agree_the_surest_supplies_the_word():
    readings = [["the", "cat"], ["the", "cat"], ["the", "cot"]]
    confidences = [[0.9, 0.6], [0.9, 0.8], [0.9, 0.99]]
    picks = vote_words(readings, confidences)
    assert picks[1] == (1, 1)


def test_a_listed_word_wins_over_unlisted_readings_however_many():
    # The first reading's accent restoration read the "ü" that two moved readings took for
    # "ii" (their lines held a second misread word, so their word lists were not consulted).
    readings = [["Now", "ausrüstung"], ["Now", "ausriistung"], ["Now", "ausriistung"]]
    listed = [[True, True], [True, False], [True, False]]
    picks = vote_words(readings, _sure(readings), listed)
    assert _texts(readings, picks) == ["Now", "ausrüstung"]
    assert _texts(readings, vote_words(readings, _sure(readings))) == ["Now", "ausriistung"]


def test_words_most_readings_put_between_two_words_are_put_in():
    readings = [["of", "ink"], ["of", "the", "ink"], ["of", "the", "ink"]]
    assert _texts(readings, vote_words(readings, _sure(readings))) == ["of", "the", "ink"]
    lone = [["of", "ink"], ["of", "the", "ink"], ["of", "ink"]]
    assert _texts(lone, vote_words(lone, _sure(lone))) == ["of", "ink"]


def test_a_word_split_in_one_reading_keeps_the_majoritys_words():
    readings = [["ofink", "dry"], ["of", "ink", "dry"], ["of", "ink", "dry"]]
    assert _texts(readings, vote_words(readings, _sure(readings))) == ["of", "ink", "dry"]


def _line(words: list[tuple[str, float, float]], confidence: float = 0.9) -> LineResult:
    """A reading from (text, x0, x1) words, characters spread evenly, one space between."""
    chars: list[CharResult] = []
    results = []
    for n, (text, x0, x1) in enumerate(words):
        step = (x1 - x0) / len(text)
        word = tuple(
            CharResult(ch, confidence, x0 + k * step, x0 + (k + 1) * step)
            for k, ch in enumerate(text)
        )
        if n:
            chars.append(CharResult(" ", 0.97, chars[-1].x1, x0))
        chars.extend(word)
        results.append(WordResult(word))
    text = " ".join(w[0] for w in words)
    return LineResult(text, confidence, tuple(chars), tuple(results))


def test_the_voted_line_is_made_of_the_chosen_words_with_their_boxes():
    first = _line([("Tne", 10, 40), ("cat", 50, 80)], 0.5)
    second = _line([("The", 11, 41), ("cat", 51, 81)], 0.8)
    third = _line([("The", 12, 42), ("cot", 52, 82)], 0.7)
    line = voted_line([first, second, third])
    assert line.text == "The cat"
    assert "".join(c.text for c in line.chars) == line.text
    assert line.words[0] is second.words[0]  # the surer of the two that read "The"
    assert [c.x0 for c in line.words[1].chars] == [c.x0 for c in second.words[1].chars]
    space = line.chars[3]
    assert space.text == " " and line.chars[2].x1 <= space.x1 <= line.chars[4].x0 + 1e-9
    assert line.confidence == pytest.approx(np.mean([c.confidence for c in line.chars]))


def test_a_moved_line_maps_back_to_the_same_input_columns():
    image = np.full((40, 300), 255, np.uint8)
    image[8:32, 100:104] = 0
    line = normalize_line(image)
    moved = line.shifted(2)
    assert moved.image.shape[1] == line.image.shape[1] + 2
    assert np.array_equal(moved.image[:, 2:], line.image)
    assert moved.to_input_x(42.0) == pytest.approx(line.to_input_x(40.0))


def _typed_line(text: str) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(find_font("sans"), 30)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("L", (right - left + 24, bottom - top + 16), 255)
    ImageDraw.Draw(image).text((12 - left, 8 - top), text, font=font, fill=30)
    return np.asarray(image)


def test_only_doubtful_lines_are_read_again_and_a_clear_line_reads_the_same():
    from scandex.ocr.recognize import Recognizer

    images = [_typed_line("The quick brown fox jumps over the lazy dog.")]
    batches: list[int] = []

    def counting(recognizer: Recognizer) -> Recognizer:
        read = recognizer.posteriors

        def posteriors(batch, **how):
            batches.append(len(batch))
            return read(batch, **how)

        recognizer.posteriors = posteriors  # type: ignore[method-assign]
        return recognizer

    never = counting(Recognizer(reread=RereadParams(below=0.0)))
    always = counting(Recognizer(reread=RereadParams(below=1.01)))
    once = never.recognize(images)[0]
    assert batches == [1]
    again = always.recognize(images)[0]
    # The line, then moved by two columns; the two readings agree, so not moved by one too.
    assert batches == [1, 1, 1]
    assert again.text == once.text == "The quick brown fox jumps over the lazy dog."
    assert [w.text for w in again.words] == once.text.split()
    assert all(0 <= c.x0 <= c.x1 <= images[0].shape[1] for c in again.chars)


def test_rereading_is_on_by_default_and_can_be_turned_off(tmp_path):
    import cv2
    from typer.testing import CliRunner

    from scandex.cli import app
    from scandex.config import parse_config
    from scandex.daemon.worker import same_engine
    from scandex.errors import ConfigError
    from scandex.ocr.pipeline import get_recognizer

    on = parse_config({}, base_dir=tmp_path, source=None).ocr
    off = parse_config({"ocr": {"reread": False}}, base_dir=tmp_path, source=None).ocr
    assert on.reread and not off.reread
    assert not same_engine(on, off)  # a reload that turns it off starts new workers
    with pytest.raises(ConfigError, match="ocr.reread"):
        parse_config({"ocr": {"reread": "yes"}}, base_dir=tmp_path, source=None)
    assert get_recognizer().reread == RereadParams()
    assert get_recognizer(reread=False).reread.below == 0.0  # no line is doubtful enough
    path = tmp_path / "line.png"
    cv2.imwrite(str(path), _typed_line("Dear Sir, your letter"))
    result = CliRunner().invoke(app, ["ocr", "--line", "--no-reread", str(path)])
    assert result.exit_code == 0, result.output
    assert "Dear Sir, your letter" in result.stdout
