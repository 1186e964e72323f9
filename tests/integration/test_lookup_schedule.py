"""A sent message whose final callback never came is looked up soon after sending (callbacks
get lost, e.g. while the API is down), then only seldom while the provider has no final
status (some carriers never report one); a provider's "never got it" soon after a request
could have left is asked again before the delivery is resent."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from sqlalchemy import select, update

from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.lookups import (
    CALLBACK_LAG_FACTOR,
    RESEND_QUIET_SECONDS,
    callback_lag,
    due_lookups,
    mark_callback_gap,
    note_callback_lag,
)
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.delivery.reconciler import TickReport, _apply_lookups, expire_leases
from broadcaster.delivery.statuses import StatusReport
from broadcaster.flows.receipts import report_committer
from broadcaster.queues import connect
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


def look_up(
    db: Database,
    delivery_id: int,
    at: dt.datetime,
    result: LookupResult,
    lease: float = 10,
    quiet: float = RESEND_QUIET_SECONDS,
) -> TickReport:
    """One look-up answer applied as the reconciler applies it (`quiet`: the setting
    `delivery.resend_quiet_seconds`)."""
    report = TickReport()
    with db.transaction() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        _apply_lookups(session, {delivery_id: delivery}, [result], at, report, lease, quiet)
    return report


def test_never_got_it_soon_after_sending_is_asked_again_before_a_resend(
    db: Database, settings: Settings
) -> None:
    grace = dt.timedelta(seconds=settings.delivery.unknown_grace_seconds)
    quiet = dt.timedelta(seconds=RESEND_QUIET_SECONDS)
    _, lease = leased(db, settings, households=2)
    timed_out, late = (c.id for c in lease.items)
    record(
        db,
        lease.token,
        SendResult(timed_out, Outcome.unknown, error_code="timeout"),
        SendResult(late, Outcome.unknown, error_code="timeout"),
    )
    sent = utcnow()
    first = sent + dt.timedelta(seconds=1)  # short waits: asked one second after the timeout
    for delivery_id in (timed_out, late):
        soon = look_up(db, delivery_id, first, LookupResult(delivery_id, found=False))
        assert (soon.asked_again, soon.resent) == (1, 0)  # it may still be on its way
        assert RESEND_QUIET_SECONDS - 1 - 0.5 < soon.ask_in <= RESEND_QUIET_SECONDS - 1
        assert row(db, delivery_id).state is DeliveryState.unknown
    second = first + max(quiet, grace) + dt.timedelta(seconds=1)
    assert due(db, settings, second) == {timed_out, late}

    gone = look_up(db, timed_out, second, LookupResult(timed_out, found=False))
    assert (gone.asked_again, gone.resent) == (0, 1)
    assert row(db, timed_out).state is DeliveryState.superseded
    arrived = LookupResult(late, found=True, provider_id="SM9", state=ProviderState.delivered)
    assert look_up(db, late, second, arrived).resent == 0  # it got there after all
    assert row(db, late).state is DeliveryState.delivered
    with db.read() as session:
        successors = session.scalars(
            select(Delivery.resend_of).where(Delivery.resend_of.is_not(None))
        ).all()
    assert successors == [timed_out]


def test_a_dead_workers_lease_counts_its_silence_before_the_lease_ran_out(
    db: Database, settings: Settings
) -> None:
    """Heartbeats renew a lease every third of it: a worker whose lease ran out sent nothing
    for two thirds of it before; with a 5 s quiet time and a 10 s lease one look-up right
    away is enough, with a 3 s lease it is asked again."""
    _, lease = leased(db, settings, households=2)
    long_lease, short_lease = (c.id for c in lease.items)
    with db.transaction() as session:
        expire_leases(session, lease.expires_at + dt.timedelta(seconds=1))
    at = lease.expires_at + dt.timedelta(seconds=1)
    gone = look_up(db, long_lease, at, LookupResult(long_lease, False), lease=10, quiet=5)
    assert gone.resent == 1
    held = look_up(db, short_lease, at, LookupResult(short_lease, False), lease=3, quiet=5)
    assert (held.asked_again, held.resent) == (1, 0)
    assert row(db, short_lease).state is DeliveryState.unknown


def test_after_an_api_restart_what_was_sent_before_is_looked_up_a_grace_later(
    db: Database, redis_settings: Settings
) -> None:
    """Callbacks sent while the API was away are lost: its start marks a callback gap, and
    every message sent before it with no final status is due a grace after the start, not
    `status_lookup_after_seconds` after it was sent; one sent after the start is not."""
    settings = redis_settings
    grace = dt.timedelta(seconds=settings.delivery.unknown_grace_seconds)
    assert grace.total_seconds() + 1 < settings.delivery.status_lookup_after_seconds
    _, lease = leased(db, settings, households=2)
    before, after = (c.id for c in lease.items)
    record(db, lease.token, SendResult(before, Outcome.accepted, "SM1"))
    restart = utcnow() + dt.timedelta(seconds=0.5)
    with db.transaction() as session:  # sent after the restart, its callback may still come
        session.execute(update(Delivery).where(Delivery.id == after).values(
            state=DeliveryState.sent, provider_id="SM2", sent_at=restart + grace / 10))  # fmt: skip
    connection = connect(settings.redis_url or "")
    try:
        runtime = SimpleNamespace(settings=settings, db=db, redis=connection)
        at = restart + grace + dt.timedelta(seconds=1)
        assert due(db, settings, at) == set()  # without the gap: 20 s after sending
        mark_callback_gap(connection, settings, restart)
        assert {d.id for d, *_ in due_lookups(runtime, restart + grace / 2, 0)} == set()  # type: ignore[arg-type]
        assert {d.id for d, *_ in due_lookups(runtime, at, 0)} == {before}  # type: ignore[arg-type]
    finally:
        connection.close()


def test_while_callbacks_run_behind_a_sent_message_waits_for_its_own(
    db: Database, redis_settings: Settings
) -> None:
    """The API notes final callbacks coming 40 s after their message (a big fan-out's
    backlog at the provider): a message sent 25 s ago is not looked up, its callback is on
    its way; it is once it is older than 1.5 times the lag."""
    settings = redis_settings
    first_wait = settings.delivery.status_lookup_after_seconds
    _, lease = leased(db, settings, households=1)
    (delivery_id,) = (c.id for c in lease.items)
    record(db, lease.token, SendResult(delivery_id, Outcome.accepted, "SM1"))
    sent = utcnow()
    connection = connect(settings.redis_url or "")
    try:
        runtime = SimpleNamespace(settings=settings, db=db, redis=connection)

        def due_at(seconds: float) -> set[int]:
            at = sent + dt.timedelta(seconds=seconds)
            return {d.id for d, *_ in due_lookups(runtime, at, 0)}  # type: ignore[arg-type]

        assert due_at(first_wait + 5) == {delivery_id}  # no lag noted: the ordinary wait
        lag = 2 * first_wait
        note_callback_lag(connection, settings, lag)
        assert due_at(first_wait + 5) == set()
        assert due_at(CALLBACK_LAG_FACTOR * lag - 1) == set()
        assert due_at(CALLBACK_LAG_FACTOR * lag + 1) == {delivery_id}
    finally:
        connection.close()


def test_the_api_notes_how_far_final_callbacks_run_behind_the_sending(
    db: Database, redis_settings: Settings
) -> None:
    settings = redis_settings
    _, lease = leased(db, settings, households=2)
    early, late = (c.id for c in lease.items)
    record(
        db,
        lease.token,
        SendResult(early, Outcome.accepted, "SM1"),
        SendResult(late, Outcome.accepted, "SM2"),
    )
    with db.transaction() as session:  # sent half a minute ago, its callback comes now
        session.execute(
            update(Delivery)
            .where(Delivery.id == early)
            .values(sent_at=utcnow() - dt.timedelta(seconds=30))
        )
    connection = connect(settings.redis_url or "")
    try:
        runtime = SimpleNamespace(settings=settings, redis=connection)
        report_committer(db, settings).apply([StatusReport(late, "SM2", DeliveryState.sent)])
        assert callback_lag(runtime) == 0  # type: ignore[arg-type]  # not final: no lag
        report_committer(db, settings).apply(
            [
                StatusReport(early, "SM1", DeliveryState.delivered),
                StatusReport(late, "SM2", DeliveryState.delivered),
            ]
        )
        assert 30 <= callback_lag(runtime) < 60  # type: ignore[arg-type]  # the oldest
    finally:
        connection.close()
