"""Scale out: the Redis queue against the local pool, simulated fleets, PostgreSQL search.

    .venv/bin/python benchmarks/bench_scale.py --parts queue,fleet,search

- queue: drop-to-searchable throughput of `scandex run` with its local pool against the
  same daemon queueing on Redis for `scandex worker` processes on this machine, real OCR,
  the same pages and worker count; the difference per page, in wall time and in the CPU of
  everything taking part (the daemon and its pool, or the daemon, the workers and Redis),
  is the queue's overhead.
- fleet: 10 and 50 `scandex worker` processes with a stand-in engine that takes a fixed
  time per page (no CPU), so the ideal rate is workers / seconds; what the daemon reaches,
  and the CPU the daemon, Redis and the workers use, show which part saturates first.
- search: median and 95th percentile latency on --search-pages pages (bench_search's
  generated archive and queries) in PostgreSQL and in Whoosh, the same Index.search.

Redis and PostgreSQL are started on loopback in temporary folders, as the tests do
(tests/servers.py); Debian: apt-get install redis-server postgresql postgresql-contrib.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # servers.py starts Redis and PostgreSQL
sys.path.insert(0, str(REPO / "benchmarks"))

from common import process_table, process_tree  # noqa: E402

from scandex.daemon.state import DONE, FAILED, StateStore  # noqa: E402
from scandex.page import BBox, Block, Document, Line, Page, Word  # noqa: E402

# ----------------------------------------------------------------------------- processes


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and their descendants, so far."""
    return sum(p.cpu_seconds for p in process_tree(process_table(), pids))


class Notified:
    """A NOTIFY_SOCKET for one child: wait for its READY=1."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(900)

    def env(self) -> dict[str, str]:
        return dict(os.environ, NOTIFY_SOCKET=str(self.path))

    def wait_ready(self, process: subprocess.Popen[bytes]) -> None:
        while b"READY=1" not in self.sock.recv(4096):
            if process.poll() is not None:
                raise RuntimeError("the process died before it was ready")
        self.sock.close()


def start(command: list[str], folder: Path, name: str) -> subprocess.Popen[bytes]:
    notified = Notified(folder / f"{name}.notify")
    log = (folder / f"{name}.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=log, env=notified.env())
    log.close()
    notified.wait_ready(process)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def write_config(folder: Path, *, workers: int, redis_url: str | None) -> Path:
    queue = f'[queue]\nbackend = "redis"\nurl = "{redis_url}"\n' if redis_url else ""
    config = folder / "config.toml"
    config.write_text(
        'state_dir = ".scandex"\n[watch]\npaths = ["scans"]\nsettle_seconds = 1.0\n'
        f"[ocr]\nretries = 0\nworkers = {workers}\n{queue}",
        encoding="utf-8",
    )
    (folder / "scans").mkdir(parents=True, exist_ok=True)
    return config


def drop_and_wait(folder: Path, pages: list[bytes], daemon: subprocess.Popen[bytes]) -> float:
    """Write the pages into scans/ at once; seconds until every one is done (or failed)."""
    started = time.monotonic()
    for i, data in enumerate(pages):
        temporary = folder / "scans" / f".page-{i:05d}.part"
        temporary.write_bytes(data)
        os.replace(temporary, folder / "scans" / f"page-{i:05d}.png")
    store = StateStore(folder / ".scandex" / "state.sqlite3", readonly=True)
    try:
        while True:
            counts = store.counts()
            if counts[DONE] + counts[FAILED] >= len(pages):
                if counts[FAILED]:
                    raise RuntimeError(f"{counts[FAILED]} page(s) failed; see {folder}")
                return time.monotonic() - started
            if daemon.poll() is not None:
                raise RuntimeError(f"the daemon died; see {folder / 'daemon.log'}")
            time.sleep(0.2)
    finally:
        store.close()


SCANDEX = [sys.executable, "-m", "scandex"]


# ----------------------------------------------------------------------------- queue


def bench_queue(pages: int, workers: int, work: Path, redis) -> None:
    from bench_daemon import distinct_pages

    images = distinct_pages(pages, dpi=150)
    rows = []
    for backend in ("local", "redis"):
        folder = work / f"queue-{backend}"
        folder.mkdir()
        url = redis.url if backend == "redis" else None
        config = write_config(folder, workers=workers, redis_url=url)
        helpers = []
        if backend == "redis":
            worker_command = [*SCANDEX, "worker", "--config", str(config), "--jobs", str(workers)]
            helpers.append(start(worker_command, folder, "worker"))
        daemon = start([*SCANDEX, "run", "--config", str(config)], folder, "daemon")
        # The CPU of everything that takes part: the daemon (and its pool), the workers, Redis.
        pids = [daemon.pid, *(helper.pid for helper in helpers)]
        pids += [redis.process.pid] if backend == "redis" else []
        before = cpu_seconds(pids)
        try:
            seconds = drop_and_wait(folder, images, daemon)
            cpu = cpu_seconds(pids) - before
        finally:
            stop(daemon)
            for helper in helpers:
                stop(helper)
        rows.append((backend, seconds, cpu))
    print(f"\nReal OCR, {pages} distinct 150 dpi pages, {workers} workers on this machine")
    print("| | seconds | pages per minute | CPU ms per page (daemon, workers, Redis) |")
    print("|---|---|---|---|")
    for name, seconds, cpu in rows:
        label = "local pool" if name == "local" else "Redis queue + `scandex worker`"
        rate, cpu_ms = 60 * pages / seconds, 1000 * cpu / pages
        print(f"| {label} | {seconds:.1f} | {rate:.0f} | {cpu_ms:.0f} |")
    (_, local, local_cpu), (_, remote, remote_cpu) = rows
    print(
        f"queue overhead per page: {1000 * (remote - local) / pages:+.0f} ms of wall time,"
        f" {1000 * (remote_cpu - local_cpu) / pages:+.0f} ms of CPU"
    )


# ----------------------------------------------------------------------------- fleet


@dataclass(frozen=True)
class FixedTimeEngine:
    """The stand-in: every page takes `seconds` (asleep, no CPU) and holds 30 lines of text,
    so the daemon indexes what a real page gives it."""

    seconds: float

    def __call__(self) -> FixedTimeEngine:
        return self

    def ocr_bytes(self, data: bytes, name: str) -> Document:
        time.sleep(self.seconds)
        rng = random.Random(name)
        lines = []
        for row in range(30):
            words, x = [], 100
            for _ in range(9):
                text = "".join(rng.choice("abcdefghiklmnoprstu") for _ in range(rng.randint(2, 9)))
                words.append(
                    Word(text, BBox(x, 100 + 60 * row, x + 20 * len(text), 140 + 60 * row), 0.9)
                )
                x += 20 * len(text) + 20
            lines.append(
                Line(
                    BBox.union_all(w.bbox for w in words),
                    " ".join(w.text for w in words),
                    0.9,
                    tuple(words),
                )
            )
        area = BBox.union_all(line.bbox for line in lines)
        return Document(name, (Page(1, 2480, 3508, blocks=(Block(area, tuple(lines)),)),))


def fleet_worker_main(config_path: str, jobs: int, seconds: float) -> None:
    """`scandex worker` with the stand-in engine (run as: bench_scale.py --fleet-worker)."""
    from scandex.config import load_config
    from scandex.queue.worker import run_workers

    stop_event = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop_event.set())
    run_workers(
        load_config(Path(config_path)),
        jobs=jobs,
        stop=stop_event,
        engine=lambda ocr, model: FixedTimeEngine(seconds),
    )


def tiny_pages(count: int, seed: int) -> list[bytes]:
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    pages = []
    for _ in range(count):
        ok, data = cv2.imencode(".png", rng.integers(0, 255, (32, 32), dtype=np.uint8))
        assert ok
        pages.append(data.tobytes())
    return pages


def bench_fleet(sizes: list[int], per_worker: int, seconds: float, work: Path, redis) -> None:
    print(f"\nStand-in engine: {seconds:g} s a page asleep; {per_worker} pages per worker dropped")
    print("| workers | pages | ideal pages/min | reached pages/min | daemon CPU | Redis CPU |"
          " workers' CPU |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for size in sizes:
        folder = work / f"fleet-{size}"
        folder.mkdir()
        config = write_config(folder, workers=size, redis_url=redis.url)
        command = [sys.executable, __file__, "--fleet-worker", str(config), str(size), str(seconds)]
        fleet = start(command, folder, "worker")
        daemon = start([*SCANDEX, "run", "--config", str(config)], folder, "daemon")
        pages = tiny_pages(size * per_worker, seed=size)
        redis_pid = redis.process.pid
        before = [cpu_seconds([p]) for p in (daemon.pid, redis_pid, fleet.pid)]
        try:
            elapsed = drop_and_wait(folder, pages, daemon)
            after = [cpu_seconds([p]) for p in (daemon.pid, redis_pid, fleet.pid)]
        finally:
            stop(daemon)
            stop(fleet)
        share = [f"{100 * (b - a) / elapsed:.0f}%" for a, b in zip(before, after, strict=True)]
        ideal = 60 * size / seconds
        print(f"| {size} | {len(pages)} | {ideal:.0f} | {60 * len(pages) / elapsed:.0f} |"
              f" {share[0]} | {share[1]} | {share[2]} |")  # fmt: skip


# ----------------------------------------------------------------------------- search


def bench_search(pages: int, work: Path, postgres, index_dir: Path, repeat: int) -> None:
    from bench_search import generate, percentile, queries

    from scandex.indexer import open_index
    from scandex.indexer.postgres_index import build_and_replace, open_postgres_index
    from scandex.indexer.whoosh_index import build_and_swap

    url = postgres.new_database()
    if not index_dir.exists():
        began = time.perf_counter()
        build_and_swap(index_dir, generate(pages))
        print(f"Whoosh: built {pages} pages in {time.perf_counter() - began:.0f} s")
    began = time.perf_counter()
    build_and_replace(url, generate(pages))
    print(f"PostgreSQL: built {pages} pages in {time.perf_counter() - began:.0f} s")
    whoosh = open_index(index_dir, writable=False)
    pg = open_postgres_index(url, writable=False)
    for name, index in (("Whoosh", whoosh), ("PostgreSQL", pg)):
        stats = index.stats()
        size_mb = stats.size_bytes / 1e6
        print(f"{name}: {stats.documents} documents, {stats.pages} pages, {size_mb:.0f} MB")
    print(f"\nSearch latency, ms, limit 10, warm reader, {repeat} runs of each query")
    print("| query kind | n | Whoosh median | Whoosh p95 | PostgreSQL median | PostgreSQL p95 |")
    print("|---|---|---|---|---|---|")
    totals: dict[str, list[float]] = {"Whoosh": [], "PostgreSQL": []}
    for kind, cases in queries(random.Random(11)).items():
        timings: dict[str, list[float]] = {"Whoosh": [], "PostgreSQL": []}
        for query, options in cases:
            for name, index in (("Whoosh", whoosh), ("PostgreSQL", pg)):
                index.search(query, **options)  # warm
                for _ in range(repeat):
                    began = time.perf_counter()
                    index.search(query, **options)
                    timings[name].append(1000 * (time.perf_counter() - began))
        cells = []
        for name in ("Whoosh", "PostgreSQL"):
            totals[name] += timings[name]
            values = timings[name]
            cells.append(f"{statistics.median(values):.1f} | {percentile(values, 0.95):.1f}")
        print(f"| {kind} | {len(cases)} | {' | '.join(cells)} |")
    cells = [
        f"{statistics.median(totals[n]):.1f} | {percentile(totals[n], 0.95):.1f}"
        for n in ("Whoosh", "PostgreSQL")
    ]
    print(f"| all | | {' | '.join(cells)} |")
    whoosh.close()
    pg.close()


# ----------------------------------------------------------------------------- main


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--fleet-worker":
        fleet_worker_main(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="queue,fleet,search")
    parser.add_argument("--pages", type=int, default=40, help="real OCR pages (queue)")
    parser.add_argument("--workers", type=int, default=2, help="OCR workers (queue)")
    parser.add_argument("--fleet", default="10,50", help="fleet sizes")
    parser.add_argument("--fleet-seconds", type=float, default=1.0, help="stand-in s/page")
    parser.add_argument("--per-worker", type=int, default=10, help="pages per fleet worker")
    parser.add_argument("--search-pages", type=int, default=100_000)
    parser.add_argument("--whoosh-index", type=Path, default=Path("/tmp/scandex-bench-scale-index"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    from servers import postgres_server, redis_server

    with tempfile.TemporaryDirectory(prefix="scandex-bench-scale-") as tmp:
        work = Path(tmp)
        with redis_server(work / "redis") as redis:
            if "queue" in parts:
                bench_queue(args.pages, args.workers, work, redis)
            if "fleet" in parts:
                sizes = [int(n) for n in args.fleet.split(",")]
                bench_fleet(sizes, args.per_worker, args.fleet_seconds, work, redis)
        if "search" in parts:
            with postgres_server() as postgres:
                bench_search(args.search_pages, work, postgres, args.whoosh_index, args.repeat)
    print(f"\n{' '.join(['.venv/bin/python', 'benchmarks/bench_scale.py', *sys.argv[1:]])}")


if __name__ == "__main__":
    main()
