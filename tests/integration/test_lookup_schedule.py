"""A sent message whose final callback never came is looked up soon after sending (callbacks
get lost, e.g. while the API is down), then only seldom while the provider has no final
status (some carriers never report one); an unknown is resent only when two look-ups a grace
apart found nothing."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from sqlalchemy import select, update

from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.lookups import ABSENT, due_lookups
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.delivery.reconciler import TickReport, _apply_lookups
from broadcaster.settings import Settings
from channels.base import LookupResult, Outcome, ProviderState, SendResult
from tests.integration.ledger_support import leased, record, row


def due(db: Database, settings: Settings, at: dt.datetime) -> set[int]:
    runtime = SimpleNamespace(settings=settings, db=db, redis=None)
    return {delivery.id for delivery, *_ in due_lookups(runtime, at, 0)}  # type: ignore[arg-type]


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


def look_up(db: Database, delivery_id: int, at: dt.datetime, result: LookupResult) -> TickReport:
    """One look-up answer applied as the reconciler applies it."""
    report = TickReport()
    with db.transaction() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        _apply_lookups(session, {delivery_id: delivery}, [result], at, report)
    return report


def test_an_unknown_is_resent_only_after_two_look_ups_a_grace_apart_found_nothing(
    db: Database, settings: Settings
) -> None:
    grace = dt.timedelta(seconds=settings.delivery.unknown_grace_seconds)
    _, lease = leased(db, settings, households=2)
    timed_out, late = (c.id for c in lease.items)
    record(
        db,
        lease.token,
        SendResult(timed_out, Outcome.unknown, error_code="timeout"),
        SendResult(late, Outcome.unknown, error_code="timeout"),
    )
    first = utcnow() + grace + dt.timedelta(seconds=1)
    assert due(db, settings, first) == {timed_out, late}
    for delivery_id in (timed_out, late):
        once = look_up(db, delivery_id, first, LookupResult(delivery_id, found=False))
        assert (once.absent_once, once.resent) == (1, 0)  # it may still be on its way
        assert (row(db, delivery_id).state, row(db, delivery_id).error_code) == (
            DeliveryState.unknown,
            ABSENT,
        )
    assert due(db, settings, first + grace / 2) == set()  # not asked again too soon
    second = first + grace + dt.timedelta(seconds=1)
    assert due(db, settings, second) == {timed_out, late}

    gone = look_up(db, timed_out, second, LookupResult(timed_out, found=False))
    assert gone.resent == 1
    assert row(db, timed_out).state is DeliveryState.superseded
    arrived = LookupResult(late, found=True, provider_id="SM9", state=ProviderState.delivered)
    assert look_up(db, late, second, arrived).resent == 0  # it got there after all
    assert row(db, late).state is DeliveryState.delivered
    with db.read() as session:
        successors = session.scalars(
            select(Delivery.resend_of).where(Delivery.resend_of.is_not(None))
        ).all()
    assert successors == [timed_out]
