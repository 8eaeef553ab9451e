"""Which hOCR files are scandex's, and where each scan's goes.

The rules, in one place for the daemon, `scandex ocr --write` and `scandex reindex`:
- A scan's hOCR goes next to it as `ocr.hocr_name` (`{stem}.hocr`); when another scan
  already has that name (`a.png` and `a.jpg`), the second gets `{name}.hocr` (`a.jpg.hocr`).
- An existing hOCR file scandex did not write (its `ocr-system` is not scandex) is never
  replaced or deleted; scandex's goes to state_dir/hocr instead, as it does for a folder
  scandex may not write to (with the name it would have had, under the folder's absolute
  path).
- scandex deletes only hOCR it wrote, and only when no other scan's record uses it.
- Reading hOCR is capped at `ocr.max_file_bytes`, like reading scans.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from scandex.daemon.records import Records
from scandex.daemon.searchable_pdfs import delete_pdf
from scandex.daemon.state import FileRecord
from scandex.errors import ScandexError
from scandex.page import Document

log = logging.getLogger("scandex.daemon")

# Write errors that mean "this folder is not ours to write": hOCR goes to state_dir instead.
NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)

_META_TAG = re.compile(rb"<meta\b[^>]*>", re.IGNORECASE)


class HocrFiles(Protocol):
    """Reading and writing hOCR files (the writer is atomic)."""

    def write(self, doc: Document, path: Path, model: str | None) -> None: ...

    def read(self, path: Path, max_bytes: int) -> Document: ...


class ScandexHocr:
    """scandex's own hOCR writer and parser (scandex.ocr.hocr)."""

    def write(self, doc: Document, path: Path, model: str | None) -> None:
        from scandex.ocr.hocr import write_hocr

        write_hocr(doc, path, model=model)

    def read(self, path: Path, max_bytes: int) -> Document:
        from scandex.ocr.hocr import read_hocr

        return read_hocr(read_hocr_text(path, max_bytes), path)


def read_hocr_text(path: Path, max_bytes: int) -> str:
    """The text of an hOCR file, refusing links, non-files and files over `max_bytes`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ScandexError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ScandexError(f"{path}: not a regular file")
        if st.st_size > max_bytes:
            raise ScandexError(
                f"{path}: too large ({st.st_size:,} bytes, over ocr.max_file_bytes = {max_bytes:,})"
            )
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ScandexError(f"{path}: too large (over ocr.max_file_bytes = {max_bytes:,})")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScandexError(f"{path}: not UTF-8 text") from None


def is_foreign_hocr(path: Path) -> bool:
    """True when `path` exists and is not an hOCR file scandex wrote (e.g. tesseract's)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError:
        return True  # unreadable, or a link: certainly not ours to replace
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return True
        head = f.read(8192)
    for tag in _META_TAG.findall(head):
        if b"ocr-system" in tag:
            return b"scandex" not in tag
    return True


def write_hocr_with_fallback(
    doc: Document, hocr: HocrFiles, preferred: Path, fallback: Path | None, model: str | None
) -> tuple[Path | None, str | None]:
    """Write hOCR next to the image, or in the fallback place when that folder is read-only
    or holds someone else's hOCR of that name. Returns where it went, and the reason when
    that is the fallback. Without a fallback (a worker on another machine, which cannot
    write to the daemon's state_dir) it returns None and the reason instead."""
    if is_foreign_hocr(preferred):
        reason = f"{preferred} exists and was not written by scandex (kept as it is)"
    else:
        try:
            hocr.write(doc, preferred, model)
            return preferred, None
        except OSError as exc:
            if exc.errno not in NOT_WRITABLE:
                raise
            reason = f"{preferred.parent} is not writable ({exc.strerror})"
    if fallback is None:
        return None, reason
    fallback.parent.mkdir(parents=True, exist_ok=True)
    hocr.write(doc, fallback, model)
    return fallback, reason


@dataclass(frozen=True)
class HocrPlaces:
    """Where the hOCR of each scan goes, for one configuration."""

    hocr_name: str  # ocr.hocr_name
    fallback_dir: Path  # state_dir/hocr

    def beside(self, image: Path, *, second: bool = False) -> Path:
        """Next to the image; `second` for the one whose stem another scan already took."""
        if second:
            return image.parent / f"{image.name}.hocr"
        return image.parent / self.hocr_name.format(stem=image.stem, name=image.name)

    def fallback(self, hocr_path: Path) -> Path:
        """Where the hOCR meant for `hocr_path` goes when it cannot go there: the same name
        in state_dir/hocr, under the folder's absolute path (so `a.hocr` and `a.jpg.hocr`
        stay two files there too)."""
        return self.fallback_dir / hocr_path.parent.relative_to(hocr_path.anchor) / hocr_path.name

    def choose(self, image: Path, taken: set[str]) -> Path:
        """The hOCR path for `image` when the paths in `taken` belong to other scans."""
        first = self.beside(image)
        return self.beside(image, second=True) if str(first) in taken else first

    def all_for(self, image: Path) -> tuple[Path, ...]:
        """Every place scandex may have put the image's hOCR."""
        beside = (self.beside(image), self.beside(image, second=True))
        return (*beside, *(self.fallback(path) for path in beside))


class HocrOwner:
    """The hOCR files scandex writes for its records: where each goes, reading them back,
    and deleting only what is scandex's and no longer used. Only the loop's thread calls it.
    """

    def __init__(
        self, places: HocrPlaces, files: HocrFiles, records: Records, max_bytes: int
    ) -> None:
        self.places = places
        self.files = files
        self.records = records
        self.max_bytes = max_bytes
        self.claims: dict[str, str] = {}  # hOCR path -> the image a job in flight writes it for
        self._fallbacks_reported: set[str] = set()

    def destination(self, image: Path) -> Path:
        """Next to the image; `{name}.hocr` when another scan already has `{stem}.hocr`
        (there, or in state_dir/hocr in its stead)."""
        first = self.places.beside(image)
        users = self.records.hocr_users(str(first)) + self.records.hocr_users(
            str(self.places.fallback(first))
        )
        taken = {p for p in users if p != str(image)}
        claimant = self.claims.get(str(first))
        if taken or (claimant is not None and claimant != str(image)):
            return self.places.beside(image, second=True)
        return first

    def claim(self, image: str, hocr_path: str) -> None:
        self.claims[hocr_path] = image

    def release(self, hocr_path: str) -> None:
        self.claims.pop(hocr_path, None)

    def write(self, doc: Document, image: Path, model: str | None) -> Path:
        """Write the image's hOCR (in the daemon's process); raises OSError."""
        destination = self.destination(image)
        written, reason = write_hocr_with_fallback(
            doc, self.files, destination, self.places.fallback(destination), model
        )
        assert written is not None  # there is a fallback
        self.note_fallback(written, reason)
        return written

    def note_fallback(self, written: Path, reason: str | None) -> None:
        """Say once per reason why hOCR goes to state_dir instead of next to the scans."""
        if reason and reason not in self._fallbacks_reported:
            self._fallbacks_reported.add(reason)
            log.warning("%s: hOCR goes to %s instead", reason, written.parent)

    def read(self, record: FileRecord) -> Document | None:
        """The document in the record's hOCR; None when it is missing, damaged or foreign."""
        if not record.hocr_path:
            return None
        try:
            return self.files.read(Path(record.hocr_path), self.max_bytes)
        except Exception as exc:  # the file is OCRed again instead
            log.debug("cannot reuse %s: %s", record.hocr_path, exc)
            return None

    def delete(self, hocr_path: str | None, *, except_user: str = "") -> bool:
        """Delete an hOCR file scandex wrote, unless another record still uses it."""
        if not hocr_path:
            return False
        if any(p != except_user for p in self.records.hocr_users(hocr_path)):
            return False
        if is_foreign_hocr(Path(hocr_path)):
            return False
        delete_pdf(hocr_path)  # the searchable PDF beside it goes with it
        try:
            os.unlink(hocr_path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            log.warning("cannot delete %s: %s", hocr_path, exc.strerror)
            return False
        return True

    def delete_all_for(self, record: FileRecord) -> list[str]:
        """Delete the record's hOCR; when none was recorded (the daemon was killed between
        writing it and recording it), whatever of scandex's lies where it would have gone."""
        if record.hocr_path:
            candidates = [record.hocr_path]
        else:
            candidates = [str(p) for p in self.places.all_for(Path(record.path)) if p.is_file()]
        return [p for p in candidates if self.delete(p)]


def hocr_image(path: Path, max_bytes: int) -> str | None:
    """The image a scandex hOCR file describes; None when there is none, or it is not
    scandex's, or it cannot be read."""
    if not os.path.lexists(path) or is_foreign_hocr(path):
        return None
    try:
        return ScandexHocr().read(path, max_bytes).path
    except Exception:
        return None


def plan_hocr_writes(images: list[Path], places: HocrPlaces, max_bytes: int) -> list[Path | str]:
    """Where `scandex ocr --write` means to put each image's hOCR, by the daemon's rules:
    the configured name beside it, or `{name}.hocr` when another image (on disk or earlier
    in `images`) has that name; a reason instead of a path when neither is free. The file is
    written as the daemon writes it (`write_hocr_with_fallback`): never over hOCR scandex did
    not write, in state_dir/hocr instead."""
    claimed: dict[Path, str] = {}
    plan: list[Path | str] = []
    for image in (p.absolute() for p in images):
        first = places.beside(image)
        owner = (
            claimed.get(first)
            or hocr_image(first, max_bytes)
            or hocr_image(places.fallback(first), max_bytes)
        )
        destination = first if owner in (None, str(image)) else places.beside(image, second=True)
        if destination in claimed and claimed[destination] != str(image):
            plan.append(f"{destination} is already written for {claimed[destination]}")
        else:
            claimed[destination] = str(image)
            plan.append(destination)
    return plan
