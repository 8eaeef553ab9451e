"""The daemon's side of the queue: files go to `scandex worker`s through RQ on Redis.

`RemoteWorkers` is a `WorkerSet` like the daemon's own pool: `submit` enqueues a job,
`collect` takes the results of finished and failed jobs from RQ's registries, and the
dispatcher does the rest exactly as for local workers (index, then done after the commit;
a result for a file that has changed or gone is dropped).

What can go wrong, and what happens:
- A worker dies mid-job (SIGKILL, a lost machine): its job stays in RQ's started registry
  until its heartbeat expires (the job's timeout plus a grace); `collect` runs RQ's cleanup,
  which moves it to the failed registry, and the dispatcher counts a failed attempt and
  queues the file again after `ocr.retry_seconds`, for any worker to take.
- Redis stops or cannot be reached: every call fails fast (short socket timeouts), the
  daemon keeps watching and recording, gives out no work, and tries again every few
  seconds; when Redis answers again, jobs of files still in flight that it no longer holds
  (a restart without persistence) are queued again.
- The daemon is killed with jobs out: at its next start, a file's job is found by its id
  (content and model) when the file is dispatched again, and adopted, so its result is
  taken rather than the file read twice; results of files it no longer needs are dropped.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import redis
from rq import Queue, Worker
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job as RqJob
from rq.job import JobStatus
from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer
from rq.worker import BaseWorker

from scandex.config import Config, OcrConfig, display_url
from scandex.daemon.models import ModelRef, model_ref
from scandex.daemon.reading import ReadRules
from scandex.daemon.worker import Job, JobResult
from scandex.errors import ScandexError
from scandex.queue.jobs import JOB_FUNCTION, Outcome, Ticket, job_id, queue_name, ticket_for

log = logging.getLogger("scandex.daemon")

# Jobs given out beyond what the workers seen can hold, so none waits for the next batch;
# at least this many while no worker has been seen yet.
MIN_IN_FLIGHT = 16
IN_FLIGHT_PER_WORKER = 2
# Redis calls fail after this long rather than stall the daemon's loop.
SOCKET_SECONDS = 5.0
RECONNECT_SECONDS = 2.0  # while Redis is unreachable, try again this often
CLEANUP_SECONDS = 2.0  # RQ's cleanup of abandoned jobs (workers that died)
SWEEP_SECONDS = 30.0  # check that Redis still holds every job in flight
WORKERS_SECONDS = 5.0  # look at the workers registered for the queue
RATE_WINDOW_SECONDS = 300.0  # a worker's rate: results over the last five minutes
# Results and failures stay in Redis this long when the daemon is away to take them.
RESULT_TTL_SECONDS = 7 * 24 * 3600
ACTIVE = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED)


@dataclass(frozen=True)
class _Out:
    job: Job
    queue: str


def redis_connection(url: str) -> redis.Redis:
    """A client that fails fast when the server is away (the daemon's loop must go on)."""
    return redis.Redis.from_url(
        url, socket_timeout=SOCKET_SECONDS, socket_connect_timeout=SOCKET_SECONDS
    )


def job_timeout_seconds(ocr: OcrConfig) -> int:
    return math.ceil(ocr.timeout_seconds)


class RemoteWorkers:
    """OCR by `scandex worker` processes anywhere (`[queue] backend = "redis"`). Only the
    loop's thread calls it."""

    def __init__(self, config: Config) -> None:
        self.name = config.queue.name
        self.url = config.queue.url
        self.where = display_url(self.url)
        self.roots = config.watch.paths
        self.timeout_seconds = job_timeout_seconds(config.ocr)
        self.redis = redis_connection(self.url)
        self.model: ModelRef | None = None
        self.on_reloaded: Callable[[], None] = lambda: None
        self.in_flight: dict[str, _Out] = {}  # RQ job id -> the file
        self.connected = False
        self._retry_at = 0.0  # monotonic: when to try an unreachable Redis again
        self._lost_reason = ""
        self._next_cleanup = 0.0
        self._next_sweep = 0.0
        self._next_workers = 0.0
        self._workers: list[dict[str, Any]] = []
        self._results_by: dict[str, deque[float]] = {}  # worker name -> result times
        self._depth = 0

    @property
    def queue(self) -> str:
        assert self.model is not None
        return queue_name(self.name, self.model.sha256)

    def _queue(self, name: str) -> Queue:
        return Queue(name, connection=self.redis, serializer=JSONSerializer)

    # -- WorkerSet

    def start(self, ocr: OcrConfig, rules: ReadRules) -> None:
        """Identify the configured model (its jobs go to its queue); Redis may be away."""
        self.model = model_ref(ocr.model)
        self.timeout_seconds = job_timeout_seconds(ocr)
        if self._usable():
            self._look_at_workers()
        log.info(
            "queue: %s on %s; `scandex worker` with model %s takes its jobs",
            self.queue,
            self.where,
            self.model.id,
        )

    def reload(self, ocr: OcrConfig, rules: ReadRules) -> bool:
        """A new model: new jobs go to its queue (jobs out keep theirs). Nothing to start."""
        assert self.model is not None
        self.timeout_seconds = job_timeout_seconds(ocr)
        try:
            model = model_ref(ocr.model)
        except ScandexError as exc:
            log.error("reload: %s; still queueing for %s", exc, self.model.id)
            return False
        if model.sha256 != self.model.sha256:
            old, self.model = self.model, model
            log.info(
                "reload: new jobs go to queue %s for %s (was %s): workers must run it",
                self.queue,
                model.id,
                old.id,
            )
            self._next_workers = 0.0
        return False

    @property
    def idle(self) -> int:
        if not self._usable():
            return 0
        capacity = max(MIN_IN_FLIGHT, IN_FLIGHT_PER_WORKER * self.size)
        return max(0, capacity - len(self.in_flight))

    @property
    def size(self) -> int:
        return sum(1 for worker in self._workers if worker["queue"] == self.queue)

    @property
    def busy_paths(self) -> set[str]:
        return {out.job.path for out in self.in_flight.values()}

    def submit(self, job: Job) -> bool:
        """Queue `job` (or adopt the job already queued for this content and path)."""
        assert self.model is not None
        ticket = ticket_for(
            self.roots,
            job.path,
            job.hocr_path,
            job.size,
            job.sha256,
            self.model.sha256,
            pdf=job.pdf,
            pdfa=job.pdfa,
        )
        identifier = job_id(self.name, job.sha256, self.model.sha256)
        with self._guard():
            if self._enqueue(identifier, ticket) or self._adopt(identifier, ticket):
                self.in_flight[identifier] = _Out(job, self.queue)
                return True
        return False

    def _enqueue(self, identifier: str, ticket: Ticket) -> bool:
        try:
            self._submit(self.queue, identifier, ticket, unique=True)
        except DuplicateJobError:
            return False
        return True

    def _submit(self, queue_name: str, identifier: str, ticket: Ticket, *, unique: bool) -> None:
        """Put the job for `ticket` on a queue, with the timeout and result lifetimes every
        scandex job has (`unique`: refused with DuplicateJobError when the id exists)."""
        self._queue(queue_name).enqueue_call(
            JOB_FUNCTION,
            args=(ticket.to_wire(),),
            job_id=identifier,
            timeout=self.timeout_seconds,
            result_ttl=RESULT_TTL_SECONDS,
            failure_ttl=RESULT_TTL_SECONDS,
            description=ticket.scan,
            unique=unique,
        )

    def _adopt(self, identifier: str, ticket: Ticket) -> bool:
        """A job with this id exists: take it over when it reads this file (queued, running,
        or done with its result waiting: the daemon was restarted); replace it when it
        failed; otherwise (another path with the same content) wait for it."""
        try:
            existing = RqJob.fetch(identifier, connection=self.redis, serializer=JSONSerializer)
        except NoSuchJobError:
            return self._enqueue(identifier, ticket)  # it has just gone
        status = existing.get_status(refresh=False)
        same = _ticket_of(existing) == ticket
        if same and (status in ACTIVE or status == JobStatus.FINISHED):
            log.debug("queue: %s already has job %s (%s)", ticket.scan, identifier, status)
            return True
        if status in ACTIVE or status == JobStatus.FINISHED:
            return False  # an identical copy's job: the dispatcher reuses its OCR later
        _delete(existing)
        return self._enqueue(identifier, ticket)

    def waitables(self) -> list[Any]:
        """Nothing: results are in Redis, looked for each tick."""
        return []

    def collect(self, timeout_seconds: float = 0.0) -> list[JobResult]:
        """Results of finished and failed jobs (a worker that died counts as failed)."""
        if not self._usable():
            return []
        results: list[JobResult] = []
        with self._guard():
            now = time.monotonic()
            queues = {out.queue for out in self.in_flight.values()} | {self.queue}
            for name in sorted(queues):
                if now >= self._next_cleanup:
                    StartedJobRegistry(
                        name, connection=self.redis, serializer=JSONSerializer
                    ).cleanup()
                for registry in (FinishedJobRegistry, FailedJobRegistry):
                    ids = registry(name, connection=self.redis, serializer=JSONSerializer)
                    for identifier in ids.get_job_ids(cleanup=False):
                        result = self._take(identifier)
                        if result is not None:
                            results.append(result)
            if now >= self._next_cleanup:
                self._next_cleanup = now + CLEANUP_SECONDS
            if now >= self._next_sweep:
                self._sweep()
            if now >= self._next_workers:
                self._look_at_workers()
        return results

    def _take(self, identifier: str) -> JobResult | None:
        """The result of a finished or failed job, which is then deleted; None for a job
        that is not the daemon's to take (another installation's) or no longer needed."""
        try:
            rq_job = RqJob.fetch(identifier, connection=self.redis, serializer=JSONSerializer)
        except NoSuchJobError:
            self.in_flight.pop(identifier, None)
            return None
        out = self.in_flight.pop(identifier, None)
        job = out.job if out is not None else self._job_of(rq_job)
        status = rq_job.get_status(refresh=False)
        if job is None or (out is None and job.path in self.busy_paths):
            _delete(rq_job)  # a stray, or an old job for a file in flight again
            return None
        if status == JobStatus.FINISHED:
            result = self._finished(job, rq_job)
        else:
            worker = rq_job.worker_name or "a worker"
            reason = f"the OCR worker {worker} stopped before finishing it (killed, or cut off)"
            result = JobResult(job, error=reason, model=self.model.id if self.model else "")
        _delete(rq_job)
        return result

    def _finished(self, job: Job, rq_job: RqJob) -> JobResult:
        try:
            outcome = Outcome.from_wire(rq_job.return_value() or {})
        except (ValueError, KeyError, TypeError) as exc:
            return JobResult(job, error=f"the worker's result cannot be read: {exc}")
        if outcome.worker:
            self._results_by.setdefault(outcome.worker, deque()).append(time.monotonic())
        ticket = _ticket_of(rq_job)
        hocr = str(Path(ticket.root) / outcome.hocr) if ticket and outcome.hocr else None
        return JobResult(
            job,
            document=outcome.document,
            hocr_path=hocr,
            fallback_reason=outcome.fallback_reason,
            error=outcome.error,
            permanent=outcome.permanent,
            seconds=outcome.seconds,
            model=outcome.model,
            partial=outcome.partial,
            text_pages=frozenset(outcome.text_pages),
            worker=outcome.worker,
        )

    def _job_of(self, rq_job: RqJob) -> Job | None:
        """The daemon's Job for a job it did not give out in this run (before a restart),
        when it is one of its own: a scan in one of its watched folders."""
        ticket = _ticket_of(rq_job)
        if ticket is None or Path(ticket.root) not in self.roots:
            return None
        hocr = str(Path(ticket.root) / ticket.hocr)
        return Job(
            ticket.scan, ticket.sha256, hocr, "", size=ticket.size, pdf=ticket.pdf, pdfa=ticket.pdfa
        )

    def _sweep(self) -> None:
        """Queue again the jobs in flight that Redis no longer holds (it restarted empty)."""
        self._next_sweep = time.monotonic() + SWEEP_SECONDS
        ids = list(self.in_flight)
        for identifier, rq_job in zip(
            ids, RqJob.fetch_many(ids, connection=self.redis, serializer=JSONSerializer),
            strict=True,
        ):  # fmt: skip
            if rq_job is not None:
                continue
            out = self.in_flight[identifier]
            assert self.model is not None
            model_sha = self.model.sha256 if out.queue == self.queue else identifier.split("-")[-1]
            ticket = ticket_for(
                self.roots, out.job.path, out.job.hocr_path, out.job.size, out.job.sha256,
                model_sha, pdf=out.job.pdf, pdfa=out.job.pdfa,
            )  # fmt: skip
            self._submit(out.queue, identifier, ticket, unique=False)
            log.info("queue: %s queued again (Redis had lost its job)", out.job.path)

    def drain(self, grace_seconds: float, hurry: Callable[[], bool]) -> list[JobResult]:
        """The results already there; jobs still out stay in Redis for the next start."""
        results = self.collect()
        if self.in_flight:
            log.info("queue: %d job(s) stay with the workers", len(self.in_flight))
        return results

    def close(self) -> None:
        self.redis.close()

    # -- Redis coming and going

    def _usable(self) -> bool:
        """True when Redis answers; while it does not, try again every few seconds."""
        if self.connected:
            return True
        if time.monotonic() < self._retry_at:
            return False
        try:
            self.redis.ping()
        except redis.RedisError as exc:
            self._lost(exc)
            return False
        log.info("queue: Redis at %s answers", self.where)
        self.connected = True
        self._lost_reason = ""
        self._next_sweep = 0.0  # re-queue what it may have lost
        return True

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except redis.RedisError as exc:
            self._lost(exc)

    def _lost(self, exc: redis.RedisError) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        if self.connected or reason != self._lost_reason:
            log.warning(
                "queue: Redis at %s cannot be reached (%s); scans wait, nothing is lost",
                self.where,
                reason,
            )
        self.connected = False
        self._lost_reason = reason
        self._retry_at = time.monotonic() + RECONNECT_SECONDS

    # -- status

    def _look_at_workers(self) -> None:
        self._next_workers = time.monotonic() + WORKERS_SECONDS
        found = []
        queues = {out.queue for out in self.in_flight.values()} | {self.queue}
        for name in sorted(queues):
            queue = self._queue(name)
            for worker in Worker.all(queue=queue, serializer=JSONSerializer):
                found.append(self._describe(worker, name))
            if name == self.queue:
                self._depth = len(queue)
        self._workers = found

    def _describe(self, worker: BaseWorker, queue: str) -> dict[str, Any]:
        cutoff = time.monotonic() - RATE_WINDOW_SECONDS
        times = self._results_by.get(worker.name, deque())
        while times and times[0] < cutoff:
            times.popleft()
        beat = worker.last_heartbeat
        if beat is not None and beat.tzinfo is None:  # RQ keeps UTC without saying so
            beat = beat.replace(tzinfo=UTC)
        seen = beat.timestamp() if beat else None
        return {
            "name": worker.name,
            "host": worker.hostname,
            "pid": worker.pid,
            "queue": queue,
            "state": str(worker.get_state()),
            "files": worker.successful_job_count,
            "files_per_minute": round(len(times) * 60.0 / RATE_WINDOW_SECONDS, 1),
            "last_seen_seconds": round(time.time() - seen, 1) if seen else None,
        }

    def report(self) -> dict[str, Any]:
        return {
            "backend": "redis",
            "url": self.where,
            "queue": self.queue if self.model else None,
            "connected": self.connected,
            "depth": self._depth,
            "in_flight": len(self.in_flight),
            "workers": self._workers,
        }


def _delete(rq_job: RqJob) -> None:
    """Delete a job that has ended (finished, failed, abandoned) and its result.

    RQ keeps a job's executions listed a minute longer than their records, and its delete()
    fails on a listed execution whose record expired (a worker killed mid-job); an ended
    job has no live execution, so the list is emptied first."""
    rq_job.execution_registry.cleanup(timestamp=time.time() + RESULT_TTL_SECONDS)
    rq_job.delete()


def _ticket_of(rq_job: RqJob) -> Ticket | None:
    try:
        return Ticket.from_wire(rq_job.args[0])
    except (ValueError, KeyError, TypeError, IndexError):
        return None
