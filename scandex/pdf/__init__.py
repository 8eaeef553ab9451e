"""PDF in, searchable PDF out.

reader (pages of a PDF as images to OCR, or as their own text), ocr (`ocr_pdf`: a PDF through
the OCR engine, page by page), writer (`searchable_pdf`: an invisible text layer on the
original pages, or on the original images embedded as they are), frame (where a page's
pixels lie on the PDF page). pikepdf and pypdfium2 are imported by these modules only.
"""

from scandex.pdf.reader import PageFailure, PdfPage, PdfParams, is_pdf, read_pdf

__all__ = ["PageFailure", "PdfPage", "PdfParams", "is_pdf", "read_pdf"]
