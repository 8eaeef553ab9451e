"""The site: routes over a Library, server-rendered pages, and one guard in front of them.

    app = create_app(load_config(path))       # an ASGI app; `scandex serve` runs it in uvicorn

Pages: `/` (search), `/view/{doc}/{page}` (one page, every hit marked). Files: the page image
converted for the browser (`/image/...`), the original scan, its hOCR and searchable PDF
(`/file/...`). Programs: `/api/search`, `/api/status`, and IIIF (`/iiif/{doc}/manifest`,
`/iiif/{doc}/search`, `/iiif/{doc}/search/v1`). Nothing writes: no route changes the index,
the scans or the state; only page images are cached, under state_dir.

Blocking work (the index, decoding images) runs in worker threads with a deadline, so one
slow search answers 503 and never stalls the rest of the site.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import ipaddress
import json
import logging
import os
from base64 import b64decode
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scandex.cli.search import highlight, hit_to_json
from scandex.config import Config
from scandex.errors import QueryError, ScandexError, ScanError
from scandex.indexer import HitLine, NoIndexError, SearchHit
from scandex.page import BBox
from scandex.web import iiif
from scandex.web.cache import FileCache, source_key
from scandex.web.images import page_sizes, render_page
from scandex.web.library import MISSING, Busy, Library, NotFound, Scan, doc_id

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
THUMB_PX = 480  # results: shown at about 240 CSS pixels, sharp on a 2x screen
VIEW_PX = 2400  # the page view, and the IIIF image
IMAGE_SIZES = {"thumb": THUMB_PX, "page": VIEW_PX}
RESULTS_PER_PAGE = 10
MAX_RESULT_PAGES = 50
RENDERS_AT_ONCE = 2  # bounds the memory of decoding: each holds one full page
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# Private-use characters mark hit words in line text before it is escaped into HTML.
_MARK = ("\ue000", "\ue001")

T = TypeVar("T")


def create_app(
    config: Config,
    *,
    allowed_hosts: Collection[str] | None = LOOPBACK_NAMES,
    library: Library | None = None,
) -> Starlette:
    """The site for `config`. `allowed_hosts`: Host header names accepted (None = any), the
    defence against DNS rebinding when nothing else protects a loopback server."""
    site = _Site(
        config, library or Library(config, timeout_seconds=config.web.search_timeout_seconds)
    )
    routes = [
        Route("/", site.search_page, name="search"),
        Route("/view/{doc}/{page:int}", site.view_page, name="view"),
        Route("/image/{doc}/{page:int}/{size}.jpg", site.image, name="image"),
        Route("/file/{doc}", site.scan_file, name="scan_file"),
        Route("/file/{doc}/hocr", site.hocr_file, name="hocr_file"),
        Route("/file/{doc}/pdf", site.pdf_file, name="pdf_file"),
        Route("/api/search", site.api_search, name="api_search"),
        Route("/api/status", site.api_status, name="api_status"),
        Route("/iiif/{doc}/manifest", site.iiif_manifest, name="iiif_manifest"),
        Route("/iiif/{doc}/search", site.iiif_search, name="iiif_search"),
        Route("/iiif/{doc}/search/v1", site.iiif_search_v1, name="iiif_search_v1"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            HTTPException: site.error,
            ScandexError: site.error,
            Exception: site.error,
        },
        lifespan=site.lifespan,
    )
    app.add_middleware(
        Guard,
        token=config.web.token,
        allowed_hosts=allowed_hosts,
        cors_origins=config.web.cors_origins,
    )
    return app


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# ----------------------------------------------------------------------------- the guard


class Guard:
    """Every request: the Host check, the token, and headers that keep the pages to themselves.

    The token is accepted as a Bearer token (programs) or as the password of HTTP Basic
    authentication with any user name (browsers ask for it themselves after a 401).
    """

    HEADERS = [
        (
            b"content-security-policy",
            b"default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
            b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]

    # What a IIIF viewer on another origin reads (with web.cors_origins).
    SHARED_PREFIXES = ("/iiif/", "/image/")

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str,
        allowed_hosts: Collection[str] | None,
        cors_origins: Collection[str] = (),
    ) -> None:
        self.app = app
        self.token = token.encode("utf-8")
        self.allowed_hosts = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}
        self.cors_origins = frozenset(cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self.allowed_hosts is not None and _host_name(headers) not in self.allowed_hosts:
            await _plain(400, "unexpected Host header", send)
            return
        if self.token and not self._authorized(headers.get("authorization", "")):
            await _plain(
                401,
                "scandex: this server needs its token (web.token) as the password",
                send,
                [(b"www-authenticate", b'Basic realm="scandex", charset="UTF-8"')],
            )
            return

        extra = [*self.HEADERS, *self._cors(scope["path"], headers.get("origin", ""))]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *extra]
            await send(message)

        await self.app(scope, receive, with_headers)

    def _cors(self, path: str, origin: str) -> list[tuple[bytes, bytes]]:
        if not origin or not path.startswith(self.SHARED_PREFIXES):
            return []
        if "*" in self.cors_origins:
            return [(b"access-control-allow-origin", b"*")]
        if origin in self.cors_origins:
            return [(b"access-control-allow-origin", origin.encode()), (b"vary", b"Origin")]
        return []

    def _authorized(self, authorization: str) -> bool:
        scheme, _, credentials = authorization.partition(" ")
        given = b""
        if scheme.lower() == "bearer":
            given = credentials.strip().encode("utf-8")
        elif scheme.lower() == "basic":
            try:
                given = b64decode(credentials.strip(), validate=True).partition(b":")[2]
            except ValueError:
                return False
        return bool(given) and hmac.compare_digest(given, self.token)


def _host_name(headers: Headers) -> str:
    host = headers.get("host", "").lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


async def _plain(
    status: int, text: str, send: Send, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = f"{text}\n".encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), *(extra or [])]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# ----------------------------------------------------------------------------- view models


@dataclass(frozen=True)
class Segment:
    text: str
    hit: bool


@dataclass(frozen=True)
class HitView:
    """One result on the search page."""

    doc: str
    page: int
    name: str
    folder: str
    score: float
    view_url: str
    thumb_url: str | None
    size: tuple[int, int] | None  # the page's pixels; None when the image cannot be shown
    problem: str  # why there is no image
    boxes: list[BBox]
    lines: list[list[Segment]]


@dataclass(frozen=True)
class WordView:
    text: str
    hit: int | None  # its number among the page's hits, in reading order


def segments(line: HitLine) -> list[Segment]:
    """The line's text cut into plain and hit pieces, by the rule `scandex search` marks by."""
    marked = highlight(line, _MARK)
    pieces: list[Segment] = []
    for chunk in marked.split(_MARK[0]):
        hit, _, rest = chunk.partition(_MARK[1]) if _MARK[1] in chunk else ("", "", chunk)
        if hit:
            pieces.append(Segment(hit, True))
        if rest:
            pieces.append(Segment(rest, False))
    return pieces


# ----------------------------------------------------------------------------- the site


class _Site:
    def __init__(self, config: Config, library: Library) -> None:
        self.config = config
        self.library = library
        self.templates = Jinja2Templates(directory=HERE / "templates")
        self.cache = FileCache(config.state_dir / "web-cache", config.web.cache_mb * 1024 * 1024)
        self.timeout_seconds = config.web.search_timeout_seconds
        self.index_limiter = anyio.CapacityLimiter(8)
        self.render_limiter = anyio.CapacityLimiter(RENDERS_AT_ONCE)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(self.library.close)

    async def _run(
        self, function: Callable[..., T], *args: Any, limiter: anyio.CapacityLimiter | None = None
    ) -> T:
        """`function(*args)` in a worker thread; Busy when it takes longer than the deadline.

        The thread itself cannot be stopped; it finishes on its own and meanwhile holds its
        index handle, so a burst of slow searches turns into 503s rather than a queue.
        """
        try:
            with anyio.fail_after(self.timeout_seconds):
                return await anyio.to_thread.run_sync(
                    functools.partial(function, *args),
                    abandon_on_cancel=True,
                    limiter=limiter or self.index_limiter,
                )
        except TimeoutError:
            raise Busy(
                f"that took longer than {self.timeout_seconds:g} s "
                "(web.search_timeout_seconds); try a narrower query"
            ) from None

    # -- pages

    async def search_page(self, request: Request) -> Response:
        form = _SearchForm.read(request)
        context: dict[str, Any] = {"form": form, "roots": self.config.watch.paths}
        if form.query:
            try:
                result = await self._run(
                    functools.partial(
                        self.library.search,
                        form.query,
                        limit=RESULTS_PER_PAGE,
                        offset=(form.page - 1) * RESULTS_PER_PAGE,
                        path_prefix=form.path_prefix,
                        fuzzy=form.fuzzy,
                    )
                )
            except (QueryError, NoIndexError, Busy) as exc:
                context["problem"] = str(exc)
                status = 400 if isinstance(exc, QueryError) else 503
                return self._render(request, "search.html", context, status)
            hits = await self._run(self._hit_views, request, result.hits, form)
            context |= {
                "hits": hits,
                "first": (form.page - 1) * RESULTS_PER_PAGE + 1,
                "previous_url": form.url(request, page=form.page - 1) if form.page > 1 else None,
                "next_url": form.url(request, page=form.page + 1)
                if result.more and form.page < MAX_RESULT_PAGES
                else None,
            }
        return self._render(request, "search.html", context)

    def _hit_views(
        self, request: Request, hits: list[SearchHit], form: _SearchForm
    ) -> list[HitView]:
        views = []
        for hit in hits:
            doc = doc_id(hit.path)
            size, problem = self._page_size(hit.path, hit.page)
            views.append(
                HitView(
                    doc=doc,
                    page=hit.page,
                    name=os.path.basename(hit.path),
                    folder=os.path.dirname(hit.path),
                    score=hit.score,
                    view_url=_with_query(
                        request.url_for("view", doc=doc, page=hit.page), form.view_params()
                    ),
                    thumb_url=str(request.url_for("image", doc=doc, page=hit.page, size="thumb"))
                    if size
                    else None,
                    size=size,
                    problem=problem,
                    boxes=[word.bbox for line in hit.lines for word in line.words],
                    lines=[segments(line) for line in hit.lines],
                )
            )
        return views

    def _page_size(self, indexed_path: str, page: int) -> tuple[tuple[int, int] | None, str]:
        """The page's size in pixels, or None and the reason it cannot be shown."""
        file = self.library.servable(indexed_path)
        if file is None:
            return None, MISSING
        try:
            sizes = self._sizes(file)
        except ScanError as exc:
            return None, f"The scan cannot be shown: {exc.reason}."
        if not 1 <= page <= len(sizes):
            return None, f"The scan no longer has a page {page}; it changed since it was indexed."
        return sizes[page - 1], ""

    def _sizes(self, file: Path) -> list[tuple[int, int]]:
        try:
            key = source_key(file, "sizes")
        except OSError:
            raise ScanError(file, "file not found") from None
        pdf_dpi = self.config.ocr.pdf_dpi
        data = self.cache.get_or_make(
            key, ".json", lambda: json.dumps(page_sizes(file, pdf_dpi=pdf_dpi)).encode()
        )
        return [(int(w), int(h)) for w, h in json.loads(data)]

    async def view_page(self, request: Request) -> Response:
        form = _SearchForm.read(request)
        scan = await self._scan(request)
        number = request.path_params["page"]
        page = scan.page(number)
        size, problem = await self._run(self._page_size, scan.indexed_path, number)
        hits: dict[int, SearchHit] = {}
        if form.query:
            try:
                hits = await self._run(
                    functools.partial(self.library.hits_in, scan, form.query, fuzzy=form.fuzzy)
                )
            except QueryError as exc:
                problem = problem or f"The query cannot be used: {exc}"
        boxes, lines = _page_words(page.lines, hits.get(number))
        numbers = [p.page for p in scan.pages]
        hit_pages = sorted(hits)
        context = {
            "form": form,
            "scan": scan,
            "page": number,
            "pages": numbers,
            "size": size,
            "problem": problem,
            "boxes": boxes,
            "lines": lines,
            "hit_pages": hit_pages,
            "image_url": request.url_for("image", doc=scan.id, page=number, size="page")
            if size
            else None,
            "page_url": lambda n: _with_query(
                request.url_for("view", doc=scan.id, page=n), form.view_params()
            ),
            "previous_hit_page": max((p for p in hit_pages if p < number), default=None),
            "next_hit_page": min((p for p in hit_pages if p > number), default=None),
            "search_url": _with_query(request.url_for("search"), form.search_params()),
        }
        return self._render(request, "view.html", context)

    async def _scan(self, request: Request) -> Scan:
        return await self._run(self.library.scan, request.path_params["doc"])

    def _render(
        self, request: Request, template: str, context: dict[str, Any], status: int = 200
    ) -> Response:
        return self.templates.TemplateResponse(request, template, context, status_code=status)

    # -- files

    async def image(self, request: Request) -> Response:
        size_px = IMAGE_SIZES.get(request.path_params["size"])
        if size_px is None:
            raise NotFound("no such image size")
        scan = await self._scan(request)
        number = request.path_params["page"]
        scan.page(number)
        if scan.file is None:
            raise NotFound(scan.problem)
        file = scan.file
        try:
            key = source_key(file, "page", number, size_px)
        except OSError:
            raise NotFound("the scan was moved or deleted") from None
        etag = f'"{key[:32]}"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"etag": etag})

        def make() -> bytes:
            return render_page(
                file, number, max_side_px=size_px, max_pixels=self.config.ocr.max_pixels
            )

        # Only making an image waits for one of the few render slots; a cached one does not.
        data = await self._run(self.cache.get, key, ".jpg")
        if data is None:
            data = await self._run(
                self.cache.get_or_make, key, ".jpg", make, limiter=self.render_limiter
            )
        return Response(
            data,
            media_type="image/jpeg",
            headers={"etag": etag, "cache-control": "private, max-age=300"},
        )

    async def scan_file(self, request: Request) -> Response:
        scan = await self._scan(request)
        if scan.file is None:
            raise NotFound(scan.problem)
        return _download(scan.file)

    async def hocr_file(self, request: Request) -> Response:
        scan = await self._scan(request)
        if scan.hocr is None:
            raise NotFound("this scan has no hOCR file where scandex writes them")
        return _download(scan.hocr, media_type="application/xhtml+xml")

    async def pdf_file(self, request: Request) -> Response:
        scan = await self._scan(request)
        if scan.pdf is None:
            raise NotFound("this scan has no searchable PDF beside it")
        return _download(scan.pdf, media_type="application/pdf")

    # -- programs

    async def api_search(self, request: Request) -> Response:
        params = request.query_params
        query = params.get("q", "")
        fuzzy = _flag(params.get("fuzzy"))
        limit = _integer(params, "limit", 10)
        offset = _integer(params, "offset", 0)
        path = params.get("path") or None
        result = await self._run(
            functools.partial(
                self.library.search,
                query,
                limit=limit,
                offset=offset,
                path_prefix=_prefix(path) if path else None,
                fuzzy=fuzzy,
            )
        )
        view_params = {"q": query, **({"fuzzy": "1"} if fuzzy else {})}
        body = []
        for hit in result.hits:
            doc = doc_id(hit.path)
            view = _with_query(request.url_for("view", doc=doc, page=hit.page), view_params)
            body.append({**hit_to_json(hit), "doc": doc, "view": view})
        return JSONResponse(body, headers={"x-more-results": "1" if result.more else "0"})

    async def api_status(self, request: Request) -> Response:
        from scandex.daemon.status import read_status

        return JSONResponse(await self._run(read_status, self.config))

    async def iiif_manifest(self, request: Request) -> Response:
        scan = await self._scan(request)
        if scan.file is None:
            raise NotFound(scan.problem)
        sizes = await self._run(self._sizes, scan.file)
        canvases = []
        for page in scan.pages:
            if page.page > len(sizes):
                continue
            width, height = sizes[page.page - 1]
            scale = min(1.0, VIEW_PX / max(width, height))
            canvases.append(
                iiif.Canvas(
                    page.page,
                    width,
                    height,
                    str(request.url_for("image", doc=scan.id, page=page.page, size="page")),
                    max(1, round(width * scale)),
                    max(1, round(height * scale)),
                )
            )
        urls = iiif.ManifestUrls(
            manifest=str(request.url_for("iiif_manifest", doc=scan.id)),
            canvas=_canvas_url(request, scan.id),
            search=str(request.url_for("iiif_search", doc=scan.id)),
            search_v1=str(request.url_for("iiif_search_v1", doc=scan.id)),
        )
        return _json_ld(iiif.manifest(urls, scan.file.name, canvases))

    async def iiif_search(self, request: Request) -> Response:
        return await self._iiif_search(request, iiif.search_v2)

    async def iiif_search_v1(self, request: Request) -> Response:
        return await self._iiif_search(request, iiif.search_v1)

    async def _iiif_search(
        self, request: Request, build: Callable[..., dict[str, Any]]
    ) -> Response:
        scan = await self._scan(request)
        query = request.query_params.get("q", "")
        hits = await self._run(functools.partial(self.library.hits_in, scan, query))
        base = str(request.url_for("iiif_manifest", doc=scan.id)).rsplit("/", 1)[0]

        def annotation(page: int, line: int, word: int) -> str:
            return f"{base}/annotation/p{page}-l{line}-w{word}"

        # Only q is used: motivation, date, user and the rest are reported as ignored.
        ignored = sorted({key for key in request.query_params if key != "q"})
        canvas = _canvas_url(request, scan.id)
        return _json_ld(build(str(request.url), hits, canvas, annotation, ignored))

    # -- errors

    async def error(self, request: Request, exc: Exception) -> Response:
        status, message = _status_of(exc)
        if status >= 500 and not isinstance(exc, Busy | NoIndexError):
            log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        path = request.url.path
        if path.startswith(("/api/", "/iiif/")):
            return JSONResponse({"error": message}, status_code=status)
        if path.startswith(("/image/", "/file/", "/static/")):
            return Response(message + "\n", status_code=status, media_type="text/plain")
        context = {"status": status, "message": message, "form": _SearchForm.read(request)}
        return self._render(request, "error.html", context, status)


def _status_of(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, HTTPException):
        return exc.status_code, str(exc.detail)
    if isinstance(exc, NotFound):
        return 404, str(exc)
    if isinstance(exc, QueryError):
        return 400, str(exc)
    if isinstance(exc, Busy | NoIndexError):
        return 503, str(exc)
    if isinstance(exc, ScandexError):
        return 500, str(exc)
    return 500, "internal error; the server's log has the details"


# ----------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class _SearchForm:
    query: str
    fuzzy: bool
    path: str
    page: int

    @staticmethod
    def read(request: Request) -> _SearchForm:
        params = request.query_params
        try:
            page = int(params.get("page", "1"))
        except ValueError:
            page = 1
        return _SearchForm(
            query=params.get("q", "").strip(),
            fuzzy=_flag(params.get("fuzzy")),
            path=params.get("path", "").strip(),
            page=min(max(1, page), MAX_RESULT_PAGES),
        )

    @property
    def path_prefix(self) -> str | None:
        return _prefix(self.path) if self.path else None

    def search_params(self, **changes: Any) -> dict[str, str]:
        params = {"q": self.query}
        if self.fuzzy:
            params["fuzzy"] = "1"
        if self.path:
            params["path"] = self.path
        page = changes.get("page", 1)
        if page > 1:
            params["page"] = str(page)
        return params

    def view_params(self) -> dict[str, str]:
        return {k: v for k, v in self.search_params().items() if k in ("q", "fuzzy")}

    def url(self, request: Request, **changes: Any) -> str:
        return _with_query(request.url_for("search"), self.search_params(**changes))


def _page_words(
    lines: tuple[HitLine, ...], hit: SearchHit | None
) -> tuple[list[BBox], list[list[WordView]]]:
    """The page's hit boxes in reading order, and its lines as words numbered by hit."""
    wanted = {word.bbox for line in (hit.lines if hit else ()) for word in line.words}
    boxes: list[BBox] = []
    views = []
    for line in lines:
        words = []
        for word in line.words or ():
            number = None
            if word.bbox in wanted:
                number = len(boxes)
                boxes.append(word.bbox)
            words.append(WordView(word.text, number))
        views.append(words or [WordView(line.text, None)])
    return boxes, views


def _prefix(text: str) -> str:
    """A folder filter as an indexed-path prefix: absolute, a folder meaning its contents."""
    prefix = os.path.normpath(text) if text.startswith(os.sep) else text
    if text.endswith(os.sep) or os.path.isdir(prefix):
        prefix = prefix.rstrip(os.sep) + os.sep
    return prefix


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "on", "yes")


def _integer(params: Any, name: str, default: int) -> int:
    text = params.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise QueryError(f"{name} must be a whole number, not {text!r}") from None


def _with_query(url: Any, params: dict[str, str]) -> str:
    text = str(url)
    return f"{text}?{urlencode(params)}" if params else text


def _canvas_url(request: Request, doc: str) -> Callable[[int], str]:
    base = str(request.url_for("iiif_manifest", doc=doc)).rsplit("/", 1)[0]
    return lambda page: f"{base}/canvas/{page}"


def _json_ld(body: dict[str, Any]) -> Response:
    return JSONResponse(body, media_type="application/ld+json")


def _download(path: Path, media_type: str | None = None) -> Response:
    return FileResponse(path, media_type=media_type, filename=path.name)
