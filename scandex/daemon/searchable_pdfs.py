"""The searchable PDF the daemon writes for a scan (`[output] pdf = true`), and its rules.

- It lies beside the scan's hOCR (so in state_dir/hocr when the hOCR had to go there) and is
  named like it: `scan.hocr` -> `scan.ocr.pdf`, `scan.jpg.hocr` -> `scan.jpg.ocr.pdf`. Its
  place is a function of the hOCR's, which the state database records, so no second record
  can disagree with the first.
- scandex writes, moves and deletes only PDFs it wrote (their document information carries
  /ScandexTextLayer), and never writes over the scan itself; a file of that name that is not
  scandex's is kept as it is, and the scan gets no PDF (the reason is recorded).
- Nothing named `*.ocr.pdf` is read as a scan (daemon.filters.OWN_OUTPUTS).
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
from pathlib import Path

from scandex.atomic import atomic_write
from scandex.page import Document

log = logging.getLogger("scandex.daemon")

SUFFIX = ".ocr.pdf"


def pdf_beside(hocr_path: str | Path) -> Path:
    """Where the searchable PDF of the scan whose hOCR is `hocr_path` goes."""
    hocr = Path(hocr_path)
    return hocr.with_name(hocr.stem + SUFFIX)


def is_scandex_pdf(path: Path) -> bool:
    """True when `path` is a regular file (not a link) that scandex wrote as a searchable PDF."""
    from scandex.pdf.writer import written_by_scandex

    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return False
    except OSError:
        return False
    return written_by_scandex(path)


def write_pdf(
    data: bytes,
    doc: Document,
    text_pages: set[int],
    hocr_path: Path,
    scan: Path,
    *,
    pdfa: bool = False,
) -> str:
    """Write the scan's searchable PDF beside its hOCR; returns why it was not written, or ''.

    `data` is the scan's content, `text_pages` the PDF pages read from their own text (they
    keep it and get no layer).
    """
    import scandex
    from scandex.pdf.writer import searchable_pdf

    target = pdf_beside(hocr_path)
    if target.absolute() == scan.absolute():
        return f"searchable PDF not written: {target} is the scan itself"
    if os.path.lexists(target) and not is_scandex_pdf(target):
        return f"searchable PDF not written: {target} exists and was not written by scandex"
    pages = [page for page in doc.pages if page.number not in text_pages]
    try:
        pdf = searchable_pdf(data, pages, version=f"scandex {scandex.__version__}", pdfa=pdfa)
        atomic_write(target, lambda out: out.write(pdf))
    except OSError as exc:
        return f"searchable PDF not written: {target}: {exc.strerror or exc}"
    except Exception as exc:  # a writer failure must not lose the hOCR and the index
        return f"searchable PDF not written: {type(exc).__name__}: {exc}"
    return ""


def delete_pdf(hocr_path: str | Path | None) -> str | None:
    """Delete the searchable PDF beside `hocr_path` if scandex wrote it; returns its path."""
    if not hocr_path:
        return None
    target = pdf_beside(hocr_path)
    if not is_scandex_pdf(target):
        return None
    try:
        os.unlink(target)
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot delete %s: %s", target, exc.strerror)
        return None
    return str(target)


def carry_pdf(old_hocr: str | None, new_hocr: str | Path, *, keep_old: bool) -> None:
    """The searchable PDF follows its scan's hOCR: moved (a renamed scan) or copied (an
    identical copy of a scan), when scandex wrote it and nothing else has the new name."""
    if not old_hocr:
        return
    source, target = pdf_beside(old_hocr), pdf_beside(new_hocr)
    if source == target or not is_scandex_pdf(source):
        return
    if os.path.lexists(target) and not is_scandex_pdf(target):
        return
    # Copied and then removed, not renamed: the two places may be on different file systems
    # (a scan's folder and state_dir/hocr).
    try:
        with open(source, "rb") as original:
            atomic_write(target, lambda out: shutil.copyfileobj(original, out))
        if not keep_old:
            os.unlink(source)
    except OSError as exc:
        log.warning("cannot %s %s to %s: %s", "copy" if keep_old else "move", source, target, exc)
