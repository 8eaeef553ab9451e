"""The only reader of config.toml: one typed, frozen Config, loaded once at the edge.

Precedence: a CLI flag > the config file > the defaults below. Errors name the dotted key
(`watch.settle_seconds`) and the file. Relative paths resolve against the config file's
folder, or against the current directory when no file is used.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from scandex.errors import ConfigError, MissingFolderError
from scandex.lexicons import DEFAULT_LANGUAGES

if TYPE_CHECKING:
    from scandex.ocr.lexicon import LexiconParams

CONFIG_ENV = "SCANDEX_CONFIG"
DEFAULT_CONFIG_NAME = "config.toml"

DEFAULT_PATTERNS = ("*.png", "*.jpg", "*.jpeg", "*.tif", "*.tiff", "*.pnm", "*.webp", "*.pdf")
DEFAULT_IGNORE = (".*", "*.tmp", "*.part", "~*")
# ocr.reocr: when the configured model differs from the one a file was read with, read it
# again by itself (auto), only when `scandex reocr` asks (manual), or never (off).
REOCR_MODES = ("auto", "manual", "off")
# ocr.pdf_text: a PDF page's own text instead of OCR when it covers the page (auto), never
# (ocr), or always, never OCRing (text). The same as scandex.pdf.reader.PDF_TEXT_MODES.
PDF_TEXT_MODES = ("auto", "ocr", "text")
# queue.backend: OCR in the daemon's own worker processes, or in `scandex worker` processes on
# any machine, through Redis.
QUEUE_BACKENDS = ("local", "redis")
REDIS_URL_SCHEMES = ("redis://", "rediss://", "unix://")
# index.backend: Whoosh files in state_dir/index, or tables in a PostgreSQL database.
INDEX_BACKENDS = ("whoosh", "postgres")
POSTGRES_URL_SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class WatchConfig:
    paths: tuple[Path, ...] = (Path("scans"),)
    recursive: bool = True
    polling: bool = False  # the polling observer, for network shares where inotify is blind
    settle_seconds: float = 2.0  # a file must be unchanged this long before it is read
    rescan_seconds: float = 300.0  # full rescan, the safety net for missed events; 0 = never
    patterns: tuple[str, ...] = DEFAULT_PATTERNS
    ignore: tuple[str, ...] = DEFAULT_IGNORE
    # Follow a symbolic link to a file, but only to one inside a watched folder; off: links
    # are skipped (and reported once).
    follow_symlinks: bool = False


@dataclass(frozen=True)
class OcrConfig:
    workers: int = 0  # 0 = one per CPU core
    model: Path | None = None  # None = the built-in model
    hocr_name: str = "{stem}.hocr"
    timeout_seconds: float = 300.0  # per file; a worker that takes longer is stopped
    columns: int | None = None  # None = detect
    retries: int = 3  # further attempts after a failure, before the file is left failed
    retry_seconds: float = 60.0  # wait before the first retry; doubles for each further one
    max_pixels: int = 200_000_000  # larger images are refused (decompression bombs)
    max_file_bytes: int = 2_000_000_000  # larger files (scans and hOCR) are never read
    reocr: str = "auto"  # read files again when the model changes: auto, manual or off
    lexicon: bool = True  # check uncertain words against word lists (lexicon-aware decoding)
    reread: bool = True  # read doubtful lines again, moved, and let the readings vote
    languages: tuple[str, ...] = DEFAULT_LANGUAGES  # the word lists a page may use
    user_words: Path | None = None  # the user's own words, one per line
    pdf_text: str = "auto"  # a PDF page's own text: "auto" (when it covers the page), "ocr", "text"
    pdf_dpi: float = 300.0  # PDF pages that are not one scanned image are rendered at this
    max_pdf_pages: int = 2000  # PDFs with more pages are refused (page bombs)

    @property
    def worker_count(self) -> int:
        """How many worker processes to start: `workers`, or one per usable CPU core."""
        if self.workers > 0:
            return self.workers
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return max(1, os.cpu_count() or 1)

    @property
    def lexicon_params(self) -> LexiconParams:
        from scandex.ocr.lexicon import LexiconParams  # scandex.ocr imports numpy: not at start

        return LexiconParams(self.lexicon, self.languages, self.user_words)

    @property
    def pdf_params(self):  # -> scandex.pdf.PdfParams (imports pikepdf: not at start)
        from scandex.pdf.reader import PdfParams

        return PdfParams(self.pdf_text, self.pdf_dpi, self.max_pixels, self.max_pdf_pages)


@dataclass(frozen=True)
class WebConfig:
    """`scandex serve`: the read-only search site."""

    host: str = "127.0.0.1"  # any address other than loopback requires `token`
    port: int = 8421
    token: str = ""  # the shared secret every request must carry; empty = none (loopback only)
    search_timeout_seconds: float = 10.0  # a search still running then is answered 503
    cache_mb: int = 512  # page images kept under state_dir/web-cache
    # Web origins whose pages may read the IIIF documents and page images (a IIIF viewer
    # hosted elsewhere); "*" = any. Empty = none: other sites' scripts cannot read the archive.
    cors_origins: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutputConfig:
    """What the daemon writes beside each scan besides its hOCR."""

    # A searchable PDF beside the scan's hOCR, named like it: `{stem}.ocr.pdf`.
    pdf: bool = False
    pdfa: bool = False  # PDF/A-2b for scans from image files (a PDF keeps its own pages)


@dataclass(frozen=True)
class QueueConfig:
    """Where the OCR runs: the daemon's own worker processes, or workers anywhere via Redis."""

    backend: str = "local"  # "local" or "redis"
    url: str = "redis://127.0.0.1:6379/0"  # the Redis server (backend "redis")
    # Queue names and job ids begin with this, so one Redis can serve several installations.
    name: str = "scandex"
    # For `scandex worker`: a watched folder of the daemon -> where this machine mounts it.
    path_map: tuple[tuple[Path, Path], ...] = ()

    def local_root(self, root: Path) -> Path | None:
        """Where this machine sees the daemon's watched folder `root`; None if not mapped."""
        return next((mine for theirs, mine in self.path_map if theirs == root), None)


@dataclass(frozen=True)
class IndexConfig:
    """Where the search index lives: Whoosh files in state_dir/index, or PostgreSQL."""

    backend: str = "whoosh"  # "whoosh" or "postgres"
    url: str = ""  # postgresql://USER@HOST/DATABASE (backend "postgres", `reindex --to`)


@dataclass(frozen=True)
class Config:
    state_dir: Path = Path(".scandex")
    watch: WatchConfig = field(default_factory=WatchConfig)
    ocr: OcrConfig = field(default_factory=OcrConfig)
    web: WebConfig = field(default_factory=WebConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    source: Path | None = None  # the file this came from; None for built-in defaults

    @property
    def index_dir(self) -> Path:
        return self.state_dir / "index"

    @property
    def db_path(self) -> Path:
        return self.state_dir / "state.sqlite3"

    @property
    def fallback_hocr_dir(self) -> Path:
        """Where hOCR goes for images in folders scandex cannot write to."""
        return self.state_dir / "hocr"

    @property
    def base_dir(self) -> Path:
        """The folder relative paths were resolved against."""
        return self.source.parent if self.source else Path.cwd()


def display_url(url: str) -> str:
    """A server URL (queue.url, index.url) without its password, for messages and status."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}{parts.hostname or ''}{port}"))


def load_config(path: Path | None = None) -> Config:
    """The configuration: `path`, else $SCANDEX_CONFIG, else ./config.toml, else defaults."""
    source = _find_config_file(path)
    if source is None:
        return parse_config({}, base_dir=Path.cwd(), source=None)
    try:
        with source.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError("config", "file not found", source) from None
    except OSError as exc:
        raise ConfigError("config", f"cannot read: {exc.strerror}", source) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"not valid TOML: {exc}", source) from None
    return parse_config(data, base_dir=source.parent, source=source)


def _find_config_file(path: Path | None) -> Path | None:
    if path is not None:
        return Path(path).expanduser().absolute()
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return Path(from_env).expanduser().absolute()
    local = Path.cwd() / DEFAULT_CONFIG_NAME
    return local if local.is_file() else None


def parse_config(data: Mapping[str, Any], *, base_dir: Path, source: Path | None) -> Config:
    """Validate a parsed TOML table into a Config; every problem names its dotted key."""
    reader = _Reader(data, "", source)
    state_dir = reader.path("state_dir", ".scandex", base_dir)
    watch_reader = reader.table("watch")
    ocr_reader = reader.table("ocr")
    web_reader = reader.table("web")
    output_reader = reader.table("output")
    queue_reader = reader.table("queue")
    index_reader = reader.table("index")
    reader.reject_unknown({"state_dir", "watch", "ocr", "web", "output", "queue", "index"})

    watch = WatchConfig(
        paths=_watch_paths(watch_reader, base_dir),
        recursive=watch_reader.boolean("recursive", True),
        polling=watch_reader.boolean("polling", False),
        settle_seconds=watch_reader.number("settle_seconds", 2.0, minimum=0.0),
        rescan_seconds=watch_reader.number("rescan_seconds", 300.0, minimum=0.0),
        patterns=watch_reader.strings("patterns", DEFAULT_PATTERNS, allow_empty=False),
        ignore=watch_reader.strings("ignore", DEFAULT_IGNORE, allow_empty=True),
        follow_symlinks=watch_reader.boolean("follow_symlinks", False),
    )
    watch_reader.reject_unknown(set(WatchConfig.__dataclass_fields__))

    model_text = ocr_reader.string("model", "")
    columns = ocr_reader.integer("columns", 0, minimum=0)
    ocr = OcrConfig(
        workers=ocr_reader.integer("workers", 0, minimum=0),
        model=_model_path(model_text, base_dir, source) if model_text else None,
        hocr_name=_hocr_name(ocr_reader.string("hocr_name", "{stem}.hocr"), watch.patterns, source),
        timeout_seconds=ocr_reader.number("timeout_seconds", 300.0, minimum=1.0),
        columns=columns or None,
        retries=ocr_reader.integer("retries", 3, minimum=0),
        retry_seconds=ocr_reader.number("retry_seconds", 60.0, minimum=0.0),
        max_pixels=ocr_reader.integer("max_pixels", 200_000_000, minimum=1),
        max_file_bytes=ocr_reader.integer("max_file_bytes", 2_000_000_000, minimum=1),
        reocr=ocr_reader.choice("reocr", "auto", REOCR_MODES),
        lexicon=ocr_reader.boolean("lexicon", True),
        reread=ocr_reader.boolean("reread", True),
        languages=_languages(ocr_reader),
        user_words=_user_words(ocr_reader, base_dir),
        pdf_text=ocr_reader.choice("pdf_text", "auto", PDF_TEXT_MODES),
        pdf_dpi=ocr_reader.number("pdf_dpi", 300.0, minimum=10.0),
        max_pdf_pages=ocr_reader.integer("max_pdf_pages", 2000, minimum=1),
    )
    ocr_reader.reject_unknown(set(OcrConfig.__dataclass_fields__))

    web = _web(web_reader)
    output = _output(output_reader)
    queue = _queue(queue_reader)
    index = _index(index_reader)

    if state_dir.exists() and not state_dir.is_dir():
        raise ConfigError("state_dir", f"{state_dir} exists and is not a folder", source)
    return Config(
        state_dir=state_dir,
        watch=watch,
        ocr=ocr,
        web=web,
        output=output,
        queue=queue,
        index=index,
        source=source,
    )


def _queue(reader: _Reader) -> QueueConfig:
    queue = QueueConfig(
        backend=reader.choice("backend", "local", QUEUE_BACKENDS),
        url=reader.string("url", QueueConfig.url),
        name=reader.string("name", "scandex"),
        path_map=_path_map(reader),
    )
    reader.reject_unknown(set(QueueConfig.__dataclass_fields__))
    if not queue.url.startswith(REDIS_URL_SCHEMES):
        schemes = ", ".join(REDIS_URL_SCHEMES)
        raise ConfigError(
            reader.key("url"), f"must be a Redis URL ({schemes}), not {queue.url!r}", reader.source
        )
    if not queue.name or not all(ch.isalnum() or ch in "-_." for ch in queue.name):
        raise ConfigError(
            reader.key("name"), "must be letters, digits, '-', '_' or '.'", reader.source
        )
    return queue


def _path_map(reader: _Reader) -> tuple[tuple[Path, Path], ...]:
    """`{ "/srv/scans" = "/mnt/scans" }`: absolute folders, the daemon's to this machine's."""
    key = reader.key("path_map")
    table = reader.data.get("path_map", {})
    if not isinstance(table, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k and v for k, v in table.items()
    ):
        raise ConfigError(
            key, 'must be a table of folders, e.g. { "/srv/scans" = "/mnt/scans" }', reader.source
        )
    pairs = []
    for theirs, mine in table.items():
        for text in (theirs, mine):
            if not Path(text).is_absolute():
                raise ConfigError(key, f"{text!r} is not an absolute path", reader.source)
        # This machine's side is resolved as watch.paths are: a scan is never read through a
        # linked folder, so a mount point reached by a link (/mnt/scans -> /media/nas) must
        # be named by where it leads. The daemon's side is the daemon's resolved path.
        pairs.append((Path(os.path.normpath(theirs)), Path(os.path.realpath(mine))))
    return tuple(pairs)


def _index(reader: _Reader) -> IndexConfig:
    index = IndexConfig(
        backend=reader.choice("backend", "whoosh", INDEX_BACKENDS),
        url=reader.string("url", ""),
    )
    reader.reject_unknown(set(IndexConfig.__dataclass_fields__))
    if index.url and not index.url.startswith(POSTGRES_URL_SCHEMES):
        raise ConfigError(
            reader.key("url"),
            f"must be a PostgreSQL URL (postgresql://USER@HOST/DATABASE), not {index.url!r}",
            reader.source,
        )
    if index.backend == "postgres" and not index.url:
        raise ConfigError(
            reader.key("url"),
            'must name the database when index.backend = "postgres"'
            " (postgresql://USER@HOST/DATABASE)",
            reader.source,
        )
    return index


def _output(reader: _Reader) -> OutputConfig:
    output = OutputConfig(pdf=reader.boolean("pdf", False), pdfa=reader.boolean("pdfa", False))
    reader.reject_unknown(set(OutputConfig.__dataclass_fields__))
    return output


def _web(reader: _Reader) -> WebConfig:
    web = WebConfig(
        host=reader.string("host", "127.0.0.1"),
        port=reader.integer("port", 8421, minimum=1),
        token=reader.string("token", ""),
        search_timeout_seconds=reader.number("search_timeout_seconds", 10.0, minimum=0.1),
        cache_mb=reader.integer("cache_mb", 512, minimum=0),
        cors_origins=reader.strings("cors_origins", (), allow_empty=True),
    )
    reader.reject_unknown(set(WebConfig.__dataclass_fields__))
    if not web.host:
        raise ConfigError(reader.key("host"), "must not be empty", reader.source)
    if web.port > 65535:
        raise ConfigError(reader.key("port"), "must be at most 65535", reader.source)
    return web


def _watch_paths(reader: _Reader, base_dir: Path) -> tuple[Path, ...]:
    """Watched folders, resolved; each must exist, except a relative one whose parent does.

    A missing relative folder (the default `scans` next to config.toml in a fresh checkout)
    is created by `scandex run`. A missing absolute folder is an error instead: it is usually
    an unmounted share or a typo, and creating it would hide that.
    """
    key = reader.key("paths")
    texts = reader.strings("paths", ("scans",), allow_empty=False)
    paths: list[Path] = []
    for text in texts:
        raw = Path(text).expanduser()
        path = (base_dir / raw).resolve()
        if path.exists() and not path.is_dir():
            raise ConfigError(key, f"{path} is not a folder", reader.source)
        if not path.exists() and raw.is_absolute():
            # Usually a share that is not mounted yet: an error that clears up by itself.
            raise MissingFolderError(
                key, f"folder {path} does not exist (is the share mounted?)", reader.source
            )
        if not path.exists() and not path.parent.is_dir():
            raise ConfigError(key, f"folder {path} does not exist", reader.source)
        paths.append(path)
    for i, a in enumerate(paths):
        for b in paths[i + 1 :]:
            if a == b or a.is_relative_to(b) or b.is_relative_to(a):
                raise ConfigError(key, f"{a} and {b} overlap; list each folder once", reader.source)
    return tuple(paths)


def _languages(reader: _Reader) -> tuple[str, ...]:
    from scandex.lexicons import available_languages

    languages = reader.strings("languages", DEFAULT_LANGUAGES, allow_empty=True)
    shipped = available_languages()
    for language in languages:
        if language not in shipped:
            raise ConfigError(
                reader.key("languages"),
                f"no word list for {language!r} (available: {', '.join(shipped)})",
                reader.source,
            )
    return languages


def _user_words(reader: _Reader, base_dir: Path) -> Path | None:
    text = reader.string("user_words", "")
    if not text:
        return None
    path = (base_dir / Path(text).expanduser()).resolve()
    if not path.is_file():
        key = reader.key("user_words")
        raise ConfigError(key, f"word list {path} does not exist", reader.source)
    return path


def _model_path(text: str, base_dir: Path, source: Path | None) -> Path:
    path = (base_dir / Path(text).expanduser()).resolve()
    if not path.is_file():
        raise ConfigError("ocr.model", f"model file {path} does not exist", source)
    return path


def _hocr_name(template: str, patterns: tuple[str, ...], source: Path | None) -> str:
    """The hOCR name template, checked so its output can never look like a scan to watch."""
    try:
        sample = template.format(stem="scan", name="scan.png")
    except (KeyError, IndexError, ValueError):
        raise ConfigError(
            "ocr.hocr_name", f"{template!r}: only {{stem}} and {{name}} may be used", source
        ) from None
    if "{stem}" not in template and "{name}" not in template:
        raise ConfigError("ocr.hocr_name", "must contain {stem} or {name}", source)
    if "/" in template or "\\" in template or sample.startswith("."):
        raise ConfigError("ocr.hocr_name", "must be a plain, visible file name", source)
    if any(fnmatch(sample.lower(), p.lower()) for p in patterns):
        raise ConfigError(
            "ocr.hocr_name", f"{sample!r} would match watch.patterns and be OCRed again", source
        )
    return template


class _Reader:
    """Typed access to one TOML table, with errors naming the dotted key."""

    def __init__(self, data: Mapping[str, Any], prefix: str, source: Path | None) -> None:
        self.data = data
        self.prefix = prefix
        self.source = source

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def table(self, name: str) -> _Reader:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(self.key(name), "must be a table ([section])", self.source)
        return _Reader(value, f"{self.key(name)}.", self.source)

    def reject_unknown(self, known: set[str]) -> None:
        for name in self.data:
            if name not in known:
                hint = ", ".join(sorted(k for k in known if k != "source"))
                raise ConfigError(self.key(name), f"unknown key (known: {hint})", self.source)

    def _get(self, name: str, default: Any, check: Callable[[Any], bool], kind: str) -> Any:
        value = self.data.get(name, default)
        if not check(value):
            raise ConfigError(
                self.key(name), f"must be {kind}, not {_describe(value)}", self.source
            )
        return value

    def boolean(self, name: str, default: bool) -> bool:
        return bool(self._get(name, default, lambda v: isinstance(v, bool), "true or false"))

    def string(self, name: str, default: str) -> str:
        return str(self._get(name, default, lambda v: isinstance(v, str), "a string"))

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.string(name, default)
        if value not in choices:
            quoted = ", ".join(f'"{c}"' for c in choices)
            raise ConfigError(
                self.key(name), f"must be one of {quoted}, not {value!r}", self.source
            )
        return value

    def integer(self, name: str, default: int, *, minimum: int) -> int:
        value = self._get(name, default, _is_int, "a whole number")
        if value < minimum:
            raise ConfigError(self.key(name), f"must be at least {minimum}", self.source)
        return int(value)

    def number(self, name: str, default: float, *, minimum: float) -> float:
        value = self._get(name, default, lambda v: _is_int(v) or isinstance(v, float), "a number")
        if value < minimum:
            raise ConfigError(self.key(name), f"must be at least {minimum:g}", self.source)
        return float(value)

    def strings(self, name: str, default: tuple[str, ...], *, allow_empty: bool) -> tuple[str, ...]:
        value = self._get(
            name,
            list(default),
            lambda v: isinstance(v, list) and all(isinstance(s, str) and s for s in v),
            "a list of non-empty strings",
        )
        if not value and not allow_empty:
            raise ConfigError(self.key(name), "must not be empty", self.source)
        return tuple(value)

    def path(self, name: str, default: str, base_dir: Path) -> Path:
        text = self.string(name, default)
        if not text:
            raise ConfigError(self.key(name), "must not be empty", self.source)
        return (base_dir / Path(text).expanduser()).resolve()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _describe(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names |= {list: "a list", dict: "a table"}
    return f"{names.get(type(value), type(value).__name__)} ({value!r})"[:80]
