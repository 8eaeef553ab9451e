"""`scandex search` and `scandex reindex`: query the index; rebuild it from the hOCR files."""

from __future__ import annotations

import json
import os
import re
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scandex.cli.app import app, error
from scandex.errors import ExitCode

if TYPE_CHECKING:
    from scandex.config import Config
    from scandex.indexer import HitLine, SearchHit

# How a hit word is marked in text output: reverse video on a terminal, brackets in a pipe.
ANSI_MARK = ("\x1b[1;7m", "\x1b[0m")
PLAIN_MARK = ("[[", "]]")


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Configuration file (default: $SCANDEX_CONFIG, ./config.toml)."),
]


@app.command()
def search(
    query: Annotated[str, typer.Argument(help='Words, "a phrase", prefix*, word~, AND OR NOT.')],
    fuzzy: Annotated[
        bool, typer.Option("--fuzzy", help="Tolerate OCR errors in every word (edit distance).")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many pages.")] = 10,
    path: Annotated[
        str | None, typer.Option("--path", help="Only scans whose path starts with PREFIX.")
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text for people, json for programs.")
    ] = OutputFormat.text,
    config: ConfigOption = None,
) -> None:
    """Find scans, pages, lines and word boxes matching QUERY.

    Example: scandex search '"August 5" AND (treaty OR agreement)' --fuzzy --limit 5
    """
    from scandex.config import load_config
    from scandex.indexer import open_index_for

    settings = load_config(config)
    index = open_index_for(settings, writable=False)
    try:
        hits = index.search(
            query, limit=limit, path_prefix=path_prefix(path) if path else None, fuzzy=fuzzy
        )
    finally:
        index.close()
    if output is OutputFormat.json:
        typer.echo(json.dumps([hit_to_json(hit) for hit in hits], ensure_ascii=False))
        return
    if not hits:
        typer.echo("no matches", err=True)
        return
    mark = ANSI_MARK if sys.stdout.isatty() else PLAIN_MARK
    for hit in hits:
        typer.echo(format_hit(hit, mark))


class IndexBackend(StrEnum):
    whoosh = "whoosh"
    postgres = "postgres"


@app.command()
def reindex(
    config: ConfigOption = None,
    to: Annotated[
        IndexBackend | None,
        typer.Option(
            "--to",
            help="Build this backend's index (postgres: at index.url) instead of the configured"
            " one; then set index.backend to it.",
        ),
    ] = None,
) -> None:
    """Rebuild the search index from the hOCR files beside the scans (and in state_dir/hocr).

    Only hOCR that scandex wrote for a scan in a watched folder is indexed (not one whose
    image is missing, outside the folders or ignored). Searches keep working on the old
    index until the new one is complete. Refuses while `scandex run` is writing the index.
    Example: scandex reindex --config config.toml; moving to PostgreSQL: scandex reindex
    --to postgres
    """
    from scandex.config import load_config
    from scandex.daemon.reindex import hocr_files_on_disk
    from scandex.daemon.reindex import reindex as rebuild
    from scandex.indexer import index_location, open_index_for

    settings = load_config(config)
    backend = to.value if to else None
    if not hocr_files_on_disk(settings):
        _refuse_to_empty(settings, backend, [*settings.watch.paths, settings.fallback_hocr_dir])

    def ignored(hocr_path: Path, reason: str) -> None:
        typer.echo(f"scandex: ignoring {hocr_path}: {reason}", err=True)

    def unreadable(hocr_path: Path, reason: str) -> None:
        error(f"skipping {hocr_path}: {reason}")

    result = rebuild(settings, on_ignored=ignored, on_error=unreadable, backend=backend)
    index = open_index_for(settings, writable=False, backend=backend)
    try:
        stats = index.stats()
    finally:
        index.close()
    used = result.hocr_files - result.ignored - result.unreadable
    note = f" ({result.ignored} ignored)" if result.ignored else ""
    typer.echo(
        f"indexed {result.documents} scans ({stats.pages} pages) from {used} "
        f"hOCR files{note} into {index_location(settings, backend)}"
    )
    if backend and backend != settings.index.backend:
        typer.echo(f'set index.backend = "{backend}" in the configuration to use it')
    if result.unreadable:
        raise typer.Exit(ExitCode.FAILED)


def _refuse_to_empty(settings: Config, backend: str | None, roots: list[Path]) -> None:
    """No hOCR found: a wrong config, an unmounted share? Never trade an index for nothing."""
    from scandex.errors import UsageError
    from scandex.indexer import NoIndexError, index_location, open_index_for

    try:
        index = open_index_for(settings, writable=False, backend=backend)
    except NoIndexError:
        return
    try:
        documents = index.stats().documents
    finally:
        index.close()
    if documents:
        where = ", ".join(str(root) for root in roots)
        location = index_location(settings, backend)
        raise UsageError(
            f"found no hOCR files in {where}; keeping the current index of {documents} scans "
            f"in {location} (check watch.paths and ocr.hocr_name)"
        )


# ----------------------------------------------------------------------------- formatting


def path_prefix(text: str) -> str:
    """The indexed-path prefix for what a user typed: absolute, and a folder means its files."""
    given = Path(text).expanduser()
    prefix = str(given.resolve())
    if given.is_dir() or text.endswith(os.sep):
        prefix = prefix.rstrip(os.sep) + os.sep
    return prefix


def hit_to_json(hit: SearchHit) -> dict[str, object]:
    return {
        "path": hit.path,
        "page": hit.page,
        "score": round(hit.score, 6),
        "lines": [
            {
                "text": line.text,
                "bbox": line.bbox.as_list(),
                "words": [{"text": word.text, "bbox": word.bbox.as_list()} for word in line.words],
            }
            for line in hit.lines
        ],
    }


def format_hit(hit: SearchHit, mark: tuple[str, str]) -> str:
    header = f"{hit.path}  page {hit.page}  (score {hit.score:.2f})"
    body = [f"    {highlight(line, mark)}  [{_box(line)}]" for line in hit.lines]
    return "\n".join([header, *body])


def _box(line: HitLine) -> str:
    return ",".join(str(v) for v in line.bbox.as_list())


def highlight(line: HitLine, mark: tuple[str, str]) -> str:
    """The line's text with each hit word wrapped in `mark`, found left to right."""
    start_mark, end_mark = mark
    text = line.text
    pieces: list[str] = []
    cursor = 0
    for word in line.words:
        # As a whole word, so "a" does not mark the "a" inside "was".
        found = re.compile(rf"(?<!\w){re.escape(word.text)}(?!\w)").search(text, cursor)
        if found is None or not word.text:
            continue  # the line text and its words disagree; leave this one unmarked
        pieces += [text[cursor : found.start()], start_mark, word.text, end_mark]
        cursor = found.end()
    pieces.append(text[cursor:])
    return "".join(pieces)
