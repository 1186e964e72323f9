"""The attempt log keeps every try of a delivery: a refused first attempt keeps its code while
the delivery that got there shows none, a callback that beats the worker's answer still makes
one attempt, and a superseded attempt stays as history without counting as a failure."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from broadcaster.alerts.models import Alert
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.attempts import of_recipients
from broadcaster.delivery.ledger import claim
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.delivery.reconciler import _resend, expire_leases
from broadcaster.delivery.statuses import StatusReport
from broadcaster.reports.counts import alert_counts
from broadcaster.settings import Settings
from channels.base import Outcome, SendResult
from tests.integration.ledger_support import attempts_of, leased, record, report, row

S = DeliveryState


def test_each_lease_writes_an_attempt_before_the_call(db: Database, settings: Settings) -> None:
    _alert_id, lease = leased(db, settings)
    for item in lease.items:
        assert attempts_of(db, item.id) == [(1, "sms", S.sending, None, None, False)]


def test_refused_first_attempt_then_delivered_gives_two_attempts(
    db: Database, settings: Settings
) -> None:
    alert_id, lease = leased(db, settings, households=1)
    target = lease.items[0].id
    record(db, lease.token, SendResult(target, Outcome.retry, error_code="20500"))
    with db.transaction() as session:
        again = claim(
            session, alert_id=alert_id, channel="sms", limit=10, lease_seconds=10, now=utcnow()
        )
    assert target in {c.id for c in again.items}
    record(db, again.token, SendResult(target, Outcome.accepted, "SM5"))
    report(db, StatusReport(target, "SM5", S.delivered))
    assert attempts_of(db, target) == [
        (1, "sms", S.superseded, "20500", None, True),
        (2, "sms", S.delivered, None, "SM5", True),
    ]
    delivery = row(db, target)
    assert (delivery.state, delivery.error_code, delivery.attempts) == (S.delivered, None, 2)


def test_definite_refusal_is_a_failed_attempt(db: Database, settings: Settings) -> None:
    _alert_id, lease = leased(db, settings, households=1)
    target = lease.items[0].id
    record(db, lease.token, SendResult(target, Outcome.failed, error_code="21211"))
    assert attempts_of(db, target) == [(1, "sms", S.failed, "21211", None, True)]


def test_callback_before_the_result_makes_one_attempt_with_the_final_outcome(
    db: Database, settings: Settings
) -> None:
    _alert_id, lease = leased(db, settings)
    first, second, third = (c.id for c in lease.items)
    report(  # the provider's callbacks beat the worker to its rows
        db,
        StatusReport(first, "SM1", S.delivered),
        StatusReport(second, "SM2", S.sent),
        StatusReport(third, "SM3", S.failed, "30003"),
    )
    stats = record(
        db,
        lease.token,
        SendResult(first, Outcome.accepted, "SM1"),
        SendResult(second, Outcome.unknown, error_code="timeout"),  # timed out, yet got there
        SendResult(third, Outcome.accepted, "SM3"),
    )
    assert stats["reported_first"] == 3
    report(db, StatusReport(second, "SM2", S.delivered))
    assert attempts_of(db, first) == [(1, "sms", S.delivered, None, "SM1", True)]
    assert attempts_of(db, second) == [(1, "sms", S.delivered, None, "SM2", True)]
    assert attempts_of(db, third) == [(1, "sms", S.failed, "30003", "SM3", True)]


def test_a_callback_updates_the_attempt_of_its_own_message_id(
    db: Database, settings: Settings
) -> None:
    _alert_id, lease = leased(db, settings, households=1)
    target = lease.items[0].id
    record(db, lease.token, SendResult(target, Outcome.accepted, "SM8"))
    report(db, StatusReport(target, "SM-other", S.failed, "30005"))  # not this message's
    assert attempts_of(db, target) == [(1, "sms", S.sent, None, "SM8", False)]
    report(db, StatusReport(target, "SM8", S.delivered))
    report(db, StatusReport(target, "SM8", S.failed, "30005"))  # late: never backwards
    assert attempts_of(db, target) == [(1, "sms", S.delivered, None, "SM8", True)]


def test_expired_lease_then_late_acceptance(db: Database, settings: Settings) -> None:
    _alert_id, lease = leased(db, settings, households=1)
    target = lease.items[0].id
    with db.transaction() as session:  # the worker stalled past its lease
        assert expire_leases(session, utcnow() + dt.timedelta(seconds=11)) == len(lease.items)
    assert attempts_of(db, target) == [(1, "sms", S.unknown, "lease_expired", None, False)]
    record(db, lease.token, SendResult(target, Outcome.accepted, "SM9"))
    assert attempts_of(db, target) == [(1, "sms", S.sent, None, "SM9", False)]


def test_superseded_attempt_stays_as_history_and_is_no_failure(
    db: Database, settings: Settings
) -> None:
    alert_id, lease = leased(db, settings, households=1)
    target = lease.items[0].id
    others = [c.id for c in lease.items[1:]]
    record(
        db,
        lease.token,
        SendResult(target, Outcome.unknown, error_code="timeout"),
        *(SendResult(d, Outcome.accepted, f"SM{d}") for d in others),
    )
    with db.transaction() as session:  # the lookup says the provider never got it
        delivery = session.get(Delivery, target)
        assert delivery is not None
        assert _resend(session, delivery, utcnow()) == 1
        successor = session.scalar(select(Delivery.id).where(Delivery.resend_of == target))
    assert successor is not None
    with db.transaction() as session:
        again = claim(
            session, alert_id=alert_id, channel="sms", limit=10, lease_seconds=10, now=utcnow()
        )
    assert [c.id for c in again.items] == [successor]
    record(db, again.token, SendResult(successor, Outcome.accepted, "SM-new"))
    report(
        db,
        StatusReport(successor, "SM-new", S.delivered),
        *(StatusReport(d, f"SM{d}", S.delivered) for d in others),
        StatusReport(target, "SM-late", S.delivered),  # cannot revive history
    )
    assert attempts_of(db, target) == [(1, "sms", S.superseded, "timeout", None, True)]
    assert attempts_of(db, successor) == [(1, "sms", S.delivered, None, "SM-new", True)]
    with db.read() as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        counts = alert_counts(session, alert).deliveries["sms"]
        recipient_id = session.scalar(select(Delivery.recipient_id).where(Delivery.id == target))
        assert recipient_id is not None
        shown = of_recipients(session, [recipient_id])[recipient_id]
    assert counts.by_state.get("failed", 0) == 0
    assert counts.total == counts.by_state["delivered"] == len(others) + 1
    assert counts.by_state["superseded"] == 1
    assert [(a.delivery_id, a.outcome) for a in shown if a.delivery_id in (target, successor)] == [
        (target, S.superseded),
        (successor, S.delivered),
    ]
