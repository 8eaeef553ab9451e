"""`scandex ocr`: recognize images (pages or single lines) and print text, hOCR or JSON."""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from enum import StrEnum
from pathlib import Path

import typer

from scandex.cli.app import EXIT_FAILED, EXIT_OK, app, error
from scandex.errors import ScandexError


class OcrFormat(StrEnum):
    text = "text"
    hocr = "hocr"
    jsonl = "jsonl"


def _params(model: Path | None, columns: int | None):
    from scandex.ocr import OcrParams

    return OcrParams(model=model, columns=columns)


def _line_record(path: Path, model: Path | None) -> dict:
    """Recognize each page of an image file as one text line."""
    from scandex.ocr import get_recognizer
    from scandex.ocr.io import load_pages

    pages = load_pages(path)
    results = get_recognizer(model).recognize([p.gray for p in pages])
    result = results[0]
    return {
        "path": str(path),
        "text": result.text,
        "confidence": round(result.confidence, 4),
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


def _page_job(args: tuple[str, Path | None, int | None, bool]) -> tuple[str, dict | str]:
    """OCR one file in a worker: ("ok", payload) or ("error", one-line message)."""
    path_text, model, columns, write = args
    path = Path(path_text)
    try:
        from scandex.ocr import ocr_file
        from scandex.ocr.hocr import to_hocr, write_hocr
        from scandex.ocr.jsonout import document_to_dict

        started = time.perf_counter()
        doc = ocr_file(path, _params(model, columns))
        seconds = time.perf_counter() - started
        payload = {"json": document_to_dict(doc), "text": doc.text, "seconds": seconds}
        if write:
            target = path.with_name(path.stem + ".hocr")
            write_hocr(doc, target)
            payload["written"] = str(target)
        else:
            payload["hocr"] = to_hocr(doc, hocr_dir=path.parent)
        return "ok", payload
    except ScandexError as exc:
        return "error", str(exc)
    except MemoryError:
        return "error", f"{path}: out of memory while processing this image"


def _line_job(args: tuple[str, Path | None]) -> tuple[str, dict | str]:
    path_text, model = args
    try:
        return "ok", _line_record(Path(path_text), model)
    except ScandexError as exc:
        return "error", str(exc)


@app.command()
def ocr(
    images: list[Path] = typer.Argument(..., help="Image files (PNG, JPEG, TIFF, PNM, WebP)."),
    line: bool = typer.Option(False, "--line", help="Treat each image as one text line."),
    output_format: OcrFormat = typer.Option(OcrFormat.text, "--format", help="Output format."),
    write: bool = typer.Option(
        False, "--write", help="Write <stem>.hocr next to each image instead of printing."
    ),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Files processed in parallel."),
    model: Path | None = typer.Option(None, help="Recognition model (.onnx); default: built-in."),
    columns: int | None = typer.Option(
        None, min=1, help="Force this many text columns instead of detecting them."
    ),
) -> None:
    """OCR scans and print their text in reading order.

    Examples: `scandex ocr scan.png`, `scandex ocr --format hocr scan.tif > scan.hocr`,
    `scandex ocr --write --jobs 2 scans/*.jpg`, `scandex ocr --line line.png --format jsonl`.
    """
    if model is not None:
        from scandex.ocr.recognize import Recognizer

        Recognizer(model)  # a bad model is one clear error, not one per file
    if line:
        jobs_args = [(str(p), model) for p in images]
        worker = _line_job
    else:
        jobs_args = [(str(p), model, columns, write) for p in images]
        worker = _page_job
    failed = 0
    first_page_output = True
    show_progress = sys.stderr.isatty() and len(images) > 1
    with _executor(jobs) as pool:
        results = pool.map(worker, jobs_args) if pool else map(worker, jobs_args)
        progress = (
            typer.progressbar(results, length=len(images), label="OCR", file=sys.stderr)
            if show_progress
            else None
        )
        iterator = progress if progress is not None else results
        for status, payload in iterator:
            if status == "error":
                failed += 1
                error(str(payload))
                continue
            if line:
                if output_format == OcrFormat.jsonl:
                    typer.echo(json.dumps(payload, ensure_ascii=False))
                else:
                    typer.echo(payload["text"])
                continue
            if write:
                continue
            if output_format == OcrFormat.jsonl:
                record = dict(payload["json"])
                record["seconds"] = round(payload["seconds"], 3)
                typer.echo(json.dumps(record, ensure_ascii=False))
            elif output_format == OcrFormat.hocr:
                typer.echo(payload["hocr"], nl=False)
            else:
                for page in payload["json"]["pages"]:
                    if not first_page_output:
                        typer.echo("")
                    first_page_output = False
                    for line_record in page["lines"]:
                        typer.echo(line_record["text"])
    raise typer.Exit(EXIT_FAILED if failed else EXIT_OK)


class _NoPool:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _executor(jobs: int):
    return ProcessPoolExecutor(max_workers=jobs) if jobs > 1 else _NoPool()
