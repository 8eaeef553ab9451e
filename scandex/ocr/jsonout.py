"""The JSON form of a result (`scandex ocr --format jsonl`): plain dicts, lists, numbers, text.

    {"path", "seconds"?, "pages": [{"page", "width", "height", "angle", "lines": [{"bbox":
     [x0, y0, x1, y1], "text", "confidence", "words": [{"bbox", "text", "confidence",
     "alternatives"?}]}]}]}

A word's "alternatives" (other readings, e.g. the recognizer's own where the lexicon replaced
it) appear only when it has some.

Boxes are original-image pixels (x1, y1 exclusive), confidences 0..1, angles degrees
counter-clockwise; lines are in reading order.
"""

from __future__ import annotations

from typing import Any

from scandex.page import Document, Line, Page, Word

__all__ = ["document_to_dict", "page_to_dict"]

_CONFIDENCE_DECIMALS = 4
_ANGLE_DECIMALS = 3


def document_to_dict(doc: Document, *, seconds: float | None = None) -> dict[str, Any]:
    """The document as a JSON-ready dict; `seconds` (time taken) is included when given."""
    out: dict[str, Any] = {"path": doc.path}
    if seconds is not None:
        out["seconds"] = round(seconds, 3)
    out["pages"] = [page_to_dict(page) for page in doc.pages]
    return out


def page_to_dict(page: Page) -> dict[str, Any]:
    return {
        "page": page.number,
        "width": page.width,
        "height": page.height,
        "angle": round(page.angle_deg, _ANGLE_DECIMALS),
        "lines": [_line(line) for line in page.lines],
    }


def _line(line: Line) -> dict[str, Any]:
    return {
        "bbox": line.bbox.as_list(),
        "text": line.text,
        "confidence": round(line.confidence, _CONFIDENCE_DECIMALS),
        "words": [_word(word) for word in line.words],
    }


def _word(word: Word) -> dict[str, Any]:
    out: dict[str, Any] = {
        "bbox": word.bbox.as_list(),
        "text": word.text,
        "confidence": round(word.confidence, _CONFIDENCE_DECIMALS),
    }
    if word.alternatives:
        out["alternatives"] = list(word.alternatives)
    return out
