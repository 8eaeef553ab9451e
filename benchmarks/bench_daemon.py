"""Benchmark the service: pages per minute from a folder drop to searchable, and search latency.

    .venv/bin/python benchmarks/bench_daemon.py                    # 500 pages, 1 and 2 workers
    .venv/bin/python benchmarks/bench_daemon.py --pages 50 --workers 1 --index-pages 2000

Throughput: `scandex run` (a real process, the real engine) on a temporary folder; N distinct
page images are dropped at once, and the clock stops when every one is committed to the index
(searchable). Peak memory is the largest sum of RSS over the daemon and its workers. The peer
beside it is the tesseract CLI writing hOCR for the same pages with the same parallelism.

Search: a 10,000-page index built from generated hOCR (random words with boxes), queried with
words, phrases, prefixes and fuzzy words; median and p95 latency in-process. The peer is
`grep -rlF` over the same hOCR files, what one does without an index.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # synth.py renders the pages
sys.path.insert(0, str(REPO / "benchmarks"))

from common import process_table, process_tree  # noqa: E402

from scandex.daemon.state import DONE, FAILED, StateStore  # noqa: E402
from scandex.page import BBox, Block, Document, Line, Page, Word  # noqa: E402


def distinct_pages(count: int, dpi: int, variants: int = 12) -> list[bytes]:
    """`count` PNG pages with different content hashes (so none is deduplicated), drawn from
    a few rendered pages marked with a small unique pattern in the margin."""
    from synth import render_page

    layouts = ("one_column", "two_column", "letter", "headings")
    bases = [
        render_page(layouts[i % len(layouts)], dpi=dpi, seed=i, noise_sigma=4.0).image
        for i in range(variants)
    ]
    pages = []
    for i in range(count):
        image = bases[i % variants].copy()
        bits = np.array([(i >> b) & 1 for b in range(16)], dtype=np.uint8)
        image[4:6, 4 : 4 + 16] = np.where(bits, 200, 245)  # faint, outside any text
        ok, data = cv2.imencode(".png", image)
        assert ok
        pages.append(data.tobytes())
    return pages


def tree_rss_bytes(root_pid: int) -> int:
    """Resident memory of a process and all its descendants."""
    return sum(p.rss_bytes for p in process_tree(process_table(), [root_pid]))


def run_daemon_benchmark(pages: list[bytes], workers: int, work: Path) -> dict[str, float]:
    root = work / f"daemon-{workers}"
    scans = root / "scans"
    scans.mkdir(parents=True)
    config = root / "config.toml"
    config.write_text(
        'state_dir = ".scandex"\n[watch]\npaths = ["scans"]\nsettle_seconds = 1.0\n'
        "[ocr]\nretries = 0\n",
        encoding="utf-8",
    )
    notify_path = root / "notify"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify.settimeout(300)
    env = dict(os.environ, NOTIFY_SOCKET=str(notify_path))
    log = (root / "daemon.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scandex",
            "run",
            "--config",
            str(config),
            "--workers",
            str(workers),
        ],  # fmt: skip
        stdout=log,
        stderr=log,
        env=env,
    )
    try:
        while b"READY=1" not in notify.recv(4096):
            pass
        notify.setblocking(False)
        peak = [0]
        done_sampling = threading.Event()

        def sample() -> None:
            while not done_sampling.wait(0.5):
                peak[0] = max(peak[0], tree_rss_bytes(process.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.monotonic()
        for i, data in enumerate(pages):  # "at once": as fast as the disk takes them
            (scans / f"page-{i:05d}.png").write_bytes(data)
        store = StateStore(root / ".scandex" / "state.sqlite3", readonly=True)
        while True:
            counts = store.counts()
            if counts[DONE] + counts[FAILED] >= len(pages):
                break
            if process.poll() is not None:
                raise RuntimeError(f"the daemon died; see {root / 'daemon.log'}")
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        store.close()
        done_sampling.set()
        sampler.join()
        return {
            "seconds": elapsed,
            "pages_per_minute": 60.0 * counts[DONE] / elapsed,
            "failed": counts[FAILED],
            "peak_rss_mb": peak[0] / 1e6,
        }
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
        log.close()
        notify.close()


def run_tesseract_benchmark(pages: list[bytes], workers: int, work: Path) -> dict[str, float]:
    folder = work / f"tesseract-{workers}"
    folder.mkdir()
    paths = []
    for i, data in enumerate(pages):
        path = folder / f"page-{i:05d}.png"
        path.write_bytes(data)
        paths.append(path)
    env = dict(os.environ, OMP_THREAD_LIMIT="1")

    def one(path: Path) -> None:
        subprocess.run(
            ["tesseract", str(path), str(path.with_suffix("")), "hocr"],
            capture_output=True,
            check=True,
            env=env,
        )

    started = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, paths))
    elapsed = time.monotonic() - started
    return {"seconds": elapsed, "pages_per_minute": 60.0 * len(pages) / elapsed}


VOCABULARY = [
    "invoice", "receipt", "august", "contract", "meeting", "payment", "account", "letter",
    "insurance", "doctor", "garden", "railway", "library", "council", "history", "service",
    "balance", "weather", "harbour", "station", "minutes", "members", "society", "annual",
]  # fmt: skip


def generated_document(path: str, rng: random.Random, vocabulary: list[str]) -> Document:
    """One page of random words in lines, with plausible boxes (no image needed)."""
    lines = []
    y = 100
    for _ in range(30):
        x, words = 100, []
        for _ in range(rng.randint(6, 12)):
            text = rng.choice(vocabulary)
            width = 18 * len(text)
            words.append(Word(text, BBox(x, y, x + width, y + 40), 0.95))
            x += width + 20
        lines.append(
            Line(BBox(100, y, x - 20, y + 40), " ".join(w.text for w in words), 0.95, tuple(words))
        )
        y += 60
    block = Block(BBox.union_all(line.bbox for line in lines), tuple(lines))
    return Document(path, (Page(1, 2550, 3300, blocks=(block,)),))


def run_search_benchmark(index_pages: int, work: Path, queries_per_kind: int) -> list[dict]:
    from scandex.indexer import open_index
    from scandex.ocr.hocr import write_hocr

    rng = random.Random(0)
    # A long tail of rare words, as in real text, besides the common ones.
    vocabulary = VOCABULARY + [f"{w}{n}" for w in VOCABULARY for n in range(200)]
    folder = work / "hocr"
    folder.mkdir()
    index_dir = work / "index"
    started = time.monotonic()
    index = open_index(index_dir, writable=True)
    for i in range(index_pages):
        image = folder / f"{i // 1000:02d}" / f"scan-{i:05d}.png"
        image.parent.mkdir(exist_ok=True)
        doc = generated_document(str(image), rng, vocabulary)
        write_hocr(doc, image.with_suffix(".hocr"))
        index.add(doc, hocr_path=str(image.with_suffix(".hocr")))
        if i % 1000 == 999:
            index.commit()
    index.commit()
    index.close()
    build_seconds = time.monotonic() - started
    size_mb = sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file()) / 1e6
    print(f"index: {index_pages} pages built in {build_seconds:.0f} s, {size_mb:.0f} MB")

    rare = [w for w in vocabulary if w not in VOCABULARY]
    kinds = {
        "word": lambda: rng.choice(rare),
        "two words": lambda: f"{rng.choice(rare)} {rng.choice(VOCABULARY)}",
        "phrase": lambda: f'"{rng.choice(VOCABULARY)} {rng.choice(VOCABULARY)}"',
        "prefix": lambda: rng.choice(rare)[:6] + "*",
        "fuzzy": lambda: (w := rng.choice(rare))[:2] + "x" + w[3:] + "~",
    }
    reader = open_index(index_dir, writable=False)
    rows = []
    for kind, make in kinds.items():
        timings = []
        for _ in range(queries_per_kind):
            query = make()
            t0 = time.perf_counter()
            reader.search(query, limit=10)
            timings.append(time.perf_counter() - t0)
        rows.append(_latency_row(f"scandex search: {kind}", timings))
    reader.close()

    grep_timings = []
    for _ in range(min(10, queries_per_kind)):
        word = rng.choice(rare)
        t0 = time.perf_counter()
        subprocess.run(["grep", "-rlF", word, str(folder)], capture_output=True)
        grep_timings.append(time.perf_counter() - t0)
    rows.append(_latency_row("peer: grep -rlF over the hOCR", grep_timings))
    return rows


def _latency_row(name: str, timings: list[float]) -> dict:
    timings = sorted(timings)
    p95 = timings[min(len(timings) - 1, int(round(0.95 * (len(timings) - 1))))]
    return {"what": name, "median_ms": 1e3 * statistics.median(timings), "p95_ms": 1e3 * p95}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=500, help="pages dropped at once")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare")
    parser.add_argument("--dpi", type=int, default=200)
    parser.add_argument("--index-pages", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=100, help="queries per kind")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    results: dict[str, object] = {"command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])}
    with tempfile.TemporaryDirectory(prefix="scandex-bench-") as tmp:
        work = Path(tmp)
        if not args.skip_throughput:
            pages = distinct_pages(args.pages, args.dpi)
            print(f"throughput: {args.pages} distinct pages at {args.dpi} dpi, dropped at once")
            print(f"{'engine':<28}{'workers':>8}{'seconds':>10}{'pages/min':>11}{'peak MB':>9}")
            rows = []
            for workers in (int(w) for w in args.workers.split(",")):
                ours = run_daemon_benchmark(pages, workers, work)
                rows.append({"engine": "scandex run", "workers": workers, **ours})
                print(f"{'scandex run (to searchable)':<28}{workers:>8}{ours['seconds']:>10.1f}"
                      f"{ours['pages_per_minute']:>11.1f}{ours['peak_rss_mb']:>9.0f}")  # fmt: skip
                if shutil.which("tesseract"):
                    peer = run_tesseract_benchmark(pages, workers, work)
                    rows.append({"engine": "tesseract hocr", "workers": workers, **peer})
                    name = "peer: tesseract (hOCR only)"
                    print(f"{name:<28}{workers:>8}{peer['seconds']:>10.1f}"
                          f"{peer['pages_per_minute']:>11.1f}")  # fmt: skip
            results["throughput"] = rows
        if not args.skip_search:
            rows = run_search_benchmark(args.index_pages, work, args.queries)
            print(f"{'search over ' + str(args.index_pages) + ' pages':<40}"
                  f"{'median ms':>10}{'p95 ms':>9}")  # fmt: skip
            for row in rows:
                print(f"{row['what']:<40}{row['median_ms']:>10.1f}{row['p95_ms']:>9.1f}")
            results["search"] = rows
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"reproduce: .venv/bin/python benchmarks/{results['command']}")


if __name__ == "__main__":
    main()
