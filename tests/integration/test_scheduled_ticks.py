"""Ticks asked for at a given time are fired by our own tickers, once cluster-wide, when due,
whether or not RQ's scheduler runs anywhere (a killed worker may hold its lock)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from rq.scheduler import RQScheduler

from broadcaster.db.base import utcnow
from broadcaster.delivery.lookups import RECONCILE, mark_callback_gap
from broadcaster.queues import URGENT, connect, get_queue, queue_name
from broadcaster.settings import Settings
from broadcaster.ticks import Periodic, Ticker, fire_scheduled, tick_key
from broadcaster.ticks_due import next_due, schedule_tick

pytestmark = pytest.mark.integration
RECORD = "tests.integration.jobs_for_tests.record_tick"
HOUR = 3600.0


@pytest.fixture
def connection(redis_settings: Settings) -> Iterator[redis.Redis]:
    client = connect(redis_settings.redis_url or "")
    yield client
    client.close()


def reconcile(every: float = HOUR) -> Periodic:
    """A tick on the urgent queue, as the reconciler's; its job only records that it ran."""
    return Periodic(RECONCILE, RECORD, every, queue=URGENT)


def test_a_due_tick_is_fired_once_across_processes_and_not_before(
    connection: redis.Redis, redis_settings: Settings
) -> None:
    tick = reconcile()
    schedule_tick(connection, redis_settings, tick.name, HOUR, "later")
    assert fire_scheduled(connection, redis_settings, [tick]) == []  # not due yet
    now = time.time()
    schedule_tick(connection, redis_settings, tick.name, why="look-ups again", at=now - 1)
    schedule_tick(connection, redis_settings, tick.name, why="callback gap", at=now - 0.5)

    (job,) = fire_scheduled(connection, redis_settings, [tick])  # two due times: one job
    assert fire_scheduled(connection, redis_settings, [tick]) == []  # another process: none
    assert job.origin == queue_name(URGENT, redis_settings)
    assert "callback gap" in (job.description or "")
    assert "look-ups again" in (job.description or "")
    soonest = next_due(connection, redis_settings, [tick.name])
    assert soonest is not None
    assert soonest > now + HOUR / 2  # the later one is still asked for

    # due again while that job still waits in its queue: it will run after the due time anyway
    schedule_tick(connection, redis_settings, tick.name, why="again", at=time.time() - 0.1)
    assert fire_scheduled(connection, redis_settings, [tick]) == []
    assert Job.fetch(job.id, connection=connection).get_status() == "queued"


def test_a_scheduled_reconcile_runs_when_due_while_rqs_scheduler_is_locked(
    connection: redis.Redis, redis_settings: Settings
) -> None:
    """An API restarts (its callback gap asks for a reconcile a grace later) after a worker
    was SIGKILLed holding RQ's scheduler lock: no RQ scheduler moves anything, yet the
    reconcile comes (from the ticker every process runs), no sooner than asked, and RQ's
    registry of scheduled jobs never sees it."""
    grace = 1.5
    delivery = redis_settings.delivery.model_copy(update={"unknown_grace_seconds": grace})
    settings = redis_settings.model_copy(update={"delivery": delivery})
    tick = reconcile()
    urgent = get_queue(URGENT, connection, redis_settings)
    lock = RQScheduler.get_locking_key(urgent.name)
    connection.set(lock, "a-killed-worker", ex=120)
    connection.set(
        tick_key(redis_settings, tick.name), "x", px=round(HOUR * 1000)
    )  # periodic: not now
    ticker = Ticker(settings.redis_url or "", settings, [tick], owner="api-1")
    ticker.start()
    try:
        asked = time.time()
        mark_callback_gap(connection, settings, utcnow())
        deadline = time.monotonic() + 30
        while urgent.count == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        ticker.stop()
    (job,) = urgent.jobs
    assert job.func_name == RECORD
    assert job.enqueued_at is not None
    assert job.enqueued_at.timestamp() >= asked + grace  # never early
    assert ScheduledJobRegistry(queue=urgent).count == 0
    assert connection.get(lock) == b"a-killed-worker"  # RQ's scheduler moved nothing
    assert next_due(connection, redis_settings, [tick.name]) is None
