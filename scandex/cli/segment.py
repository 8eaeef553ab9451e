"""`scandex segment`: show how the page analysis sees a scan (regions, lines, reading order)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer

from scandex.cli.app import app, error
from scandex.errors import ExitCode, ScandexError


class SegmentFormat(StrEnum):
    jsonl = "jsonl"
    none = "none"


@app.command()
def segment(
    images: list[Path] = typer.Argument(..., help="Scans to analyze (PNG, JPEG, TIFF, PNM, WebP)."),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Draw the page into this PNG: regions by kind (text blue, table magenta, photo "
        "orange, separator green), the reading order as numbered arrows between them, numbered "
        "line boxes in red (one image only; page N > 1 of a multi-page file goes to NAME-pN.png).",
    ),
    output_format: SegmentFormat | None = typer.Option(
        None,
        "--format",
        "-f",
        help="jsonl: one JSON object per file on stdout (default without --out).",
    ),
    columns: int | None = typer.Option(
        None, "--columns", min=1, help="Force this many columns instead of detecting them."
    ),
) -> None:
    """Find the text lines of scans, in reading order, with boxes in original pixels.

    Example: scandex segment scan.png --out view.png
             scandex segment *.tif --format jsonl
    """
    if out is not None and len(images) != 1:
        error("--out draws one image; give exactly one IMAGE")
        raise typer.Exit(ExitCode.USAGE)
    fmt = output_format or (SegmentFormat.none if out is not None else SegmentFormat.jsonl)
    failed = False
    for path in images:
        try:
            record = _segment_file(path, columns, out)
        except ScandexError as exc:
            error(str(exc))
            failed = True
            continue
        if fmt is SegmentFormat.jsonl:
            typer.echo(json.dumps(record))
    raise typer.Exit(ExitCode.FAILED if failed else ExitCode.OK)


def _segment_file(path: Path, columns: int | None, out: Path | None) -> dict:
    """Analyze every page of one file; draw it when asked; the JSON record of the file."""
    from dataclasses import replace

    from scandex.errors import ScanError
    from scandex.ocr.analyze import AnalyzeParams, analyze_page
    from scandex.ocr.io import load_pages

    params = AnalyzeParams()
    if columns is not None:
        params = replace(params, segment=replace(params.segment, columns=columns))
    pages = []
    for page in load_pages(path):
        try:
            analysis = analyze_page(page.gray, params)
        except ScandexError as exc:
            raise ScanError(path, f"page {page.number}: {exc}") from exc
        if out is not None:
            target = out if page.number == 1 else out.with_name(f"{out.stem}-p{page.number}.png")
            _write_view(target, page.gray, analysis)
        pages.append(_page_record(page.number, analysis))
    return {"path": str(path), "pages": pages}


def _page_record(number: int, analysis) -> dict:
    return {
        "page": number,
        "width": analysis.width,
        "height": analysis.height,
        "angle": round(analysis.angle_deg, 3),
        "scale": round(analysis.scale_px, 2),
        "columns": [box.as_list() for box in analysis.columns],
        "regions": [
            {"kind": region.kind, "bbox": region.bbox.as_list(), "order": order}
            for order, region in enumerate(analysis.regions)
        ],
        "lines": [
            {
                "bbox": line.bbox.as_list(),
                "column": line.column,
                "baseline": list(line.baseline) if line.baseline is not None else None,
            }
            for line in analysis.lines
        ],
    }


# BGR colours of the regions' kinds in the view.
_REGION_COLOURS = {
    "text": (255, 128, 0),
    "table": (200, 0, 200),
    "photo": (0, 140, 255),
    "separator": (0, 170, 0),
}


def _write_view(target: Path, gray, analysis) -> None:
    """The page in colour: regions by kind, numbered in reading order with arrows from one
    to the next, column gutters, and each line's box in red with its number."""
    import cv2

    from scandex.errors import ScanError

    view = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    thick = max(1, round(max(gray.shape) / 1500))
    font_scale = max(0.4, analysis.scale_px / 30.0)
    for box in analysis.gutters:
        cv2.rectangle(view, (box.x0, box.y0), (box.x1 - 1, box.y1 - 1), (0, 160, 0), thick)
    for region in analysis.regions:
        b = region.bbox
        colour = _REGION_COLOURS[region.kind]
        cv2.rectangle(view, (b.x0, b.y0), (b.x1 - 1, b.y1 - 1), colour, 2 * thick)
        if region.kind == "photo":  # crossed out: nothing in it is read
            cv2.line(view, (b.x0, b.y0), (b.x1 - 1, b.y1 - 1), colour, thick)
            cv2.line(view, (b.x0, b.y1 - 1), (b.x1 - 1, b.y0), colour, thick)
    for number, line in enumerate(analysis.lines, start=1):
        b = line.bbox
        cv2.rectangle(view, (b.x0, b.y0), (b.x1 - 1, b.y1 - 1), (0, 0, 255), thick)
        _label(view, str(number), b.x0, b.y0, font_scale, thick, (0, 0, 200), left_of=True)
    # Reading order: an arrow from each text region's centre to the next one's.
    read = [r.bbox for r in analysis.regions if r.kind in ("text", "table")]
    for a, b in zip(read, read[1:], strict=False):
        start = tuple(int(v) for v in a.center)
        end = tuple(int(v) for v in b.center)
        cv2.arrowedLine(view, start, end, (255, 0, 255), 2 * thick, tipLength=0.03)
    for order, region in enumerate(analysis.regions, start=1):
        b = region.bbox
        colour = _REGION_COLOURS[region.kind]
        _label(view, f"{order} {region.kind}", b.x0, b.y0, 1.5 * font_scale, 2 * thick, colour)
    try:
        ok = cv2.imwrite(str(target), view)
    except cv2.error as exc:
        raise ScanError(target, f"cannot write the view: {exc}") from exc
    if not ok:
        raise ScanError(target, "cannot write the view (is the folder there and writable?)")


def _label(view, text: str, x: int, y: int, scale: float, thick: int, colour, left_of=False):
    """Text at the top-left corner (x, y) of a box, inside it or just left of it."""
    import cv2

    (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    x = max(0, x - w - 4 * thick) if left_of else x + 2 * thick
    y = min(view.shape[0] - 1, y + h + (0 if left_of else 2 * thick))
    cv2.putText(view, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick)
