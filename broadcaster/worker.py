"""RQ worker on the project's queues, with RQ's scheduler and cluster-wide periodic ticks."""

# Periodic ticks (reconciler, escalation engine) must run once per interval across ALL
# workers. rq 3's cron (rq/cron.py) does not fit: a CronScheduler keeps its "last run" in
# process memory and takes no lock, so one per worker would fire N times per interval; it is
# meant as one dedicated `rq cron` process, a single point that must be kept alive. rq's
# RQScheduler only moves already-scheduled jobs (per-queue lock). So each long-running
# worker runs a small ticker thread that, for every registered tick, tries
#     SET <prefix>:tick:<name> <worker> NX PX <interval ms>
# and only the worker that wins enqueues the tick's job (on the tick's queue, run like any
# other job). The key expires after one interval, so ticks fire at most once per interval,
# cluster-wide, as long as at least one worker lives. A tick whose previous job is still
# queued or running is skipped, so slow ticks never pile up. If Redis loses its data a tick
# may fire early; tick jobs are idempotent like every job (DESIGN §9), so that is harmless.

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any, Literal

import redis
from rq import SimpleWorker, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from broadcaster.queues import DEFAULT, QUEUE_ORDER, all_queues, connect, get_queue
from broadcaster.redis_embedded import resolve_redis_url
from broadcaster.settings import Settings

log = logging.getLogger(__name__)

WorkerClass = Literal["simple", "fork"]
# SimpleWorker runs jobs in-process: a fork costs ~28 ms per job (DESIGN §10) and our jobs
# are batches that reuse pooled clients. "fork" isolates each job in a child process.
WORKER_CLASSES: dict[str, type[Worker] | type[SimpleWorker]] = {
    "simple": SimpleWorker,
    "fork": Worker,
}
_ACTIVE = frozenset({JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED})
TICK_RESULT_TTL = 300
STALE_TICK_FLOOR_SECONDS = 30.0


@dataclass(frozen=True)
class Periodic:
    """A named job (dotted function path, no arguments) enqueued once per interval."""

    name: str
    func: str
    every_seconds: float
    queue: str = DEFAULT

    def __post_init__(self) -> None:
        if not self.name or "." not in self.func:
            raise ValueError(f"periodic tick needs a name and a dotted function path: {self}")
        if self.every_seconds < 0.05:
            raise ValueError(f"periodic tick {self.name!r}: every_seconds must be >= 0.05")
        if self.queue not in QUEUE_ORDER:
            raise ValueError(f"periodic tick {self.name!r}: unknown queue {self.queue!r}")


_PERIODIC: dict[str, Periodic] = {}


def register_periodic(
    name: str, func: str, every_seconds: float, *, queue: str = DEFAULT
) -> Periodic:
    """Register (or replace) the tick `name`: enqueue `func` once per `every_seconds`."""
    tick = Periodic(name, func, every_seconds, queue)
    _PERIODIC[name] = tick
    return tick


def unregister_periodic(name: str) -> None:
    """Forget the tick `name` (no error if unknown)."""
    _PERIODIC.pop(name, None)


def registered_periodic() -> list[Periodic]:
    """The registered ticks, in registration order."""
    return list(_PERIODIC.values())


def tick_key(settings: Settings, name: str) -> str:
    """The Redis key whose presence means "tick `name` fired this interval"."""
    return f"{settings.queue_prefix}:tick:{name}"


def fire_due_ticks(
    connection: redis.Redis, settings: Settings, ticks: Iterable[Periodic], owner: str
) -> list[Job]:
    """Enqueue the jobs of the ticks whose interval has elapsed; another worker may win."""
    fired: list[Job] = []
    for tick in ticks:
        key = tick_key(settings, tick.name)
        if not connection.set(key, owner, nx=True, px=max(1, round(tick.every_seconds * 1000))):
            continue
        last_key = key + ":last"
        last = connection.get(last_key)
        last_id = last.decode() if isinstance(last, bytes) else last
        if last_id and _still_active(last_id, connection, stale_after(tick)):
            log.warning("tick %s: previous job %s still pending, skipping", tick.name, last_id)
            continue
        queue = get_queue(tick.queue, connection, settings)
        job = queue.enqueue(
            tick.func,
            description=f"tick {tick.name}",
            meta={"tick": tick.name},
            result_ttl=TICK_RESULT_TTL,
        )
        connection.set(last_key, job.id, ex=max(3600, round(tick.every_seconds * 10)))
        fired.append(job)
    return fired


def stale_after(tick: Periodic) -> float:
    """How long a started tick job may run before its worker is presumed dead."""
    return max(STALE_TICK_FLOOR_SECONDS, 5 * tick.every_seconds)


def _still_active(job_id: str, connection: redis.Redis, stale_seconds: float) -> bool:
    """Is the previous tick job still waiting or running? A job started long ago whose
    worker was SIGKILLed stays "started" in Redis; past `stale_seconds` it is ignored
    (tick jobs are idempotent, so an overlap is harmless; a stuck tick is not)."""
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return False
    status = job.get_status(refresh=False)
    if status == JobStatus.STARTED and job.started_at is not None:
        started = (
            job.started_at.replace(tzinfo=dt.UTC)
            if job.started_at.tzinfo is None
            else job.started_at
        )
        return (dt.datetime.now(dt.UTC) - started).total_seconds() < stale_seconds
    return status in _ACTIVE


class _Ticker(threading.Thread):
    """Background thread of one worker that fires due ticks until stopped."""

    def __init__(self, url: str, settings: Settings, ticks: Sequence[Periodic], owner: str):
        super().__init__(name=f"ticker-{owner}", daemon=True)
        self._url = url
        self._settings = settings
        self._ticks = list(ticks)
        self._owner = owner
        self._stopping = threading.Event()
        self._poll = max(0.05, min(1.0, min(t.every_seconds for t in ticks) / 4))

    def run(self) -> None:
        connection = connect(self._url)  # its own client: the worker tunes its timeouts
        try:
            while not self._stopping.is_set():
                try:
                    for job in fire_due_ticks(connection, self._settings, self._ticks, self._owner):
                        log.info("tick %s: enqueued job %s", job.meta.get("tick"), job.id)
                except Exception:
                    log.exception("ticker %s: firing ticks failed; retrying", self._owner)
                self._stopping.wait(self._poll)
        finally:
            connection.close()

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=10)


def run_worker(
    settings: Settings,
    *,
    burst: bool = False,
    with_scheduler: bool = True,
    worker_class: WorkerClass = "simple",
    name: str | None = None,
    periodic: Sequence[Periodic] | None = None,
) -> None:
    """Work the project's queues in priority order until SIGTERM/SIGINT (or empty, if burst).

    SIGTERM or SIGINT asks for a warm shutdown: the current job finishes, then the worker
    stops; a second signal stops it cold. Periodic ticks (`periodic`, default: the
    registered ones) run only in long-running workers, never in burst mode.
    """
    url, embedded = resolve_redis_url(settings)
    saved = _save_signal_handlers()
    connection = connect(url)
    ticker: _Ticker | None = None
    try:
        worker = WORKER_CLASSES[worker_class](
            all_queues(connection, settings), connection=connection, name=name
        )
        ticks = [] if burst else (registered_periodic() if periodic is None else list(periodic))
        if ticks:
            ticker = _Ticker(url, settings, ticks, owner=worker.name)
            ticker.start()
        worker.work(burst=burst, with_scheduler=with_scheduler)
    finally:
        if ticker is not None:
            ticker.stop()
        _restore_signal_handlers(saved)
        connection.close()
        if embedded is not None:
            embedded.stop()


_Handler = Callable[[int, FrameType | None], Any] | int | None  # what signal.getsignal returns


def _save_signal_handlers() -> dict[signal.Signals, _Handler]:
    return {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore_signal_handlers(saved: dict[signal.Signals, _Handler]) -> None:
    """Put back the handlers RQ replaced, so an embedding process keeps its own."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig, handler in saved.items():
        if handler is not None:
            signal.signal(sig, handler)
