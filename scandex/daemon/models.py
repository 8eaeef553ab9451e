"""Which model reads the scans: identified by the SHA-256 of its file, run from a snapshot.

A file read by one model and configured for another is re-read (`ocr.reocr`), so the
identity must be exact: "NAME sha256:HEX", the file's name and its content hash (of the
file followed by its capitals companion, NAME-capitals.onnx, where it has one: that reads
its lines of capitals). The daemon copies the configured file (and its companion) into
state_dir/models/HEX.onnx (HEX-capitals.onnx) and its workers load that copy, so
overwriting the configured file in place changes nothing until a reload: every file a
daemon reads between reloads is read by the one model it names.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path

from scandex.atomic import atomic_write
from scandex.errors import ModelError

SNAPSHOT_FOLDER = "models"


@dataclass(frozen=True)
class ModelRef:
    name: str  # the configured file's name, e.g. "en.onnx"
    sha256: str
    path: Path  # the file the workers load

    @property
    def id(self) -> str:
        """How hOCR (<meta name="scandex-model">), the state store and status name it."""
        return f"{self.name} sha256:{self.sha256}"


def configured_model_path(model: Path | None) -> Path:
    """`ocr.model`, or the model shipped with scandex when it is not set."""
    if model is not None:
        return model
    from scandex.ocr.recognize import default_model_path

    return default_model_path()


def _read_model(path: Path) -> tuple[bytes, bytes | None]:
    """The model file's bytes and its capitals companion's, None where it has none."""
    from scandex.ocr.recognize import capitals_companion

    companion = capitals_companion(path)
    return path.read_bytes(), companion.read_bytes() if companion.is_file() else None


def _identity_sha256(model: bytes, companion: bytes | None) -> str:
    digest = hashlib.sha256(model)
    if companion is not None:
        digest.update(companion)
    return digest.hexdigest()


def model_ref(model: Path | None) -> ModelRef:
    """The identity of the configured model file, read where it is."""
    path = configured_model_path(model)
    try:
        return ModelRef(path.name, _identity_sha256(*_read_model(path)), path)
    except OSError as exc:
        raise ModelError(path, f"cannot read: {exc.strerror or exc}") from None


def snapshot(model: Path | None, state_dir: Path) -> ModelRef:
    """Copy the configured model (and its capitals companion) into state_dir/models (once per
    content); its reference points at the copy. Copies of other models are deleted by
    `prune_snapshots`."""
    from scandex.ocr.recognize import capitals_companion

    source = configured_model_path(model)
    folder = state_dir / SNAPSHOT_FOLDER
    try:
        # Hashed and copied from one read: both see the same bytes.
        data, companion = _read_model(source)
        folder.mkdir(parents=True, exist_ok=True)
        sha256 = _identity_sha256(data, companion)
        final = folder / f"{sha256}{source.suffix or '.onnx'}"
        # The companion first: a worker that finds the model finds its companion too.
        copies = [(final, data)]
        if companion is not None:
            copies.insert(0, (capitals_companion(final), companion))
        for path, content in copies:
            _copy_once(path, content)
    except OSError as exc:
        raise ModelError(source, f"cannot copy it to {folder}: {exc.strerror or exc}") from None
    return ModelRef(source.name, sha256, final)


def _copy_once(path: Path, content: bytes) -> None:
    """Write `content` to `path` unless a whole copy is there already."""
    if not path.is_file() or path.stat().st_size != len(content):
        atomic_write(path, lambda out: out.write(content))


def prune_snapshots(state_dir: Path, keep: set[Path]) -> None:
    """Delete model copies (and abandoned partial copies) other than `keep` and their
    capitals companions."""
    from scandex.ocr.recognize import capitals_companion

    folder = state_dir / SNAPSHOT_FOLDER
    if not folder.is_dir():
        return
    keep = keep | {capitals_companion(path) for path in keep}
    for entry in folder.iterdir():
        if entry not in keep and entry.is_file():
            with contextlib.suppress(OSError):
                entry.unlink()
