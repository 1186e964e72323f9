"""The ledger keeps honest books: a callback that beats the worker's own result is no lease
loss, a real loss is counted on the alert, a superseded attempt is no failure, and a
delivered message keeps no error code of a refused earlier attempt."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from broadcaster.alerts.models import Alert
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.ledger import claim, extend_leases
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.delivery.reconciler import _resend, expire_leases
from broadcaster.delivery.statuses import StatusReport, apply_reports
from broadcaster.settings import Settings
from channels.base import Outcome, SendResult
from tests.integration.ledger_support import attempts_of, leased, record, row

S = DeliveryState


def lease_lost(db: Database, alert_id: int) -> int:
    with db.read() as session:
        return int(session.scalar(select(Alert.lease_lost).where(Alert.id == alert_id)) or 0)


def test_callback_before_result_is_not_a_lease_loss(db: Database, settings: Settings) -> None:
    alert_id, lease = leased(db, settings)
    first, second, third = (c.id for c in lease.items)
    with db.transaction() as session:  # the provider's callbacks beat the worker to it
        apply_reports(
            session,
            [
                StatusReport(first, "SM1", S.sent),
                StatusReport(second, "SM2", S.delivered),
                StatusReport(third, "SM3", S.sent),
            ],
            utcnow(),
        )
    stats = record(
        db,
        lease.token,
        SendResult(first, Outcome.accepted, "SM1", detail={"segments": 2}),
        SendResult(second, Outcome.accepted, "SM2", detail={"segments": 1}),
        SendResult(third, Outcome.unknown, error_code="timeout"),  # it timed out, yet got there
    )
    assert stats["lease_lost"] == 0
    assert stats["reported_first"] == 3
    assert row(db, third).state is S.sent
    assert lease_lost(db, alert_id) == 0
    assert (row(db, first).state, row(db, first).segments) == (S.sent, 2)
    assert row(db, second).state is S.delivered


def test_real_lease_loss_is_counted_and_keeps_the_providers_answer(
    db: Database, settings: Settings
) -> None:
    alert_id, lease = leased(db, settings)
    target = lease.items[0].id
    with db.transaction() as session:  # the worker stalled past its lease
        assert expire_leases(session, utcnow() + dt.timedelta(seconds=11)) == len(lease.items)
    stats = record(db, lease.token, SendResult(target, Outcome.accepted, "SM9"))
    assert stats["lease_lost"] == 1
    assert lease_lost(db, alert_id) == 1
    delivery = row(db, target)
    assert (delivery.state, delivery.provider_id, delivery.error_code) == (S.sent, "SM9", None)


def test_a_refusal_after_the_lease_ran_out_settles_the_unknown(
    db: Database, settings: Settings
) -> None:
    """The provider said "not sent" (down: retry; refused: failed) but the answer came after
    the lease expired: the delivery is queued again or failed at once, no lookup waited for
    (none can answer while that provider is down)."""
    alert_id, lease = leased(db, settings)
    down, refused, unheard = (c.id for c in lease.items)
    with db.transaction() as session:  # the worker stalled past its lease
        assert expire_leases(session, utcnow() + dt.timedelta(seconds=11)) == len(lease.items)
    stats = record(
        db,
        lease.token,
        SendResult(down, Outcome.retry, error_code="ServiceUnavailable"),
        SendResult(refused, Outcome.failed, error_code="21211"),
    )
    assert stats["lease_lost"] == 2
    assert lease_lost(db, alert_id) == 2
    assert (row(db, down).state, row(db, down).error_code) == (S.queued, "ServiceUnavailable")
    assert (row(db, refused).state, row(db, refused).error_code) == (S.failed, "21211")
    assert (row(db, unheard).state, row(db, unheard).error_code) == (S.unknown, "lease_expired")
    assert [a[2:4] for a in attempts_of(db, down)] == [(S.superseded, "ServiceUnavailable")]
    assert [a[2:4] for a in attempts_of(db, refused)] == [(S.failed, "21211")]
    assert [a[2:4] for a in attempts_of(db, unheard)] == [(S.unknown, "lease_expired")]
    # a row whose fate became known meanwhile (looked up and resent) is left alone
    record(db, lease.token, SendResult(down, Outcome.failed, error_code="late"))
    assert row(db, down).state is S.queued


def test_heartbeat_keeps_a_lease_and_only_its_own(db: Database, settings: Settings) -> None:
    _alert_id, lease = leased(db, settings)
    later = utcnow() + dt.timedelta(seconds=8)
    with db.transaction() as session:
        assert extend_leases(session, [lease.token], now=later, lease_seconds=10) == 3
        assert extend_leases(session, ["someone-else"], now=later, lease_seconds=10) == 0
        assert expire_leases(session, utcnow() + dt.timedelta(seconds=11)) == 0
        assert expire_leases(session, later + dt.timedelta(seconds=11)) == 3


def test_delivered_message_keeps_no_error_of_a_refused_attempt(
    db: Database, settings: Settings
) -> None:
    alert_id, lease = leased(db, settings, households=1)
    target = lease.items[0].id
    record(db, lease.token, SendResult(target, Outcome.retry, error_code="20500"))
    assert row(db, target).error_code == "20500"
    with db.transaction() as session:
        again = claim(
            session, alert_id=alert_id, channel="sms", limit=10, lease_seconds=10, now=utcnow()
        )
    record(db, again.token, SendResult(target, Outcome.accepted, "SM5"))
    assert (row(db, target).state, row(db, target).error_code) == (S.sent, None)
    with db.transaction() as session:
        apply_reports(session, [StatusReport(target, "SM5", S.delivered)], utcnow())
    assert (row(db, target).state, row(db, target).error_code) == (S.delivered, None)


def test_a_resent_attempt_is_superseded_not_failed(db: Database, settings: Settings) -> None:
    _alert_id, lease = leased(db, settings, households=1)
    target = lease.items[0].id
    record(db, lease.token, SendResult(target, Outcome.unknown, error_code="timeout"))
    with db.transaction() as session:
        delivery = session.get(Delivery, target)
        assert delivery is not None
        assert _resend(session, delivery, utcnow()) == 1
    with db.read() as session:
        states = dict(session.execute(select(Delivery.id, Delivery.state)).all())
        successor = session.scalar(select(Delivery.id).where(Delivery.resend_of == target))
    assert states[target] is S.superseded
    assert successor is not None
    assert states[successor] is S.queued
    with db.transaction() as session:  # a late callback cannot revive or fail history
        apply_reports(session, [StatusReport(target, "SM7", S.failed)], utcnow())
    assert row(db, target).state is S.superseded
