"""Latency of `scandex serve` over a large generated index (not a test).

    .venv/bin/python benchmarks/bench_web.py --pages 10000 --dir /tmp/scandex-bench-web

Builds the 10,000-page index of bench_search.py (same documents, same queries) with its scans
under DIR/scans, and writes a real image for every scan the queries find (2480x3508 pages,
each word a black box where the index says; one PNG per page, a TIFF for several pages).
Then serves it with uvicorn on 127.0.0.1 and times, per query, over HTTP with keep-alive:

- the index alone (Index.search in the same process, limit 10): the peer, what `scandex
  search` costs without interpreter start-up;
- /api/search (limit 10);
- the search page (HTML, first 10 results) with nothing cached, then with the page sizes
  cached;
- the search page and all its thumbnails, fetched six at a time as a browser does, with no
  thumbnail cached (state_dir/web-cache emptied before each query) and with all cached.

Prints the median and 95th percentile per measure in milliseconds, and the command.
"""

from __future__ import annotations

import argparse
import functools
import http.client
import random
import re
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
from bench_search import generate, percentile, queries
from PIL import Image

from scandex.config import Config, parse_config
from scandex.indexer import open_index
from scandex.indexer.whoosh_index import build_and_swap
from scandex.page import Document
from scandex.web.library import Library

BENCH_ROOT = "/bench/scans"
BROWSER_CONNECTIONS = 6


def documents(pages: int, scans: Path) -> Iterator[tuple[Document, str | None]]:
    """bench_search's documents, with their scans under `scans` (TIFF when several pages)."""
    for document, hocr in generate(pages):
        path = str(scans) + document.path[len(BENCH_ROOT) :]
        if len(document.pages) > 1:
            path = path[: -len(".png")] + ".tif"
        yield replace(document, path=path), hocr


def write_image(document: Document) -> None:
    """The scan's image: every word of every page a black box where the index has it."""
    frames = []
    for page in document.pages:
        image = np.full((page.height, page.width), 250, np.uint8)
        for line in page.lines:
            for word in line.words:
                box = word.bbox
                image[box.y0 : box.y1, box.x0 : box.x1] = 30
        frames.append(Image.fromarray(image))
    path = Path(document.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if len(frames) == 1:
        frames[0].save(path, compress_level=1)
    else:
        frames[0].save(path, save_all=True, append_images=frames[1:], compression="tiff_lzw")


def the_queries(scans: Path) -> list[tuple[str, str, dict[str, object]]]:
    """(kind, query, options) of bench_search, the path filter moved under `scans`."""
    cases = []
    for kind, items in queries(random.Random(11)).items():
        for query, options in items:
            if "path_prefix" in options:
                prefix = str(options["path_prefix"])
                options = {"path_prefix": str(scans) + prefix[len(BENCH_ROOT) :]}
            cases.append((kind, query, options))
    return cases


def params(query: str, options: dict[str, object]) -> str:
    values = {"q": query}
    if options.get("fuzzy"):
        values["fuzzy"] = "1"
    if options.get("path_prefix"):
        values["path"] = str(options["path_prefix"])
    return urlencode(values)


class Client:
    """One keep-alive HTTP connection per thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.local = threading.local()

    def get(self, url: str) -> bytes:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.local.connection = connection
        connection.request("GET", url)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{url}: {response.status} {body[:200]!r}")
        return body


def timed_ms(function, *args) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = function(*args)
    return (time.perf_counter() - start) * 1000, value


def page_with_thumbnails(client: Client, pool: ThreadPoolExecutor, url: str) -> int:
    html = client.get(url).decode()
    thumbs = re.findall(r'src="http://[^/]+(/image/[^"]+/thumb\.jpg)"', html)
    list(pool.map(client.get, thumbs))
    return len(thumbs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/scandex-bench-web"))
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each warm query")
    parser.add_argument("--rebuild", action="store_true", help="rebuild even if --dir exists")
    args = parser.parse_args()

    import uvicorn

    from scandex.web import create_app

    root: Path = args.dir.resolve()
    scans = root / "scans"
    if args.rebuild:
        shutil.rmtree(root, ignore_errors=True)
    scans.mkdir(parents=True, exist_ok=True)
    config: Config = parse_config(
        {"state_dir": str(root / "state"), "watch": {"paths": [str(scans)]}},
        base_dir=root,
        source=None,
    )
    if not config.index_dir.exists():
        start = time.perf_counter()
        count = build_and_swap(config.index_dir, documents(args.pages, scans))
        print(f"built {count} documents, {args.pages} pages in {time.perf_counter() - start:.1f} s")
    cases = the_queries(scans)

    # A real image for every scan a query finds (the rest are never asked for).
    library = Library(config)
    wanted: dict[str, None] = {}
    for _, query, options in cases:
        for hit in library.search(query, **options).hits:  # type: ignore[arg-type]
            wanted.setdefault(hit.path)
    missing = {path for path in wanted if not Path(path).exists()}
    made = 0
    start = time.perf_counter()
    for document, _ in documents(args.pages, scans) if missing else ():
        if document.path in missing:
            write_image(document)
            made += 1
    if made:
        print(f"wrote {made} scans in {time.perf_counter() - start:.1f} s")
    index = open_index(config.index_dir, writable=False)
    stats = index.stats()
    print(f"index: {stats.documents} documents, {stats.pages} pages; {len(wanted)} scans found")

    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline:
            sys.exit("the server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    client = Client(port)
    cache = config.state_dir / "web-cache"
    columns: dict[str, list[float]] = {
        "index alone": [],
        "/api/search": [],
        "page, nothing cached": [],
        "page, sizes cached": [],
        "page + thumbnails, cold": [],
        "page + thumbnails, cached": [],
    }
    thumbnails = []
    with ThreadPoolExecutor(BROWSER_CONNECTIONS) as pool:
        for _, query, options in cases:
            url = "/?" + params(query, options)
            api = "/api/search?" + params(query, options)
            client.get(api)  # warms the index's term expansions, as bench_search does
            for _ in range(args.repeat):
                search = functools.partial(index.search, query, **options)  # type: ignore[arg-type]
                columns["index alone"].append(timed_ms(search)[0])
                columns["/api/search"].append(timed_ms(client.get, api)[0])
            shutil.rmtree(cache, ignore_errors=True)
            columns["page, nothing cached"].append(timed_ms(client.get, url)[0])
            for _ in range(args.repeat):
                columns["page, sizes cached"].append(timed_ms(client.get, url)[0])
            shutil.rmtree(cache, ignore_errors=True)
            cold, count = timed_ms(page_with_thumbnails, client, pool, url)
            columns["page + thumbnails, cold"].append(cold)
            thumbnails.append(count)
            for _ in range(args.repeat):
                columns["page + thumbnails, cached"].append(
                    timed_ms(page_with_thumbnails, client, pool, url)[0]
                )
    server.should_exit = True
    thread.join(30)
    index.close()
    library.close()

    print(
        f"\n{len(cases)} queries (bench_search's kinds), 10 results a page, "
        f"{statistics.mean(thumbnails):.1f} thumbnails a page on average\n"
    )
    print(f"{'measure':<28} {'n':>4} {'median ms':>10} {'p95 ms':>8}")
    for name, values in columns.items():
        print(
            f"{name:<28} {len(values):>4} {statistics.median(values):>10.1f} "
            f"{percentile(values, 0.95):>8.1f}"
        )
    print(
        "\nHTTP over 127.0.0.1 with keep-alive, uvicorn in the same process. Cold: "
        "state_dir/web-cache emptied before the query (page sizes and thumbnails are made from "
        "the scans; the scans themselves are in the OS cache). Thumbnails are fetched "
        f"{BROWSER_CONNECTIONS} at a time.\n"
        f"command: {' '.join([Path(sys.executable).name, *sys.argv])}"
    )


if __name__ == "__main__":
    main()
