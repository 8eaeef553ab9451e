"""Errors that reach users. Each carries a reason; the CLI prints str(error) on one line."""

from __future__ import annotations

from pathlib import Path


class ScandexError(Exception):
    """Base of every error scandex reports to a user without a traceback."""


class ScanError(ScandexError):
    """This file cannot be OCRed; `reason` says why (empty, truncated, not an image, ...)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ModelError(ScandexError):
    """A recognition model is missing, corrupt or incompatible with this scandex."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"model {self.path}: {reason}")


class ConfigError(ScandexError):
    """A configuration key is unknown, has the wrong type, or names something unusable."""

    def __init__(self, key: str, reason: str, source: str | Path | None = None) -> None:
        self.key = key
        self.reason = reason
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{key}: {reason}")


class SegmentationError(ScandexError):
    """A page could not be segmented into lines; the message says why."""


class QueryError(ScandexError):
    """A search query could not be parsed."""
