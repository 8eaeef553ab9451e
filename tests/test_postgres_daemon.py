"""The daemon writing the PostgreSQL index, against real servers: scans dropped, changed and
deleted reach the index as with Whoosh, and the whole scale-out setup (a daemon queueing on
Redis for `scandex worker`s, indexing into PostgreSQL) works end to end."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import daemon, make_config, scan_png, state_of, word_maker
from polling import wait_for
from servers import PostgresServer, postgres_server, redis_server

from scandex.config import Config, IndexConfig, QueueConfig
from scandex.daemon.status import read_status
from scandex.indexer import open_index_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    with postgres_server() as started:
        yield started


def pg_config(tmp_path: Path, server: PostgresServer) -> Config:
    model = tmp_path / "model.txt"
    model.write_text("alpha\n", encoding="utf-8")
    config = make_config(tmp_path, model=model)
    return dataclasses.replace(
        config, index=IndexConfig(backend="postgres", url=server.new_database())
    )


def drop(folder: Path, name: str, seed: int) -> Path:
    temporary = folder / f".{name}.part"
    temporary.write_bytes(scan_png(seed))
    os.replace(temporary, folder / name)
    return folder / name


def hits(config: Config, query: str) -> dict[str, list[list[int]]]:
    """path -> the boxes of the words marked in its hits, from the PostgreSQL index."""
    index = open_index_for(config, writable=False)
    try:
        return {
            hit.path: [word.bbox.as_list() for line in hit.lines for word in line.words]
            for hit in index.search(query, limit=100)
        }
    finally:
        index.close()


def test_the_daemon_indexes_into_postgres(tmp_path: Path, server: PostgresServer) -> None:
    config = pg_config(tmp_path, server)
    scans = config.watch.paths[0]
    with daemon(config, word_maker(str(tmp_path / "calls")), maker=True):
        dropped = [drop(scans, f"scan{i}.png", seed=i) for i in range(3)]
        wait_for(lambda: all(state_of(config, p) == "done" for p in dropped), "three scans done")
        found = hits(config, "alpha")
        assert set(found) == {str(p) for p in dropped}
        assert found[str(dropped[0])] == [[10, 10, 60, 30]]  # the word's box, as the engine gave
        assert set(hits(config, "scan1")) == {str(dropped[1])}

        dropped[1].unlink()
        wait_for(lambda: str(dropped[1]) not in hits(config, "alpha"), "the deleted scan gone")
        status = read_status(config)
    assert (status["index"]["documents"], status["index"]["pages"]) == (2, 2)
    assert set(hits(config, "alpha")) == {str(dropped[0]), str(dropped[2])}


def test_workers_through_redis_into_postgres(tmp_path: Path, server: PostgresServer) -> None:
    from test_queue import Calls, workers

    config = pg_config(tmp_path, server)
    with redis_server(tmp_path / "redis") as redis:
        config = dataclasses.replace(
            config, queue=QueueConfig(backend="redis", url=redis.url, name="test")
        )
        scans = config.watch.paths[0]
        log = Calls(tmp_path / "calls")
        with workers(config, 2, log.path, slow_seconds=0.2), daemon(config, None, maker=True):
            dropped = [drop(scans, f"scan{i}.png", seed=i) for i in range(4)]
            wait_for(lambda: all(state_of(config, p) == "done" for p in dropped), "four done", 90)
    assert set(hits(config, "alpha")) == {str(p) for p in dropped}
    for scan in dropped:
        assert len(log.of(scan)) == 1
        assert scan.with_suffix(".hocr").is_file()
