"""Rebuilding the index from the hOCR files on disk, under the daemon's rules.

Only hOCR that scandex wrote is indexed, and only for a scan the daemon would read: the
image exists, lies inside a watched folder, passes `watch.patterns` and `watch.ignore`, and
the hOCR file is where scandex puts that image's hOCR (beside it, or under state_dir/hocr).
So a stray or planted hOCR file cannot put text into search results for an image that is
missing, outside the watched folders, ignored, or another file's.
"""

from __future__ import annotations

import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scandex.config import Config
from scandex.daemon.arrivals import read_rules
from scandex.daemon.filters import FilterRules, is_scan, is_skipped_name
from scandex.daemon.hocr_files import HocrPlaces, ScandexHocr, is_foreign_hocr
from scandex.daemon.reading import ReadError, is_inside, scan_stat
from scandex.page import Document


@dataclass(frozen=True)
class Reindexed:
    documents: int  # scans now in the index
    hocr_files: int  # hOCR files found
    ignored: int  # left out by the rules
    unreadable: int  # could not be read or parsed


def hocr_files_on_disk(config: Config) -> list[Path]:
    """Every hOCR file under the watched folders (not entering ignored folders) and under
    state_dir/hocr, newest first."""
    from scandex.indexer import find_hocr_files

    rules = FilterRules(config.watch.patterns, config.watch.ignore, config.watch.recursive)
    names = {config.ocr.hocr_name, "{name}.hocr"}  # the second scan of a stem: a.jpg.hocr
    found: set[Path] = set()
    for name in names:
        found.update(
            find_hocr_files(
                config.watch.paths,
                name_pattern=name,
                recursive=config.watch.recursive,
                skip_folder=lambda folder: is_skipped_name(folder, rules),
            )
        )
        # state_dir/hocr mirrors absolute folders, whatever their names: walk all of it.
        found.update(
            find_hocr_files([config.fallback_hocr_dir], name_pattern=name, skip_folder=_never)
        )
    return sorted(found, key=_newest_first)


def _never(name: str) -> bool:
    return False


def _newest_first(path: Path) -> tuple[float, str]:
    try:
        return (-path.stat().st_mtime, str(path))
    except OSError:
        return (0.0, str(path))


def why_not_indexed(config: Config, doc: Document, hocr_path: Path) -> str | None:
    """The reason the daemon's rules leave this hOCR file out, or None to index it."""
    if is_foreign_hocr(hocr_path):
        return "not written by scandex"
    image = Path(doc.path)
    if not image.is_absolute() or not is_inside(image, config.watch.paths):
        return f"its image {image} is outside the watched folders"
    rules = FilterRules(config.watch.patterns, config.watch.ignore, config.watch.recursive)
    root = next(r for r in config.watch.paths if image.is_relative_to(r))
    if not is_scan(image, root, rules):
        return f"its image {image} is not a scan to index (watch.patterns, watch.ignore)"
    try:
        st = scan_stat(str(image), read_rules(config))
    except ReadError as exc:
        return f"its image {image} is {exc.reason}"
    except OSError:
        return f"its image {image} is missing"
    if not stat.S_ISREG(st.st_mode):
        return f"its image {image} is not a file"
    places = HocrPlaces(config.ocr.hocr_name, config.fallback_hocr_dir)
    if hocr_path not in places.all_for(image):
        return f"it is not where scandex puts the hOCR of {image}"
    return None


def reindex(
    config: Config,
    *,
    on_ignored: Callable[[Path, str], None],
    on_error: Callable[[Path, str], None],
    backend: str | None = None,
) -> Reindexed:
    """Rebuild the index from the hOCR files on disk (see the module's rules). Files the
    rules leave out go to `on_ignored`, files that cannot be read to `on_error`. `backend`
    builds that index instead of the configured one (`scandex reindex --to postgres`)."""
    from scandex.indexer import rebuild_index_for

    files = hocr_files_on_disk(config)
    reader = ScandexHocr()
    ignored: list[Path] = []
    unreadable: list[Path] = []

    def read(path: Path) -> Document:
        return reader.read(path, config.ocr.max_file_bytes)

    def accept(doc: Document, hocr_path: Path) -> str | None:
        reason = why_not_indexed(config, doc, hocr_path)
        if reason:
            ignored.append(hocr_path)
            on_ignored(hocr_path, reason)
        return reason

    def report(hocr_path: Path, reason: str) -> None:
        unreadable.append(hocr_path)
        on_error(hocr_path, reason)

    documents = rebuild_index_for(
        config,
        files,
        backend=backend,
        on_error=report,
        read=read,
        accept=accept,
        keep_unless_filled=True,
    )
    return Reindexed(documents, len(files), len(ignored), len(unreadable))
