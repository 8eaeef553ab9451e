"""Errors that reach users. Each carries a reason; the CLI prints str(error) on one line and
exits with the error's `exit_code`, so scripts and systemd can tell the kinds apart."""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """Every exit status of every scandex command."""

    OK = 0
    # The command ran but some input failed, or something needs a look (the message says
    # what); systemd restarts the daemon after it.
    FAILED = 1
    # Bad arguments or configuration: running again cannot help, so the units list it in
    # RestartPreventExitStatus= and systemd does not restart.
    USAGE = 2
    # Try again later (EX_TEMPFAIL): the index is locked by a running `reindex`, a watched
    # share is not mounted yet, the OCR workers were slow to start. systemd restarts.
    TEMPORARY = 75


class ScandexError(Exception):
    """Base of every error scandex reports to a user without a traceback."""

    exit_code: ExitCode = ExitCode.FAILED


class UsageError(ScandexError):
    """A command was given arguments it cannot work with; the message says which."""

    exit_code = ExitCode.USAGE


class TemporaryError(ScandexError):
    """Something that should clear up by itself; running the command again later may work."""

    exit_code = ExitCode.TEMPORARY


class ScanError(ScandexError):
    """This file cannot be OCRed; `reason` says why (empty, truncated, not an image, ...)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ModelError(ScandexError):
    """A recognition model is missing, corrupt or incompatible with this scandex."""

    exit_code = ExitCode.USAGE  # the configured model (ocr.model, --model) must be fixed

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"model {self.path}: {reason}")


class ConfigError(ScandexError):
    """A configuration key is unknown, has the wrong type, or names something unusable."""

    exit_code = ExitCode.USAGE

    def __init__(self, key: str, reason: str, source: str | Path | None = None) -> None:
        self.key = key
        self.reason = reason
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{key}: {reason}")


class SegmentationError(ScandexError):
    """A page could not be segmented into lines; the message says why."""


class TextTooSmallError(SegmentationError):
    """The page's text chains into lines but is smaller than page analysis works at
    (`scale_px`, the typical character height): a thumbnail, or a scan saved at a fraction
    of its resolution. `analyze_page` enlarges such a page and analyses it again."""

    def __init__(self, message: str, scale_px: float) -> None:
        super().__init__(message)
        self.scale_px = scale_px


class MissingFolderError(ConfigError):
    """A configured folder does not exist: usually a share that is not mounted yet, so the
    daemon exits with a status systemd restarts instead of one that needs a person."""

    exit_code = ExitCode.TEMPORARY


class QueryError(ScandexError):
    """A search query could not be parsed."""

    exit_code = ExitCode.USAGE
