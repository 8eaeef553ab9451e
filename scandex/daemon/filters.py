"""Which paths are scans to OCR: a pure predicate over names, no disk access."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import PurePath

# NAS, sync-tool and desktop litter, skipped whatever the configuration says: Synology's
# thumbnail folders, Syncthing's marker, Windows and macOS metadata, AppleDouble files.
LITTER = (
    "@eaDir",
    "#recycle",
    "#snapshot",
    ".stfolder",
    ".stversions",
    ".Trashes",
    ".Spotlight-V100",
    ".fseventsd",
    "lost+found",
    "$RECYCLE.BIN",
    "Thumbs.db",
    "desktop.ini",
    ".DS_Store",
    "._*",
)
# scandex's own outputs and temporary files: hOCR, searchable PDFs and the temp files of
# atomic writes.
OWN_OUTPUTS = ("*.hocr", "*.hocr.*", "*.ocr.pdf", ".*.tmp", "*.scandex-tmp*")


@dataclass(frozen=True)
class FilterRules:
    patterns: tuple[str, ...]  # file names to OCR, case-insensitive
    ignore: tuple[str, ...] = ()  # names to skip, for files and every folder on the way
    recursive: bool = True


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    lowered = name.lower()
    return any(fnmatchcase(lowered, p.lower()) for p in patterns)


def is_skipped_name(name: str, rules: FilterRules) -> bool:
    """True when a file or folder of this name is litter, scandex's own, or ignored."""
    return _matches(name, LITTER) or _matches(name, OWN_OUTPUTS) or _matches(name, rules.ignore)


def is_scan(path: PurePath, root: PurePath, rules: FilterRules) -> bool:
    """True when `path`, found below the watched folder `root`, is a scan to OCR."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return False
    if not parts or (not rules.recursive and len(parts) > 1):
        return False
    if any(is_skipped_name(part, rules) for part in parts):
        return False
    return _matches(parts[-1], rules.patterns)


def is_watched_folder(path: PurePath, root: PurePath, rules: FilterRules) -> bool:
    """True when the folder `path` (below or equal to `root`) may hold scans."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return False
    if parts and not rules.recursive:
        return False
    return not any(is_skipped_name(part, rules) for part in parts)
