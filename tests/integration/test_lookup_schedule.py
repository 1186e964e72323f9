"""A sent message whose final callback never came is looked up soon after sending (callbacks
get lost, e.g. while the API is down), then only seldom while the provider has no final
status (some carriers never report one)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from sqlalchemy import update

from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery
from broadcaster.delivery.reconciler import _due_lookups
from broadcaster.settings import Settings
from channels.base import Outcome, SendResult
from tests.integration.test_delivery_ledger import leased, record


def due(db: Database, settings: Settings, at: dt.datetime) -> set[int]:
    runtime = SimpleNamespace(settings=settings, db=db)
    return {delivery.id for delivery, *_ in _due_lookups(runtime, at, 0)}  # type: ignore[arg-type]


def test_a_sent_message_is_looked_up_once_soon_then_seldom(
    db: Database, settings: Settings
) -> None:
    first_wait = settings.delivery.status_lookup_after_seconds
    recheck = settings.delivery.status_recheck_after_seconds
    assert first_wait < recheck
    _, lease = leased(db, settings, households=1)
    (delivery_id,) = (c.id for c in lease.items)
    record(db, lease.token, SendResult(delivery_id, Outcome.accepted, "SM1"))
    sent = utcnow()

    assert due(db, settings, sent + dt.timedelta(seconds=first_wait / 2)) == set()
    looked_at = sent + dt.timedelta(seconds=first_wait + 1)
    assert due(db, settings, looked_at) == {delivery_id}

    with db.transaction() as session:  # the lookup found it still "sent" at the provider
        session.execute(
            update(Delivery).where(Delivery.id == delivery_id).values(checked_at=looked_at)
        )
    assert due(db, settings, looked_at + dt.timedelta(seconds=first_wait + 1)) == set()
    assert due(db, settings, looked_at + dt.timedelta(seconds=recheck + 1)) == {delivery_id}
