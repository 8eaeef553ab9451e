"""A PDF through the OCR: each page OCRed from its image, or read from its own text.

`ocr_pdf` chains the reader and the OCR engine page by page, so one page's pixels are in
memory at a time, and a page that fails is reported with its number while the others go on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from scandex.errors import ScanError, SegmentationError
from scandex.page import Document, Page
from scandex.pdf.reader import PageFailure, PdfParams, read_pdf

__all__ = ["PdfResult", "ocr_pdf"]


@dataclass(frozen=True)
class PdfResult:
    document: Document  # the pages that were read, in order (failed ones left out)
    failures: tuple[PageFailure, ...] = ()
    sources: tuple[str, ...] = ()  # per page of `document`: "image", "render" or "text"

    @property
    def failure_summary(self) -> str:
        """One line naming each failed page and why: 'page 2: too many pixels ...'."""
        return "; ".join(f"page {f.number}: {f.reason}" for f in self.failures)


def ocr_pdf(
    data: bytes,
    name: str,
    *,
    params=None,
    pdf: PdfParams = PdfParams(),
    recognizer=None,
) -> PdfResult:
    """OCR every page of the PDF in `data` (`params`: scandex.ocr.OcrParams).

    Raises ScanError(name, reason) when the file as a whole cannot be read, or when no page
    could be read (the reason names each page's failure).
    """
    from scandex.ocr import OcrParams, get_recognizer, ocr_image

    params = params or OcrParams()
    pages: list[Page] = []
    sources: list[str] = []
    failures: list[PageFailure] = []
    for item in read_pdf(data, name, pdf):
        if isinstance(item, PageFailure):
            failures.append(item)
            continue
        if item.text is not None:
            page = item.text
        else:
            assert item.gray is not None
            if recognizer is None:
                recognizer = get_recognizer(
                    params.model, params.threads, params.lexicon, params.reread
                )
            try:
                page = ocr_image(
                    item.gray,
                    number=item.number,
                    dpi=item.dpi,
                    params=params,
                    recognizer=recognizer,
                )
            except (ScanError, SegmentationError) as error:
                failures.append(PageFailure(item.number, getattr(error, "reason", str(error))))
                continue
        pages.append(dataclasses.replace(page, size_pt=_rounded(item.size_pt)))
        sources.append(item.source)
    result = PdfResult(Document(name, tuple(pages)), tuple(failures), tuple(sources))
    if not pages:
        raise ScanError(name, f"no page could be read: {result.failure_summary}")
    return result


def _rounded(size_pt: tuple[float, float]) -> tuple[float, float]:
    return round(size_pt[0], 2), round(size_pt[1], 2)
