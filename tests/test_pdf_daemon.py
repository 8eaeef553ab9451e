"""PDFs in watched folders: read page by page by the real engine, searchable, a failed page
shown by `scandex status`, encrypted files failed at once, and the searchable PDF written,
moved and deleted with its scan, and turned on and off by a reload."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import subprocess
from pathlib import Path

import pdfs
import pikepdf
import pytest
from daemon_harness import (
    PageSizeEngine,
    daemon,
    make_config,
    record,
    scan_png,
    search_paths,
    state_of,
)
from polling import wait_for

from scandex.config import OutputConfig
from scandex.daemon.filters import FilterRules, is_scan
from scandex.daemon.reindex import reindex
from scandex.daemon.searchable_pdfs import is_scandex_pdf
from scandex.daemon.state import DONE, FAILED
from scandex.daemon.status import format_status, read_status
from scandex.daemon.worker import scandex_engine
from scandex.ocr.hocr import read_hocr_file

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


def test_own_searchable_pdfs_are_never_scans() -> None:
    rules = FilterRules(("*.pdf",))
    root = Path("/scans")
    assert is_scan(root / "letter.pdf", root, rules)
    assert not is_scan(root / "letter.ocr.pdf", root, rules)
    assert not is_scan(root / "LETTER.OCR.PDF", root, rules)


def test_pdfs_in_a_watched_folder(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    config = dataclasses.replace(config, output=OutputConfig(pdf=True))
    scans = config.watch.paths[0]
    page = pdfs.small_scan(5, dpi=150)
    document = pdfs.joined(
        pdfs.born_digital([("Quarterly report of the harbour board", 72, 700, 18)]),
        pdfs.edited(
            pdfs.scans_pdf([pdfs.encode(page.image, "png", 150)] * 2),
            p1={"/MediaBox": [0, 0, 14400, 14400]},
        ),
    )
    with daemon(config, scandex_engine, maker=True):
        (scans / "report.pdf").write_bytes(document)
        (scans / "locked.pdf").write_bytes(pdfs.encrypted(document))
        # A PDF cut short (a scanner that stopped writing) fails until it is complete.
        born = pdfs.born_digital([("Minutes of the Zanzibar meeting", 72, 700, 18)])
        (scans / "growing.pdf").write_bytes(pdfs.truncated(born))
        done = wait_for(
            lambda: (r := record(config, scans / "report.pdf")) and r.state == DONE and r,
            "report.pdf to be read",
            timeout_seconds=240,
        )
        # Page 2 is too large; pages 1 (its own text) and 3 (OCRed) are read and searchable.
        assert done.last_error.startswith("page 2: too many pixels")
        hocr = read_hocr_file(scans / "report.hocr")
        assert [p.number for p in hocr.pages] == [1, 3]
        assert hocr.pages[0].lines[0].text == "Quarterly report of the harbour board"
        assert hocr.pages[1].size_pt == (612.0, 504.0) and hocr.pages[1].lines
        assert search_paths(config, "harbour") == {str(scans / "report.pdf")}
        first_word = next(w for w in page.lines[0].text.split() if len(w) > 3)
        assert str(scans / "report.pdf") in search_paths(config, first_word)
        report = read_status(config)
        assert report["partly_read"][0]["path"] == str(scans / "report.pdf")
        assert "read in part:" in format_status(report)
        # Encrypted: failed at once, not retried.
        locked = wait_for(
            lambda: (r := record(config, scans / "locked.pdf")) and r.state == FAILED and r,
            "locked.pdf to fail",
        )
        assert "skipped: the PDF is encrypted" in locked.last_error and locked.attempts == 1
        cut = wait_for(
            lambda: (r := record(config, scans / "growing.pdf")) and r.state == FAILED and r,
            "growing.pdf to fail while cut short",
        )
        assert "truncated PDF" in cut.last_error
        (scans / "growing.pdf").write_bytes(born)
        wait_for(lambda: state_of(config, scans / "growing.pdf") == DONE, "growing.pdf, complete")
        assert search_paths(config, "zanzibar") == {str(scans / "growing.pdf")}
        # The searchable PDF: beside the hOCR, scandex's, never read as a scan.
        searchable = scans / "report.ocr.pdf"
        assert is_scandex_pdf(searchable)
        if shutil.which("pdftotext"):
            text = subprocess.run(
                ["pdftotext", str(searchable), "-"], capture_output=True, text=True, check=True
            ).stdout
            assert "harbour" in text and first_word in text
        assert record(config, searchable) is None
    # reindex rebuilds the same index from the hOCR beside the PDF (the daemon stopped first).
    problems: list[tuple[Path, str]] = []
    rebuilt = reindex(
        config, on_ignored=lambda *a: problems.append(a), on_error=lambda *a: problems.append(a)
    )
    assert rebuilt.documents == 2 and not problems
    assert search_paths(config, "harbour") == {str(scans / "report.pdf")}
    with daemon(config, scandex_engine, maker=True):
        # Moved with its scan, deleted with it.
        (scans / "sub").mkdir()
        (scans / "report.pdf").rename(scans / "sub" / "moved.pdf")
        wait_for(
            lambda: (scans / "sub" / "moved.ocr.pdf").exists() and not searchable.exists(),
            "the searchable PDF to move with its scan",
        )
        (scans / "sub" / "moved.pdf").unlink()
        wait_for(
            lambda: not (scans / "sub" / "moved.ocr.pdf").exists(),
            "the searchable PDF to be deleted with its scan",
        )


def test_a_reload_turns_searchable_pdfs_on_and_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(tmp_path)
    scans = config.watch.paths[0]
    loaded = [config]
    engine = PageSizeEngine(str(tmp_path / "calls"))

    def read(name: str, seed: int) -> Path:
        scan = scans / name
        scan.write_bytes(scan_png(seed))
        wait_for(lambda: state_of(config, scan) == DONE, name)
        return scan.with_name(scan.stem + ".ocr.pdf")

    with (
        caplog.at_level(logging.INFO, logger="scandex"),
        daemon(config, engine, load=lambda: loaded[0]) as running,
    ):
        assert not read("before.png", 1).exists()
        # SIGHUP with [output] pdf and pdfa on: the next file gets its PDF/A, no restart.
        loaded[0] = dataclasses.replace(config, output=OutputConfig(pdf=True, pdfa=True))
        running.reload.set()
        wait_for(lambda: "searchable PDFs on (PDF/A-2b)" in caplog.text, "the reload")
        during = read("during.png", 2)
        assert is_scandex_pdf(during)
        with pikepdf.open(during) as pdf:
            assert pdf.open_metadata().pdfa_status == "2B"
        assert is_scandex_pdf(read("twin.png", 2))  # an identical copy: its OCR and PDF copied
        # And off again: for new scans, and for an identical copy of one that has a PDF.
        loaded[0] = config
        running.reload.set()
        wait_for(lambda: "searchable PDFs off" in caplog.text, "the second reload")
        assert not read("after.png", 3).exists()
        assert not read("during-copy.png", 2).exists()
        assert "reused its OCR" in caplog.text
    # Files read before a reload are not read again for it.
    assert not (scans / "before.ocr.pdf").exists() and during.exists()
    assert "Traceback" not in caplog.text
