"""Reading by context: characters the network cannot tell apart by their shapes, decided by
what stands around them on the line (after greedy decoding, before any word list).

Each rule changes a character only where its neighbours make one reading far likelier
than the other, and keeps the network's own reading as the character's alternative.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from scandex.ocr.ctc import MAX_ALTERNATIVES, DecodedChar, indexed_text


def read_in_context(chars: Sequence[DecodedChar]) -> list[DecodedChar]:
    """Every rule of this module, in turn."""
    return contractions_joined(fives_in_lists(digits_in_numbers(commas_before_lower_case(chars))))


def commas_before_lower_case(
    chars: Sequence[DecodedChar], min_comma_prob: float = 0.1
) -> list[DecodedChar]:
    """`chars` with each period between a word and a lower-case word read as a comma where
    the network gave the comma `min_comma_prob` or more at the mark's peak.

    In small print a comma's tail is a pixel or two, and the two marks differ by nothing
    else ("our purposes. is set up", "monsters. moonlighting"); a sentence rarely goes on in
    lower case after a stop, a clause does after a comma. The stops that do stand there
    (abbreviations: "e.g. the", "grms. sugar", "inst. to") are read with no comma in doubt:
    on the real line sets, under 0.07 where the misread commas had 0.14 to 0.41.
    """
    out = list(chars)
    for i in range(1, len(chars) - 2):
        mark = chars[i]
        if not (
            mark.text == "."
            and chars[i - 1].text.isalpha()
            and chars[i + 1].text == " "
            and chars[i + 2].text.islower()
        ):
            continue
        others = dict(mark.alternatives)
        comma = others.pop(",", 0.0)
        if comma < min_comma_prob:
            continue
        alternatives = ((".", mark.confidence), *others.items())[:MAX_ALTERNATIVES]
        out[i] = replace(mark, text=",", confidence=comma, alternatives=alternatives)
    return out


# Letters that typists and type set for digits: many typewriters had no 1 (a lower-case l
# was typed), and O and o stand for 0 as often.
_DIGIT_LOOK_ALIKES = {"l": "1", "I": "1", "O": "0", "o": "0"}
# A number's characters: digits, their look-alikes, and the marks inside numbers.
_NUMBER = re.compile(r"[0-9lIOo][0-9lIOo.,:]*")
# An ordinal typed with an l for its 1 ("lst", "2lst"); not I, which begins "Ist" (German).
_ORDINAL = re.compile(r"([0-9l]+)(st|nd|rd|th)")


def digits_in_numbers(chars: Sequence[DecodedChar]) -> list[DecodedChar]:
    """`chars` with the look-alike letters of numbers read as digits: "1oo" is 100, "3O1"
    301, and a typist's "lst" the 1st.

    A number here is a part of a token (between spaces, hyphens and slashes, without the
    punctuation around it) made of digits and look-alike letters only, with at least one
    digit; or an ordinal whose number is made of digits and l and takes its suffix ("lst",
    "2lst", "llth"). No word is made of these letters and digits (none in the
    truth of any real set), so the letters cannot be meant.
    """
    text = indexed_text(chars)
    out = list(chars)
    for part in re.finditer(r"[^\s\-/–—]+", text):
        start, end = part.span()
        core = part.group().strip("()[]\"'‘’“”.,;:!?")
        if not core:
            continue
        start += part.group().index(core)
        end = start + len(core)
        ordinal = _ORDINAL.fullmatch(core)
        if ordinal:
            digits = ordinal.group(1)
            number = "".join(_DIGIT_LOOK_ALIKES.get(ch, ch) for ch in digits)
            if _ordinal_suffix(int(number)) != ordinal.group(2):
                continue
            end = start + len(digits)
        elif not (_NUMBER.fullmatch(core) and any(ch.isdigit() for ch in core)):
            continue
        for i in range(start, end):
            digit = _DIGIT_LOOK_ALIKES.get(out[i].text)
            if digit is not None:
                out[i] = _read_as(out[i], digit)
    return out


def _read_as(char: DecodedChar, text: str) -> DecodedChar:
    """`char` read as `text`, the network's own reading first among its alternatives."""
    alternatives = ((char.text, char.confidence), *char.alternatives)
    return replace(char, text=text, alternatives=alternatives[:MAX_ALTERNATIVES])


def _ordinal_suffix(number: int) -> str:
    if number % 100 in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")


# A lone S after a number and a list's comma or conjunction, followed by the list's next
# comma or conjunction, a closing mark or the line's end: "3, 4 and S, up", "1, S or 7".
_LIST_JOIN = r"(?:,| and| AND| or| OR| &)"
_FIVE_IN_LIST = re.compile(rf"(?<=\d){_LIST_JOIN},? S(?=[,;)]|{_LIST_JOIN} |\s*$)")


def fives_in_lists(chars: Sequence[DecodedChar]) -> list[DecodedChar]:
    """`chars` with a lone S that goes on a list of numbers read as 5 ("ROOMS 3, 4 AND S").

    Letterhead and typewriter faces draw 5 with a flat top that the network reads as an S,
    sure of it; a letter S standing alone right after a number and a list's comma or
    conjunction, and followed by the list's next one or its end, is no word and no initial
    (an initial takes its stop).
    """
    out = list(chars)
    for match in _FIVE_IN_LIST.finditer(indexed_text(chars)):
        i = match.end() - 1
        out[i] = _read_as(out[i], "5")
    return out


# What follows an apostrophe inside a word: n't, 's, 'd, 'm, 'll, 're, 've, o'clock.
_CONTRACTION = re.compile(r"(?<=[^\W\d_])['’] (?=(?:t|s|d|m|ll|re|ve|clock)(?![^\W\d_]))")


def contractions_joined(chars: Sequence[DecodedChar]) -> list[DecodedChar]:
    """`chars` without the space read between a contraction's apostrophe and its ending
    ("doesn’ t", "o' clock").

    A typewriter gives the apostrophe a whole character's width, so the gap after it is as
    wide as a space, and the network reads one. These endings are no words of their own
    ("t", "ll", "clock" after an apostrophe), while a closing quote or a plural possessive
    ("the boys' games") is followed by a word, which keeps its space.
    """
    drop = {match.end() - 1 for match in _CONTRACTION.finditer(indexed_text(chars))}
    return [ch for i, ch in enumerate(chars) if i not in drop]
