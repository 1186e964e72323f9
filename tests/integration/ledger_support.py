"""Shared by the ledger and attempt-log tests (no tests here): a leased batch, answers and
callbacks recorded as a worker and the webhooks would, and what the rows say."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.ledger import Lease, claim, record_results
from broadcaster.delivery.models import Delivery, DeliveryAttempt
from broadcaster.delivery.statuses import StatusReport, apply_reports
from broadcaster.settings import Settings
from channels.base import SendResult
from tests.factories import alerts as fa
from tests.factories import registry as f

RETRY = dt.timedelta(seconds=0)


def leased(
    db: Database, settings: Settings, households: int = 3, lease_seconds: float = 10
) -> tuple[int, Lease]:
    """`households` households, an alert to them, and its SMS claimed in one lease."""
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for _ in range(households):
            f.household(session, grid=zones["G1"])
    alert_id = fa.issue(db, settings, zones=["V1"]).alert.id
    with db.transaction() as session:
        lease = claim(
            session,
            alert_id=alert_id,
            channel="sms",
            limit=100,
            lease_seconds=lease_seconds,
            now=utcnow(),
        )
    return alert_id, lease


def record(db: Database, token: str, *results: SendResult) -> dict[str, int]:
    with db.transaction() as session:
        stats = record_results(
            session, token=token, results=results, now=utcnow(), retry_after=RETRY
        )
    return vars(stats)


def row(db: Database, delivery_id: int) -> Delivery:
    with db.read() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        session.expunge(delivery)
        return delivery


def report(db: Database, *reports: StatusReport) -> None:
    """Status reports applied as the webhooks' group commit applies them."""
    with db.transaction() as session:
        apply_reports(session, reports, utcnow())


def attempts_of(db: Database, delivery_id: int) -> list[tuple[object, ...]]:
    """(number, provider, outcome, error code, provider message id, finished?) in order."""
    with db.read() as session:
        found = session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id == delivery_id)
            .order_by(DeliveryAttempt.number)
        ).all()
        return [
            (
                a.number,
                a.provider,
                a.outcome,
                a.error_code,
                a.provider_message_id,
                a.finished_at is not None,
            )
            for a in found
        ]
