"""The reconciler tick: expired leases become unknown, unknowns are looked up or resent,
due queued work without a job gets one, finished alerts settle. Safe to run anywhere, twice."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import ScalarSelect, and_, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session

from broadcaster.alerts.models import (
    NOTICE_STATES,
    SENDING_STATES,
    Alert,
    AlertState,
    AlertStatus,
)
from broadcaster.alerts.tokens import make_token
from broadcaster.db.base import utcnow
from broadcaster.db.database import rowcount
from broadcaster.delivery import attempts
from broadcaster.delivery.dispatch import enqueue_sends, queue_for
from broadcaster.delivery.models import Delivery, DeliveryAttempt, DeliveryState
from broadcaster.delivery.providers import provider_named
from broadcaster.delivery.runtime import Runtime, runtime
from broadcaster.delivery.statuses import StatusReport, apply_reports
from broadcaster.queues import get_queue
from channels.base import ChannelError, LookupItem, LookupResult

log = logging.getLogger(__name__)
S = DeliveryState
LOOKUP_PAGE = 1000
EXPIRED = attempts.LEASE_EXPIRED
OPEN = (S.queued, S.sending, S.unknown)


@dataclass
class TickReport:
    leases_expired: int = 0
    found_at_provider: int = 0
    resent: int = 0
    still_unknown: int = 0
    jobs_enqueued: int = 0
    alerts_settled: int = 0


def tick() -> dict[str, Any]:
    """One reconciliation pass over the whole database."""
    rt = runtime()
    now = utcnow()
    report = TickReport()
    with rt.db.transaction() as session:
        report.leases_expired = expire_leases(session, now)
    resolve_unknown(rt, now, report)
    report.jobs_enqueued = kick_queued(rt, now)
    with rt.db.transaction() as session:
        report.alerts_settled = settle_alerts(session)
    if any(asdict(report).values()):
        log.info("reconciler: %s", report)
    return asdict(report)


def expire_leases(session: Session, now: dt.datetime) -> int:
    """Deliveries whose worker vanished mid-send: their fate (and their attempt's) is
    unknown, never assumed."""
    expired = session.scalars(
        update(Delivery)
        .where(Delivery.state == S.sending, Delivery.lease_expires_at < now)
        .values(
            state=S.unknown,
            error_code=EXPIRED,
            lease_token=None,
            lease_expires_at=None,
            sent_at=func.coalesce(Delivery.sent_at, now),
        )
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    ).all()
    attempts.expire(session, expired, EXPIRED)
    return len(expired)


def resolve_unknown(rt: Runtime, now: dt.datetime, report: TickReport) -> None:
    """Ask the provider about unknowns past the grace period (callbacks had their chance)
    and about sent messages whose final status callback never came: every such delivery,
    page by page, as fast as the provider's query limit (the channel's lookup concurrency)
    allows, within the tick's time budget."""
    settings = rt.settings.delivery
    deadline = time.monotonic() + settings.lookup_budget_seconds
    after = 0
    while time.monotonic() < deadline:
        rows = _due_lookups(rt, now, after)
        if not rows:
            return
        after = rows[-1][0].id
        _look_up(rt, rows, now, report)
        if len(rows) < LOOKUP_PAGE:
            return


Due = tuple[Delivery, AlertStatus, str | None]  # a delivery, its alert's status, its carrier


def _due_lookups(rt: Runtime, now: dt.datetime, after: int) -> list[Due]:
    settings = rt.settings.delivery
    unknown_before = now - dt.timedelta(seconds=settings.unknown_grace_seconds)
    stale_before = now - dt.timedelta(seconds=settings.status_lookup_after_seconds)
    recheck_before = now - dt.timedelta(seconds=settings.status_recheck_after_seconds)
    with rt.db.read() as session:
        rows = session.execute(
            select(Delivery, Alert.status, _carrier())
            .join(Alert, Alert.id == Delivery.alert_id)
            .where(
                Delivery.id > after,
                or_(
                    and_(
                        Delivery.state == S.unknown,
                        # a dead worker's lease ran out after its last heartbeat: callbacks
                        # had as long as the lease to come, so it is looked up at once
                        or_(Delivery.sent_at < unknown_before, Delivery.error_code == EXPIRED),
                        or_(Delivery.checked_at.is_(None), Delivery.checked_at < unknown_before),
                    ),
                    and_(
                        Delivery.state == S.sent,
                        Delivery.provider_id.is_not(None),
                        or_(  # once soon after sending, then seldom: some never get final
                            and_(Delivery.checked_at.is_(None), Delivery.sent_at < stale_before),
                            Delivery.checked_at < recheck_before,
                        ),
                    ),
                ),
            )
            .order_by(Delivery.id)
            .limit(LOOKUP_PAGE)
        ).all()
        session.expunge_all()
    return [(delivery, status, carrier) for delivery, status, carrier in rows]


def _carrier() -> ScalarSelect[str | None]:
    """Who carried a delivery's latest attempt: where its fate must be asked."""
    return (
        select(DeliveryAttempt.provider)
        .where(DeliveryAttempt.delivery_id == Delivery.id)
        .order_by(DeliveryAttempt.number.desc())
        .limit(1)
        .scalar_subquery()
    )


def _look_up(rt: Runtime, rows: list[Due], now: dt.datetime, report: TickReport) -> None:
    """Ask each delivery's own carrier (the provider of its latest attempt; the medium's
    current one for deliveries without attempts): after a failover, an unknown is resolved
    where it was sent, never by sending it elsewhere."""
    by_carrier: dict[tuple[str, str, bool], list[Delivery]] = {}
    for delivery, status, carrier in sorted(rows, key=lambda row: (row[0].priority, row[0].id)):
        key = (delivery.channel, carrier or "", status.is_drill)
        by_carrier.setdefault(key, []).append(delivery)
    secret = rt.settings.secret_key.get_secret_value().encode()
    for (channel, carrier, drill), deliveries in by_carrier.items():
        items = [
            LookupItem(
                d.id,
                d.address,
                d.sent_at or now,
                make_token(secret, d.alert_id, d.person_id or 0),
                d.provider_id,
            )
            for d in deliveries
        ]
        try:
            provider = (
                provider_named(channel, carrier) if carrier else rt.carrier(channel, drill=drill)
            )
        except ChannelError as exc:
            log.warning("cannot look up %d deliveries: %s", len(deliveries), exc.message)
            continue
        results = rt.run(rt.channel(provider.name, drill=drill).lookup(items))
        with rt.db.transaction() as session:
            _apply_lookups(session, {d.id: d for d in deliveries}, results, now, report)


def _apply_lookups(
    session: Session,
    deliveries: dict[int, Delivery],
    results: list[LookupResult],
    now: dt.datetime,
    report: TickReport,
) -> None:
    checked = [r.key for r in results]
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(checked))
        .values(checked_at=now)
        .execution_options(synchronize_session=False)
    )
    found = [
        StatusReport(r.key, r.provider_id, S(r.state.value), r.error_code)
        for r in results
        if r.found and r.provider_id and r.state
    ]
    report.found_at_provider += apply_reports(session, found, now)
    for result in results:
        delivery = deliveries[result.key]
        if result.found is None:
            report.still_unknown += 1
        elif result.found is False and delivery.state is S.unknown:
            report.resent += _resend(session, delivery, now)


def _resend(session: Session, delivery: Delivery, now: dt.datetime) -> int:
    """The provider never got it: this delivery and its attempt are superseded (history, not
    a failure) by a new delivery, queued; its lease makes the new attempt."""
    closed = session.execute(
        update(Delivery)
        .where(Delivery.id == delivery.id, Delivery.state == S.unknown)
        .values(state=S.superseded, error_code="not_sent", final_at=now)
        .execution_options(synchronize_session=False)
    )
    if not rowcount(closed):
        return 0
    attempts.supersede(session, delivery.id, now, "not_sent")
    session.execute(
        insert(Delivery).values(
            alert_id=delivery.alert_id,
            recipient_id=delivery.recipient_id,
            person_id=delivery.person_id,
            channel=delivery.channel,
            address=delivery.address,
            state=S.queued,
            priority=delivery.priority,
            attempts=0,
            resend_of=delivery.id,
            queued_at=now,
            revision=delivery.revision,
            notice=delivery.notice,
        )
    )
    return 1


def kick_queued(rt: Runtime, now: dt.datetime) -> int:
    """Queued deliveries that are due while their queue is empty have lost their job."""
    if rt.redis is None:
        return 0
    with rt.db.transaction() as session:
        rows = session.execute(
            select(Delivery.alert_id, Alert.level, Delivery.channel, func.count())
            .join(Alert, Alert.id == Delivery.alert_id)
            .where(
                Delivery.state == S.queued,
                Alert.state.in_(SENDING_STATES)
                | (Alert.state.in_(NOTICE_STATES) & Delivery.notice.is_not(None)),
                (Delivery.not_before.is_(None)) | (Delivery.not_before <= now),
            )
            .group_by(Delivery.alert_id, Alert.level, Delivery.channel)
        ).all()
    enqueued = 0
    for alert_id, level, channel, count in rows:
        if get_queue(queue_for(level), rt.redis, rt.settings).count > 0:
            continue
        enqueued += enqueue_sends(
            rt.settings, rt.redis, alert_id=alert_id, level=level, channel_counts={channel: count}
        )
    return enqueued


def settle_alerts(session: Session) -> int:
    """A sending alert with nothing left in flight becomes active."""
    in_flight = exists().where(Delivery.alert_id == Alert.id, Delivery.state.in_(OPEN))
    result = session.execute(
        update(Alert)
        .where(Alert.state == AlertState.sending, ~in_flight)
        .values(state=AlertState.active)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)
