"""`scandex ocr`: recognize images (pages or single lines) and print text, hOCR or JSON."""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from scandex.cli.app import app, error
from scandex.errors import ExitCode, ScandexError, UsageError
from scandex.lexicons import DEFAULT_LANGUAGES
from scandex.memory import keep_freed_memory

if TYPE_CHECKING:
    from scandex.ocr.lexicon import LexiconParams


class OcrFormat(StrEnum):
    text = "text"
    hocr = "hocr"
    jsonl = "jsonl"


class PdfText(StrEnum):
    auto = "auto"
    ocr = "ocr"
    text = "text"


def _params(job: _Job):
    from scandex.ocr import OcrParams

    return OcrParams(model=job.model, columns=job.columns, lexicon=job.lexicon, reread=job.reread)


def _line_record(path: Path, model: Path | None, lexicon: LexiconParams, reread: bool) -> dict:
    """Recognize an image file (its first page) as one text line."""
    from scandex.ocr import get_recognizer
    from scandex.ocr.io import load_pages

    first_page = load_pages(path)[0]
    result = get_recognizer(model, 1, lexicon, reread).recognize([first_page.gray])[0]
    return {
        "path": str(path),
        "text": result.text,
        "confidence": round(result.confidence, 4),
        "words": [
            {"text": w.text, "alternatives": list(w.alternatives)}
            if w.alternatives
            else {"text": w.text}
            for w in result.words
        ],
        "chars": [
            {
                "char": c.text,
                "confidence": round(c.confidence, 4),
                "x0": round(c.x0, 1),
                "x1": round(c.x1, 1),
                "alternatives": [[alt, round(p, 4)] for alt, p in c.alternatives],
            }
            for c in result.chars
        ],
    }


@dataclass(frozen=True)
class _Job:
    path: str
    model: Path | None
    lexicon: LexiconParams
    columns: int | None = None
    write: bool = False
    line: bool = False
    hocr_path: str | None = None  # with --write: where the daemon's rules put it
    fallback_hocr_path: str | None = None  # ... and where when it cannot go there
    model_id: str | None = None  # "NAME sha256:HEX", named in the hOCR
    pdf_out: str | None = None  # --pdf: write a searchable PDF here
    pdfa: bool = False  # --pdfa
    pdf_text: str = "auto"  # ocr.pdf_text, for PDF input
    pdf_dpi: float = 300.0  # ocr.pdf_dpi
    pdf_beside: bool = False  # --write with [output] pdf: the daemon's searchable PDF too
    reread: bool = True  # --reread / --no-reread


@dataclass(frozen=True)
class _Outcome:
    error: str | None = None  # one-line message when the file failed
    record: dict = field(default_factory=dict)  # JSON-ready result
    hocr: str = ""
    page_errors: tuple[str, ...] = ()  # "PATH: page N: reason" for each PDF page that failed
    notice: str = ""  # with --write: why the hOCR went to state_dir/hocr


def _run_job(job: _Job) -> _Outcome:
    """OCR one file (in a worker process when --jobs > 1); errors become an outcome."""
    path = Path(job.path)
    try:
        if job.line:
            return _Outcome(record=_line_record(path, job.model, job.lexicon, job.reread))
        from scandex.ocr.hocr import to_hocr
        from scandex.ocr.jsonout import document_to_dict

        started = time.perf_counter()
        doc, data, text_pages, page_errors = _read_and_ocr(path, job)
        seconds = time.perf_counter() - started
        if job.pdf_out is not None:
            _write_pdf(data, doc, text_pages, Path(job.pdf_out), pdfa=job.pdfa)
        hocr, notice = "", ""
        if job.write:
            written, notice = _write_hocr(doc, job)
            if job.pdf_beside:
                page_errors += _write_pdf_beside(data, doc, text_pages, written, job)
        else:
            hocr = to_hocr(doc, hocr_dir=path.parent, model=job.model_id)
        record = document_to_dict(doc, seconds=seconds)
        return _Outcome(record=record, hocr=hocr, page_errors=page_errors, notice=notice)
    except ScandexError as exc:
        return _Outcome(error=str(exc))
    except MemoryError:
        return _Outcome(error=f"{path}: out of memory while processing this image")
    except OSError as exc:  # writing: a full disk, say
        where = f" {exc.filename}" if exc.filename else ""
        return _Outcome(error=f"{path}: cannot write{where}: {exc.strerror or exc}")


def _write_hocr(doc, job: _Job) -> tuple[Path, str]:
    """--write: the hOCR where the daemon would put it, or in state_dir/hocr where it does
    (a folder we may not write, hOCR scandex did not write); (where it went, why there)."""
    from scandex.daemon.hocr_files import ScandexHocr, write_hocr_with_fallback

    assert job.hocr_path is not None and job.fallback_hocr_path is not None
    written, reason = write_hocr_with_fallback(
        doc, ScandexHocr(), Path(job.hocr_path), Path(job.fallback_hocr_path), job.model_id
    )
    assert written is not None  # there is a fallback
    return written, f"{job.path}: {reason}; hOCR written to {written} instead" if reason else ""


def _read_and_ocr(path: Path, job: _Job):
    """(document, the file's bytes, numbers of PDF pages read from their own text, errors of
    PDF pages that failed); an image's bytes are read only when a searchable PDF needs them."""
    from scandex.ocr import ocr_file
    from scandex.pdf.reader import PdfParams, is_pdf

    with _open_scan(path) as handle:
        head = handle.read(5)
    if not is_pdf(head):
        doc = ocr_file(path, _params(job))
        wanted = job.pdf_out is not None or job.pdf_beside
        return doc, _read_bytes(path) if wanted else b"", set(), ()
    from scandex.pdf.ocr import ocr_pdf

    params = _params(job)
    pdf = PdfParams(job.pdf_text, job.pdf_dpi, params.max_pixels)
    data = _read_bytes(path)
    result = ocr_pdf(data, str(path), params=params, pdf=pdf)
    text_pages = {
        page.number
        for page, source in zip(result.document.pages, result.sources, strict=True)
        if source == "text"
    }
    errors = tuple(f"{path}: page {f.number}: {f.reason}" for f in result.failures)
    return result.document, data, text_pages, errors


def _open_scan(path: Path):
    from scandex.errors import ScanError

    try:
        return path.open("rb")
    except FileNotFoundError:
        raise ScanError(path, "file not found") from None
    except IsADirectoryError:
        raise ScanError(path, "is a directory, not an image file") from None
    except OSError as exc:
        raise ScanError(path, f"cannot read the file: {exc.strerror or exc}") from None


def _read_bytes(path: Path) -> bytes:
    with _open_scan(path) as handle:
        return handle.read()


def _write_pdf(data: bytes, doc, text_pages: set[int], out: Path, *, pdfa: bool) -> None:
    """--pdf: the searchable PDF, written atomically (pages with their own text as they are)."""
    import scandex
    from scandex.atomic import atomic_write
    from scandex.pdf.writer import searchable_pdf

    pages = [page for page in doc.pages if page.number not in text_pages]
    pdf = searchable_pdf(data, pages, version=f"scandex {scandex.__version__}", pdfa=pdfa)
    atomic_write(out, lambda file: file.write(pdf))


def _write_pdf_beside(
    data: bytes, doc, text_pages: set[int], hocr_path: Path, job: _Job
) -> tuple[str, ...]:
    """--write with [output] pdf: the searchable PDF beside the hOCR, by the daemon's rules."""
    from scandex.daemon.searchable_pdfs import write_pdf

    problem = write_pdf(data, doc, text_pages, hocr_path, Path(job.path), pdfa=job.pdfa)
    return (f"{job.path}: {problem}",) if problem else ()


@app.command()
def ocr(
    images: list[Path] = typer.Argument(..., help="Scans: PDF, PNG, JPEG, TIFF, PNM, WebP."),
    line: bool = typer.Option(False, "--line", help="Treat each image as one text line."),
    output_format: OcrFormat = typer.Option(OcrFormat.text, "--format", help="Output format."),
    write: bool = typer.Option(
        False,
        "--write",
        help="Write hOCR next to each image instead of printing, as the daemon does "
        "(ocr.hocr_name; <name>.hocr for a second image of one stem; in state_dir/hocr "
        "instead of over hOCR that scandex did not write or in a folder it may not write), "
        "and its searchable <stem>.ocr.pdf when [output] pdf is on.",
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        help="Config file for --write's ocr.hocr_name (default: $SCANDEX_CONFIG, ./config.toml).",
    ),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Files processed in parallel."),
    model: Path | None = typer.Option(None, help="Recognition model (.onnx); default: built-in."),
    columns: int | None = typer.Option(
        None, min=1, help="Force this many text columns instead of detecting them."
    ),
    lexicon: bool = typer.Option(
        True, "--lexicon/--no-lexicon", help="Check uncertain words against word lists."
    ),
    reread: bool = typer.Option(
        True,
        "--reread/--no-reread",
        help="Read a line the network is unsure of again, moved, and let the readings vote "
        "(about a tenth slower).",
    ),
    languages: list[str] = typer.Option(
        list(DEFAULT_LANGUAGES),
        "--language",
        help="Word list to use (repeatable): en, fr, de, es; each line uses that of the "
        "language its words are in.",
    ),
    words: Path | None = typer.Option(
        None, "--words", help="Your own words (names, places), one per line."
    ),
    pdf_out: Path | None = typer.Option(
        None,
        "--pdf",
        help="Also write a searchable PDF of the (one) scan here: the scan as it was, with an "
        "invisible text layer.",
    ),
    pdfa: bool = typer.Option(
        False, "--pdfa", help="Make the --pdf file PDF/A-2b (for scans from image files)."
    ),
    pdf_text: PdfText | None = typer.Option(
        None,
        "--pdf-text",
        help="PDF pages with their own text: auto (use it when it covers the page), ocr, or "
        "text (never OCR). Default: ocr.pdf_text, auto.",
    ),
) -> None:
    """OCR scans and print their text in reading order.

    Examples: `scandex ocr scan.png`, `scandex ocr --format hocr scan.tif > scan.hocr`,
    `scandex ocr --write --jobs 2 scans/*.jpg`, `scandex ocr --line line.png --format jsonl`,
    `scandex ocr --pdf letter.ocr.pdf letter.pdf`.
    """
    from scandex.daemon.models import model_ref
    from scandex.lexicons import available_languages
    from scandex.ocr.lexicon import LexiconParams

    for language in languages:
        if language not in available_languages():
            raise UsageError(
                f"--language {language}: no word list (available: "
                f"{', '.join(available_languages())})"
            )
    if words is not None and not words.is_file():
        raise UsageError(f"--words {words}: file not found")
    lexicon_params = LexiconParams(lexicon, tuple(languages), words)
    if pdf_out is not None:
        _check_pdf_out(pdf_out, images, line)
    text_mode, pdf_dpi, pdf_beside, pdfa_beside = _pdf_settings(
        config, config is not None or write, pdf_text
    )
    if model is not None or words is not None:
        from scandex.ocr import get_recognizer

        # A bad model or word list is one clear error, not one per file; in-process jobs
        # reuse this load.
        get_recognizer(model, 1, lexicon_params, reread)
    model_id = model_ref(model).id  # named in the hOCR, as the daemon names it
    destinations: list[tuple[Path, Path] | str | None] = [None] * len(images)
    if write and not line:
        destinations = list(_hocr_destinations(images, config))
    failed = 0
    jobs_list = []
    for image, destination in zip(images, destinations, strict=True):
        if isinstance(destination, str):  # a reason not to write it
            failed += 1
            error(f"{image}: not written: {destination}")
            continue
        hocr_path, fallback = (str(p) for p in destination) if destination else (None, None)
        jobs_list.append(
            _Job(
                str(image),
                model,
                lexicon_params,
                columns,
                write,
                line,
                hocr_path,
                fallback,
                model_id,
                str(pdf_out) if pdf_out is not None else None,
                pdfa or pdfa_beside,
                text_mode,
                pdf_dpi,
                write and pdf_beside,
                reread,
            )
        )
    first_page = True
    show_progress = sys.stderr.isatty() and len(images) > 1
    keep_freed_memory()
    with _executor(jobs) as pool:
        outcomes = pool.map(_run_job, jobs_list) if pool else map(_run_job, jobs_list)
        if show_progress:
            outcomes = typer.progressbar(
                outcomes, length=len(jobs_list), label="OCR", file=sys.stderr
            )
        for outcome in outcomes:
            if outcome.error is not None:
                failed += 1
                error(outcome.error)
                continue
            if outcome.notice:
                typer.echo(f"scandex: {outcome.notice}", err=True)
            for page_error in outcome.page_errors:
                error(page_error)
            failed += bool(outcome.page_errors)
            if line:
                _print_line(outcome.record, output_format)
            elif not write:
                first_page = _print_document(outcome, output_format, first_page)
    raise typer.Exit(ExitCode.FAILED if failed else ExitCode.OK)


def _check_pdf_out(pdf_out: Path, images: list[Path], line: bool) -> None:
    if line:
        raise UsageError("--pdf cannot be used with --line")
    if len(images) != 1:
        raise UsageError(f"--pdf writes one PDF: give one scan, not {len(images)}")
    if pdf_out.exists() and pdf_out.resolve() == images[0].resolve():
        raise UsageError(f"--pdf {pdf_out}: that is the scan itself; name another file")
    if not pdf_out.parent.is_dir():
        raise UsageError(f"--pdf {pdf_out}: folder {pdf_out.parent} does not exist")


def _pdf_settings(
    config: Path | None, use_config: bool, pdf_text: PdfText | None
) -> tuple[str, float, bool, bool]:
    """(ocr.pdf_text, ocr.pdf_dpi, output.pdf, output.pdfa): the flag, else the config file
    (with --config or --write), else the defaults."""
    from scandex.config import Config, load_config

    settings = load_config(config) if use_config else Config()
    text = pdf_text.value if pdf_text is not None else settings.ocr.pdf_text
    return text, settings.ocr.pdf_dpi, settings.output.pdf, settings.output.pdfa


def _hocr_destinations(images: list[Path], config: Path | None) -> list[tuple[Path, Path] | str]:
    """Where --write puts each image's hOCR and where when it cannot go there (or why
    not), by the daemon's rules."""
    from scandex.config import load_config
    from scandex.daemon.hocr_files import HocrPlaces, plan_hocr_writes

    settings = load_config(config)
    places = HocrPlaces(settings.ocr.hocr_name, settings.fallback_hocr_dir)
    plan = plan_hocr_writes(images, places, settings.ocr.max_file_bytes)
    return [p if isinstance(p, str) else (p, places.fallback(p).absolute()) for p in plan]


def _print_line(record: dict, output_format: OcrFormat) -> None:
    if output_format == OcrFormat.jsonl:
        typer.echo(json.dumps(record, ensure_ascii=False))
    else:
        typer.echo(record["text"])


def _print_document(outcome: _Outcome, output_format: OcrFormat, first_page: bool) -> bool:
    """Print one file's result; returns whether the next page printed is the first."""
    if output_format == OcrFormat.jsonl:
        typer.echo(json.dumps(outcome.record, ensure_ascii=False))
    elif output_format == OcrFormat.hocr:
        typer.echo(outcome.hocr, nl=False)
    else:
        for page in outcome.record["pages"]:
            if not first_page:
                typer.echo("")  # a blank line between pages
            first_page = False
            for line_record in page["lines"]:
                typer.echo(line_record["text"])
    return first_page


class _NoPool:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _executor(jobs: int):
    return (
        ProcessPoolExecutor(max_workers=jobs, initializer=keep_freed_memory)
        if jobs > 1
        else _NoPool()
    )
