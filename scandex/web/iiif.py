"""IIIF documents for one scan, so standard viewers (Mirador, Universal Viewer) can show it.

- Presentation API 3.0 manifest: one Canvas per page, sized in the page's own pixels (the
  pixels every scandex box is given in), painted with the site's page image.
- Content Search API 2.0: an AnnotationPage with one "painting" annotation per hit word,
  targeting `canvas#xywh=x,y,w,h` in canvas pixels, and a "contextualizing" annotation per
  hit with the words around it (TextQuoteSelector prefix, exact, suffix).
- Content Search API 1.0, which Mirador 3 and 4 read: an sc:AnnotationList of the same hit
  words, with search:Hit entries carrying before/match/after.

Pure functions over scandex's search results; the caller supplies the URLs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from scandex.indexer import HitLine, HitWord, SearchHit
from scandex.page import BBox

PRESENTATION_3 = "http://iiif.io/api/presentation/3/context.json"
PRESENTATION_2 = "http://iiif.io/api/presentation/2/context.json"
SEARCH_2 = "http://iiif.io/api/search/2/context.json"
SEARCH_1 = "http://iiif.io/api/search/1/context.json"
SEARCH_1_PROFILE = "http://iiif.io/api/search/1/search"
# Words of context on each side of a hit in search results.
CONTEXT_CHARS = 40

Json = dict[str, Any]


@dataclass(frozen=True)
class Canvas:
    page: int
    width: int  # the page's pixels: canvas coordinates are original-image coordinates
    height: int
    image_url: str
    image_width: int  # the served image, scaled down
    image_height: int


@dataclass(frozen=True)
class ManifestUrls:
    manifest: str
    canvas: Callable[[int], str]  # page number -> canvas id
    search: str  # Content Search 2.0 service
    search_v1: str  # Content Search 1.0 service


def manifest(urls: ManifestUrls, label: str, canvases: Iterable[Canvas]) -> Json:
    """The Presentation 3.0 manifest of one scan."""
    items = []
    for canvas in canvases:
        canvas_id = urls.canvas(canvas.page)
        items.append(
            {
                "id": canvas_id,
                "type": "Canvas",
                "label": {"none": [f"p. {canvas.page}"]},
                "width": canvas.width,
                "height": canvas.height,
                "items": [
                    {
                        "id": f"{canvas_id}/page",
                        "type": "AnnotationPage",
                        "items": [
                            {
                                "id": f"{canvas_id}/image",
                                "type": "Annotation",
                                "motivation": "painting",
                                "body": {
                                    "id": canvas.image_url,
                                    "type": "Image",
                                    "format": "image/jpeg",
                                    "width": canvas.image_width,
                                    "height": canvas.image_height,
                                },
                                "target": canvas_id,
                            }
                        ],
                    }
                ],
            }
        )
    return {
        "@context": PRESENTATION_3,
        "id": urls.manifest,
        "type": "Manifest",
        "label": {"none": [label]},
        "items": items,
        "service": [
            {"id": urls.search, "type": "SearchService2"},
            # Presentation 3 names services of older specifications with @id and @type.
            {"@id": urls.search_v1, "@type": "SearchService1", "profile": SEARCH_1_PROFILE},
        ],
    }


@dataclass(frozen=True)
class _Match:
    id: str
    page: int
    word: HitWord
    before: str
    after: str


def _matches(
    hits: Mapping[int, SearchHit], annotation: Callable[[int, int, int], str]
) -> list[_Match]:
    matches = []
    for page in sorted(hits):
        for line_no, line in enumerate(hits[page].lines):
            for word_no, (word, before, after) in enumerate(_in_context(line)):
                matches.append(
                    _Match(annotation(page, line_no, word_no), page, word, before, after)
                )
    return matches


def _in_context(line: HitLine) -> list[tuple[HitWord, str, str]]:
    """Each hit word of `line` with the line's text before and after it."""
    found = []
    cursor = 0
    for word in line.words:
        at = line.text.find(word.text, cursor) if word.text else -1
        if at < 0:
            found.append((word, "", ""))
            continue
        cursor = at + len(word.text)
        found.append((word, line.text[:at][-CONTEXT_CHARS:], line.text[cursor:][:CONTEXT_CHARS]))
    return found


def _xywh(box: BBox) -> str:
    return f"xywh={box.x0},{box.y0},{box.width},{box.height}"


def search_v2(
    request_url: str,
    hits: Mapping[int, SearchHit],
    canvas: Callable[[int], str],
    annotation: Callable[[int, int, int], str],
    ignored: Iterable[str] = (),
) -> Json:
    """A Content Search 2.0 AnnotationPage for the hits in one scan, keyed by page number;
    `ignored`: the request's parameters the search did not use (the spec asks for them)."""
    matches = _matches(hits, annotation)
    items = [
        {
            "id": match.id,
            "type": "Annotation",
            "motivation": "painting",
            "body": {"type": "TextualBody", "value": match.word.text, "format": "text/plain"},
            "target": f"{canvas(match.page)}#{_xywh(match.word.bbox)}",
        }
        for match in matches
    ]
    context = [
        {
            "id": f"{match.id}/context",
            "type": "Annotation",
            "motivation": "contextualizing",
            "target": {
                "type": "SpecificResource",
                "source": match.id,
                "selector": [
                    {
                        "type": "TextQuoteSelector",
                        "prefix": match.before,
                        "exact": match.word.text,
                        "suffix": match.after,
                    }
                ],
            },
        }
        for match in matches
    ]
    answer: Json = {
        "@context": [PRESENTATION_3, SEARCH_2],
        "id": request_url,
        "type": "AnnotationPage",
        **({"ignored": list(ignored)} if ignored else {}),
        "items": items,
        "annotations": [
            {
                "type": "AnnotationPage",
                "partOf": {"id": request_url, "type": "AnnotationCollection", "total": len(items)},
                "items": context,
            }
        ],
    }
    return answer


def search_v1(
    request_url: str,
    hits: Mapping[int, SearchHit],
    canvas: Callable[[int], str],
    annotation: Callable[[int, int, int], str],
    ignored: Iterable[str] = (),
) -> Json:
    """A Content Search 1.0 AnnotationList for the hits in one scan, keyed by page number."""
    matches = _matches(hits, annotation)
    within: Json = {"@type": "sc:Layer", "total": len(matches)}
    if ignored:
        within["ignored"] = list(ignored)
    return {
        "@context": [PRESENTATION_2, SEARCH_1],
        "@id": request_url,
        "@type": "sc:AnnotationList",
        "within": within,
        "resources": [
            {
                "@id": match.id,
                "@type": "oa:Annotation",
                "motivation": "sc:painting",
                "resource": {"@type": "cnt:ContentAsText", "chars": match.word.text},
                "on": f"{canvas(match.page)}#{_xywh(match.word.bbox)}",
            }
            for match in matches
        ],
        "hits": [
            {
                "@type": "search:Hit",
                "annotations": [match.id],
                "match": match.word.text,
                "before": match.before,
                "after": match.after,
            }
            for match in matches
        ],
    }
