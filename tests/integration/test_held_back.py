"""A delivery held back by a limit (a shared landline's per-number window, a provider's "slow
down") goes when its wait ends: the reconciler gives it a job then, even behind a busy queue,
and asks for a reconcile at the end of the soonest wait still to come."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import redis
from sqlalchemy import update

from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.lookups import RECONCILE
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.delivery.requeue import kick_queued, tick_when_held_ends
from broadcaster.jobs import periodic_ticks
from broadcaster.queues import SEND, URGENT, connect, get_queue
from broadcaster.settings import Settings
from broadcaster.ticks import fire_due_ticks
from broadcaster.ticks_due import next_due
from channels.base import Outcome, SendResult
from tests.factories import alerts as fa
from tests.factories import registry as f
from tests.integration.ledger_support import leased, record, row

pytestmark = pytest.mark.integration
JOB = "tests.integration.jobs_for_tests.record_queue"


@pytest.fixture
def connection(redis_settings: Settings) -> Iterator[redis.Redis]:
    client = connect(redis_settings.redis_url or "")
    yield client
    client.close()


def hold(db: Database, delivery_id: int, until: dt.datetime) -> None:
    with db.transaction() as session:
        session.execute(update(Delivery).where(Delivery.id == delivery_id).values(not_before=until))


def test_a_held_back_delivery_gets_its_job_when_its_wait_ends(
    db: Database, redis_settings: Settings, connection: redis.Redis
) -> None:
    settings = redis_settings
    _, lease = leased(db, settings, households=2)
    soon, later = (c.id for c in lease.items)
    held = [
        SendResult(key, Outcome.retry, error_code="number_limit", detail={"retry_after": 60})
        for key in (soon, later)
    ]
    record(db, lease.token, *held)
    now = utcnow()
    hold(db, soon, now - dt.timedelta(seconds=1))  # its wait just ended
    hold(db, later, now + dt.timedelta(seconds=60))
    assert row(db, soon).state is DeliveryState.queued
    for name in (URGENT, SEND):  # a fan-out of other work fills the queues
        get_queue(name, connection, settings).enqueue(JOB)
    rt = SimpleNamespace(settings=settings, db=db, redis=connection)

    kicked = kick_queued(rt, now)  # type: ignore[arg-type]
    assert kicked.jobs == 1  # for `soon`, though its queue is not empty
    assert kicked.next_held == row(db, later).not_before

    # Long due and its queue busy: the jobs in the queue take it (as before)
    hold(db, soon, now - dt.timedelta(seconds=settings.delivery.reconcile_every_seconds + 5))
    assert kick_queued(rt, now).jobs == 0  # type: ignore[arg-type]

    before = next_due(connection, settings, [RECONCILE])
    tick_when_held_ends(rt, now, kicked.next_held)  # type: ignore[arg-type]
    tick_when_held_ends(rt, now, kicked.next_held)  # type: ignore[arg-type]
    asked = next_due(connection, settings, [RECONCILE])
    assert before is None
    assert asked is not None
    assert 59 < asked - now.timestamp() < 61
    assert connection.zcard(f"{settings.queue_prefix}:tick:{RECONCILE}:due") == 1  # asked once


def test_sends_redis_lost_get_jobs_though_every_tick_is_waiting(
    db: Database, redis_settings: Settings, connection: redis.Redis
) -> None:
    """Redis back empty, every tick fires at once; the reconcile among them must still find
    the red alert's queue empty of sends (an alert issued during the outage went nowhere when
    the ticks waited on the urgent queue: the send queue looked busy)."""
    settings = redis_settings
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for _ in range(3):
            f.household(session, grid=zones["G1"])
    alert_id = fa.issue(db, settings, zones=["V1"]).alert.id  # red; no job enqueued
    fire_due_ticks(connection, settings, periodic_ticks(settings), owner="t")
    rt = SimpleNamespace(settings=settings, db=db, redis=connection)

    kicked = kick_queued(rt, utcnow())  # type: ignore[arg-type]

    urgent = get_queue(URGENT, connection, settings)
    assert kicked.jobs >= 1
    sends = [job for job in urgent.jobs if job.args == (alert_id, "sms")]
    assert len(sends) == kicked.jobs
