"""Which model reads the scans: identified by the SHA-256 of its file, run from a snapshot.

A file read by one model and configured for another is re-read (`ocr.reocr`), so the
identity must be exact: "NAME sha256:HEX", the file's name and its content hash. The daemon
copies the configured file into state_dir/models/HEX.onnx and its workers load that copy,
so overwriting the configured file in place changes nothing until a reload: every file a
daemon reads between reloads is read by the one model it names.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path

from scandex.atomic import atomic_write
from scandex.daemon.reading import file_sha256
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


def model_ref(model: Path | None) -> ModelRef:
    """The identity of the configured model file, read where it is."""
    path = configured_model_path(model)
    try:
        return ModelRef(path.name, file_sha256(path), path)
    except OSError as exc:
        raise ModelError(path, f"cannot read: {exc.strerror or exc}") from None


def snapshot(model: Path | None, state_dir: Path) -> ModelRef:
    """Copy the configured model into state_dir/models (once per content); its reference
    points at the copy. Copies of other models are deleted by `prune_snapshots`."""
    source = configured_model_path(model)
    folder = state_dir / SNAPSHOT_FOLDER
    try:
        data = source.read_bytes()  # hashed and copied as one read: both see the same bytes
        folder.mkdir(parents=True, exist_ok=True)
        sha256 = hashlib.sha256(data).hexdigest()
        final = folder / f"{sha256}{source.suffix or '.onnx'}"
        if not final.is_file() or final.stat().st_size != len(data):
            atomic_write(final, lambda out: out.write(data))
    except OSError as exc:
        raise ModelError(source, f"cannot copy it to {folder}: {exc.strerror or exc}") from None
    return ModelRef(source.name, sha256, final)


def prune_snapshots(state_dir: Path, keep: set[Path]) -> None:
    """Delete model copies (and abandoned partial copies) other than `keep`."""
    folder = state_dir / SNAPSHOT_FOLDER
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry not in keep and entry.is_file():
            with contextlib.suppress(OSError):
                entry.unlink()
