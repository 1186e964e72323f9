"""Cluster-wide periodic ticks: any live process (worker or API) fires them, once per interval."""

# Periodic ticks (reconciler, escalation engine) must run once per interval across ALL
# processes. rq 3's cron (rq/cron.py) does not fit: a CronScheduler keeps its "last run" in
# process memory and takes no lock, so one per worker would fire N times per interval; it is
# meant as one dedicated `rq cron` process, a single point that must be kept alive. rq's
# RQScheduler only moves already-scheduled jobs (per-queue lock). So every long-running
# worker, and every API process, runs a small ticker thread that, for every registered tick,
# tries
#     SET <prefix>:tick:<name> <owner> NX PX <interval ms>
# and only the process that wins enqueues the tick's job (on the tick's queue, run like any
# other job). The key expires after one interval, so ticks fire at most once per interval,
# cluster-wide, as long as at least one process lives: no tick is owned by a worker that may
# be gone. A tick whose previous job is still queued, or running on a live worker, is
# skipped, so slow ticks never pile up; one left "started" by a worker that died is not
# waited for. If Redis loses its data a tick fires at once; tick jobs are idempotent like
# every job (DESIGN §9), so that is harmless. While Redis is down the ticker keeps trying.
#
# When Redis comes back after an outage, or turns out to have lost its data (a marker key
# that never expires is gone), the ticks marked `on_redis_back` (the reconciler: it puts a
# job on every due queued delivery, from the database) fire at once instead of at the end
# of their interval; a process that finds such a job already waiting leaves it at that, so a
# cluster kicks about once per outage, not once per process.
#
# A tick may also be asked for at a given time (broadcaster.ticks_due): the same tickers fire
# it when due, once cluster-wide, without RQ's scheduler.

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from math import inf

import redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from broadcaster.pulse import has_pulse
from broadcaster.queues import DEFAULT, QUEUE_ORDER, connect, get_queue
from broadcaster.settings import Settings
from broadcaster.ticks_due import claim_due, next_due

log = logging.getLogger(__name__)

_ACTIVE = frozenset({JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED})
TICK_RESULT_TTL = 300
STALE_TICK_FLOOR_SECONDS = 30.0
MAX_BACKOFF_SECONDS = 1.0  # a ping a second while Redis is away: it is seen back at once
KICK_LOCK_MS = 1000  # processes seeing Redis back at the same moment kick once


@dataclass(frozen=True)
class Periodic:
    """A named job (dotted function path, no arguments) enqueued once per interval."""

    name: str
    func: str
    every_seconds: float
    queue: str = DEFAULT
    on_redis_back: bool = False  # also fire at once when Redis returns or lost its data

    def __post_init__(self) -> None:
        if not self.name or "." not in self.func:
            raise ValueError(f"periodic tick needs a name and a dotted function path: {self}")
        if self.every_seconds < 0.05:
            raise ValueError(f"periodic tick {self.name!r}: every_seconds must be >= 0.05")
        if self.queue not in QUEUE_ORDER:
            raise ValueError(f"periodic tick {self.name!r}: unknown queue {self.queue!r}")


_PERIODIC: dict[str, Periodic] = {}


def register_periodic(
    name: str, func: str, every_seconds: float, *, queue: str = DEFAULT, on_redis_back: bool = False
) -> Periodic:
    """Register (or replace) the tick `name`: enqueue `func` once per `every_seconds`."""
    tick = Periodic(name, func, every_seconds, queue, on_redis_back)
    _PERIODIC[name] = tick
    return tick


def registered_periodic() -> list[Periodic]:
    """The registered ticks, in registration order."""
    return list(_PERIODIC.values())


def tick_key(settings: Settings, name: str) -> str:
    """The Redis key whose presence means "tick `name` fired this interval"."""
    return f"{settings.queue_prefix}:tick:{name}"


def fire_due_ticks(
    connection: redis.Redis, settings: Settings, ticks: Iterable[Periodic], owner: str
) -> list[Job]:
    """Enqueue the jobs of the ticks whose interval has elapsed; another process may win."""
    fired: list[Job] = []
    for tick in ticks:
        key = tick_key(settings, tick.name)
        if not connection.set(key, owner, nx=True, px=max(1, round(tick.every_seconds * 1000))):
            continue
        last_key = key + ":last"
        last = connection.get(last_key)
        last_id = last.decode() if isinstance(last, bytes) else last
        if last_id and _still_active(last_id, connection, tick, settings.queue_prefix):
            log.info("tick %s: previous job %s still pending, skipping", tick.name, last_id)
            continue
        fired.append(_enqueue(connection, settings, tick))
    return fired


def kick_ticks(
    connection: redis.Redis, settings: Settings, ticks: Iterable[Periodic], owner: str
) -> list[Job]:
    """Redis is back (or lost its data): fire the `on_redis_back` ticks now, unless one of
    their jobs is already waiting (another process saw it first); their interval starts
    again from here."""
    kicked: list[Job] = []
    for tick in ticks:
        if not tick.on_redis_back:
            continue
        key = tick_key(settings, tick.name)
        if not connection.set(key + ":kick", owner, nx=True, px=KICK_LOCK_MS):
            continue  # another process is kicking it this very moment
        last = connection.get(key + ":last")
        if last and _waiting(last.decode() if isinstance(last, bytes) else last, connection):
            continue
        connection.set(key, owner, px=max(1, round(tick.every_seconds * 1000)))
        kicked.append(_enqueue(connection, settings, tick))
    return kicked


def fire_scheduled(
    connection: redis.Redis, settings: Settings, ticks: Iterable[Periodic]
) -> list[Job]:
    """Enqueue the ticks asked for by now (broadcaster.ticks_due), each once however many
    due times it had; a tick whose job is already waiting needs no second one."""
    fired: list[Job] = []
    for tick in ticks:
        whys = claim_due(connection, settings, tick.name)
        if not whys:
            continue
        last = connection.get(tick_key(settings, tick.name) + ":last")
        if last and _waiting(last.decode() if isinstance(last, bytes) else last, connection):
            continue
        fired.append(_enqueue(connection, settings, tick, "; ".join(sorted(set(whys)))))
    return fired


def _waiting(job_id: str, connection: redis.Redis) -> bool:
    try:
        return Job.fetch(job_id, connection=connection).get_status() == JobStatus.QUEUED
    except NoSuchJobError:
        return False


def redis_was_emptied(connection: redis.Redis, settings: Settings, owner: str) -> bool:
    """Does Redis lack the marker that every ticker keeps there (a first start, or a restart
    that lost the data: every queued job is gone)? Only one process gets True."""
    return bool(connection.set(f"{settings.queue_prefix}:alive", owner, nx=True))


def _enqueue(connection: redis.Redis, settings: Settings, tick: Periodic, why: str = "") -> Job:
    """A tick's job goes ahead of its queue: it keeps the rest moving (a reconciler tick
    behind a fan-out's send jobs would wait for the whole fan-out)."""
    queue = get_queue(tick.queue, connection, settings)
    job = queue.enqueue(
        tick.func,
        description=f"tick {tick.name}: {why}" if why else f"tick {tick.name}",
        meta={"tick": tick.name},
        result_ttl=TICK_RESULT_TTL,
        at_front=True,
    )
    last = max(3600, round(tick.every_seconds * 10))
    connection.set(tick_key(settings, tick.name) + ":last", job.id, ex=last)
    return job


def stale_after(tick: Periodic, job_timeout: float | None = None) -> float:
    """How long a started tick job may run before it is presumed stuck: past its job timeout
    (the worker stops a job then) with a grace, and never sooner than 5 intervals. A slow
    tick on a live worker is not stuck: a twin started beside it would hold a second worker
    (in the million-household run both workers ended up in reconcile ticks, the sends behind
    them)."""
    timeout = (job_timeout or Queue.DEFAULT_TIMEOUT) + STALE_TICK_FLOOR_SECONDS
    return max(STALE_TICK_FLOOR_SECONDS, 5 * tick.every_seconds, timeout)


def _still_active(job_id: str, connection: redis.Redis, tick: Periodic, prefix: str) -> bool:
    """Is the previous tick job still waiting, or running on a worker that lives? A job
    whose worker was SIGKILLed stays "started" in Redis: it is ignored once that worker's
    pulse has lapsed (a few seconds; a worker not run by `run_worker` has none), and in any
    case once stale (`stale_after`)."""
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return False
    stale_seconds = stale_after(tick, job.timeout)
    status = job.get_status(refresh=False)
    if status == JobStatus.STARTED:
        if job.worker_name and not has_pulse(connection, prefix, job.worker_name):
            return False
        if job.started_at is not None:
            started = (
                job.started_at.replace(tzinfo=dt.UTC)
                if job.started_at.tzinfo is None
                else job.started_at
            )
            return (dt.datetime.now(dt.UTC) - started).total_seconds() < stale_seconds
    return status in _ACTIVE


class Ticker(threading.Thread):
    """Background thread of one process that fires due ticks until stopped; it outlives
    Redis outages (retrying with back-off) and never takes its process down."""

    def __init__(self, url: str, settings: Settings, ticks: Sequence[Periodic], owner: str):
        super().__init__(name=f"ticker-{owner}", daemon=True)
        self._url = url
        self._settings = settings
        self._ticks = list(ticks)
        self._names = [tick.name for tick in self._ticks]
        self._owner = owner
        self._stopping = threading.Event()
        self._poll = max(0.05, min(1.0, min(t.every_seconds for t in ticks) / 4))

    def run(self) -> None:
        connection = connect(self._url)  # its own client: the worker tunes its timeouts
        failures = 0
        soonest: float | None = None
        try:
            while not self._stopping.is_set():
                try:
                    self._kick_if_back(connection, back=failures > 0)
                    for job in fire_due_ticks(connection, self._settings, self._ticks, self._owner):
                        log.debug("tick %s: enqueued job %s", job.meta.get("tick"), job.id)
                    for job in fire_scheduled(connection, self._settings, self._ticks):
                        log.info("%s (job %s)", job.description, job.id)
                    soonest = next_due(connection, self._settings, self._names)
                    failures = 0
                except redis.RedisError as exc:
                    failures += 1
                    if failures == 1:
                        log.warning("ticker %s: Redis unavailable (%s); retrying", self._owner, exc)
                except Exception:
                    failures += 1
                    log.exception("ticker %s: firing ticks failed; retrying", self._owner)
                if failures:
                    wait = min(MAX_BACKOFF_SECONDS, self._poll * 2 ** min(failures, 6))
                else:  # a tick asked for before the next poll is fired when due
                    wait = min(self._poll, max(0.01, (soonest or inf) - time.time()))
                self._stopping.wait(wait)
        finally:
            connection.close()

    def _kick_if_back(self, connection: redis.Redis, *, back: bool) -> None:
        """After an outage, or on a Redis that lost its data, pending work is resumed now."""
        emptied = redis_was_emptied(connection, self._settings, self._owner)
        if not (back or emptied):
            return
        kicked = kick_ticks(connection, self._settings, self._ticks, self._owner)
        names = ", ".join(str(job.meta.get("tick")) for job in kicked) or "none here"
        if back:
            log.warning("ticker %s: Redis is back; ticks fired at once: %s", self._owner, names)
        else:  # a first start looks the same as a restart that lost the data
            log.info("ticker %s: Redis is new or lost its data; fired: %s", self._owner, names)

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=10)
