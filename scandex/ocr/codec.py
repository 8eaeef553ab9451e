"""The recognizer's alphabet: which output class means which character.

Class 0 is the CTC blank. Text is normalized before encoding so that training targets and
recognizer output use one spelling: Unicode NFC, ligatures expanded, odd spaces made plain.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

ASCII_PRINTABLE = "".join(chr(c) for c in range(32, 127))
TYPOGRAPHIC = "‘’“”–—…§°£€¢¥©®™•¶†‡½¼¾×÷±µ«»¡¿"
ACCENTED = "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿßœÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝŒ"
DEFAULT_ALPHABET = ASCII_PRINTABLE + TYPOGRAPHIC + ACCENTED

# Characters that are written differently but read the same; the recognizer emits the right side.
_EQUIVALENTS = {
    "\u00a0": " ",  # no-break space
    "\u2009": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\t": " ",
    "\ufb00": "ff",
    "\ufb01": "fi",
    "\ufb02": "fl",
    "\ufb03": "ffi",
    "\ufb04": "ffl",
    "\u2010": "-",  # hyphen
    "\u2011": "-",
    "\u2212": "-",  # minus sign
    "\u201a": ",",
    "\u2032": "'",  # prime
    "\u2033": '"',
    "\u00ad": "",  # soft hyphen
    "\u200b": "",
}


def normalize_text(text: str) -> str:
    """One spelling for ground truth and output: NFC, no ligatures, single plain spaces."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(_EQUIVALENTS.get(ch, ch) for ch in text)
    return " ".join(text.split())


@dataclass(frozen=True)
class Codec:
    """Maps characters to class indices 1..N (0 is the CTC blank) and back."""

    alphabet: str = DEFAULT_ALPHABET

    def __post_init__(self) -> None:
        if len(set(self.alphabet)) != len(self.alphabet):
            raise ValueError("alphabet has duplicate characters")

    @property
    def num_classes(self) -> int:
        return len(self.alphabet) + 1

    @property
    def _index(self) -> dict[str, int]:
        # Rebuilt on demand; callers that encode in a loop should use `encode` on whole texts.
        return {ch: i + 1 for i, ch in enumerate(self.alphabet)}

    def can_encode(self, text: str) -> bool:
        index = self._index
        return all(ch in index for ch in text)

    def encode(self, text: str) -> list[int]:
        """Class indices of `text` (already normalized); unknown characters raise KeyError."""
        index = self._index
        return [index[ch] for ch in text]

    def decode(self, labels: Sequence[int]) -> str:
        return "".join(self.alphabet[i - 1] for i in labels if i > 0)

    def char(self, label: int) -> str:
        return self.alphabet[label - 1] if label > 0 else ""
