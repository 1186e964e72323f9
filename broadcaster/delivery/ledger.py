"""The delivery ledger: lease a batch before the call, record the provider's answers after it."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, func, or_, select, update
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert
from broadcaster.delivery.answers import LATE_ACCEPT, LATE_REFUSAL, store_answers
from broadcaster.delivery.attempts import LEASE_EXPIRED, open_attempts
from broadcaster.delivery.models import Delivery, DeliveryState
from channels.base import Outcome, SendResult

deliveries = cast(Table, Delivery.__table__)
alerts = cast(Table, Alert.__table__)


@dataclass(frozen=True)
class Claimed:
    """A delivery leased to this worker: everything needed to send it."""

    id: int
    alert_id: int
    recipient_id: int | None
    person_id: int | None
    group_id: int | None
    loudspeaker_id: int | None
    address: str
    priority: int
    revision: int = 1
    notice: str | None = None


@dataclass(frozen=True)
class Lease:
    token: str
    expires_at: dt.datetime
    items: list[Claimed]


def claim(
    session: Session,
    *,
    alert_id: int,
    channel: str,
    limit: int,
    lease_seconds: int,
    now: dt.datetime,
    provider: str | None = None,
    notices_only: bool = False,
) -> Lease:
    """Lease up to `limit` queued deliveries, most urgent first, each with a new attempt
    (written before the call) carried by `provider` (unnamed: the medium); committed by the
    caller. `notices_only`: the alert has ended, only its notices (all-clear, correction) still
    go."""
    token = secrets.token_hex(8)
    expires = now + dt.timedelta(seconds=lease_seconds)
    candidates = (
        select(Delivery.id)
        .where(
            Delivery.alert_id == alert_id,
            Delivery.channel == channel,
            Delivery.state == DeliveryState.queued,
            or_(Delivery.not_before.is_(None), Delivery.not_before <= now),
        )
        .order_by(Delivery.priority, Delivery.id)
        .limit(limit)
    )
    if notices_only:
        candidates = candidates.where(Delivery.notice.is_not(None))
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    stmt = (
        update(Delivery)
        .where(Delivery.id.in_(candidates.scalar_subquery()))
        .values(
            state=DeliveryState.sending,
            lease_token=token,
            lease_expires_at=expires,
            attempts=Delivery.attempts + 1,
        )
        .returning(
            Delivery.id,
            Delivery.alert_id,
            Delivery.recipient_id,
            Delivery.person_id,
            Delivery.group_id,
            Delivery.loudspeaker_id,
            Delivery.address,
            Delivery.priority,
            Delivery.revision,
            Delivery.notice,
        )
        .execution_options(synchronize_session=False)
    )
    rows = [Claimed(**row._mapping) for row in session.execute(stmt)]
    rows.sort(key=lambda c: (c.priority, c.id))
    open_attempts(session, [c.id for c in rows], now, provider)
    return Lease(token, expires, rows)


@dataclass
class RecordStats:
    """How the provider's answers landed in the ledger."""

    accepted: int = 0
    failed: int = 0
    retried: int = 0
    unknown: int = 0
    lease_lost: int = 0
    reported_first: int = 0

    def add(self, other: RecordStats) -> None:
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)


def record_results(
    session: Session,
    *,
    token: str,
    results: Sequence[SendResult],
    now: dt.datetime,
    retry_after: dt.timedelta,
) -> RecordStats:
    """Store each answer on its delivery and its attempt, only while this worker still holds
    the lease."""
    rows = _current(session, [r.key for r in results])
    stats = RecordStats()
    groups: dict[Outcome, list[dict[str, object]]] = {o: [] for o in Outcome}
    strangers: list[tuple[SendResult, Any]] = []
    for result in results:
        row = rows.get(result.key)
        if row is None:
            continue
        if row.state != DeliveryState.sending.value or row.lease_token != token:
            strangers.append((result, row))
            continue
        groups[result.outcome].append(_params(result, token, now, retry_after, row.attempts))
    for outcome, params in groups.items():
        if params:
            matched = store_answers(session.connection(), outcome, params, token)
            setattr(stats, _STAT[outcome], matched)
    if strangers:
        _unmatched(session, strangers, stats, now, retry_after)
    return stats


def _params(
    result: SendResult,
    token: str | None,
    now: dt.datetime,
    retry_after: dt.timedelta,
    number: int | None = None,
) -> dict[str, object]:
    """The parameters of the answer statements (answers.py) for one result; `number`: its
    attempt's (the delivery's lease count), for the attempt named by its key."""
    return {
        "d_id": result.key,
        "d_number": number,
        "d_token": token,
        "d_now": now,
        "d_provider": result.provider_id,
        "d_error": result.error_code,
        "d_segments": result.detail.get("segments"),
        "d_not_before": now + _retry_after(result, retry_after),
        "d_state": (DeliveryState.delivered if result.final else DeliveryState.sent).value,
        "d_final": now if result.final else None,
    }


def _current(session: Session, delivery_ids: Sequence[int]) -> dict[int, Any]:
    """The rows as they are now, locked in id order on PostgreSQL (see lock_in_order)."""
    query = (
        select(
            deliveries.c.id,
            deliveries.c.alert_id,
            deliveries.c.state,
            deliveries.c.provider_id,
            deliveries.c.lease_token,
            deliveries.c.error_code,
            deliveries.c.attempts,
        )
        .where(deliveries.c.id.in_(sorted(set(delivery_ids))))
        .order_by(deliveries.c.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return {row.id: row for row in session.execute(query)}


def _unmatched(
    session: Session,
    strangers: list[tuple[SendResult, Any]],
    stats: RecordStats,
    now: dt.datetime,
    retry_after: dt.timedelta,
) -> None:
    """Answers whose row had moved on. A status callback that beat the worker to its own
    answer (the row has the provider's id) is a race, not a loss. A real loss (the lease
    expired while the request was out) is counted on the alert; an acceptance whose row is
    still `unknown` is kept (unknown → sent is forward), which spares a lookup; so is a
    refusal (nothing was sent: failed, or queued again), see LATE_REFUSAL."""
    lost: dict[int, int] = {}
    refused: dict[Outcome, list[dict[str, object]]] = {Outcome.failed: [], Outcome.retry: []}
    for result, row in strangers:
        if row.provider_id and result.provider_id in (None, row.provider_id):
            stats.reported_first += 1
            session.execute(  # what only the worker knows: when it sent, and the segments
                update(deliveries)
                .where(deliveries.c.id == result.key)
                .values(
                    sent_at=func.coalesce(deliveries.c.sent_at, now),
                    segments=func.coalesce(deliveries.c.segments, result.detail.get("segments")),
                )
            )
            continue
        stats.lease_lost += 1
        lost[row.alert_id] = lost.get(row.alert_id, 0) + 1
        if result.outcome in refused and _expired(row):
            refused[result.outcome].append(_params(result, None, now, retry_after))
        if result.outcome is Outcome.accepted and row.state == DeliveryState.unknown.value:
            kept = session.connection().execute(
                update(deliveries)
                .where(
                    deliveries.c.id == result.key,
                    deliveries.c.state == DeliveryState.unknown.value,
                    deliveries.c.provider_id.is_(None),
                )
                .values(
                    state=DeliveryState.sent.value, provider_id=result.provider_id, error_code=None
                )
            )
            if kept.rowcount:
                session.execute(LATE_ACCEPT, {"r_id": result.key, "r_provider": result.provider_id})
    for outcome, params in refused.items():
        if params:
            for statement in LATE_REFUSAL[outcome]:
                session.connection().execute(statement, params)
    for alert_id, count in lost.items():
        session.execute(
            update(alerts)
            .where(alerts.c.id == alert_id)
            .values(lease_lost=alerts.c.lease_lost + count)
        )


def _expired(row: Any) -> bool:
    """A row left `unknown` by its lease running out, nothing known of it since."""
    return bool(
        row.state == DeliveryState.unknown.value
        and row.lease_token is None
        and row.provider_id is None
        and row.error_code == LEASE_EXPIRED
    )


def extend_leases(
    session: Session, tokens: Sequence[str], *, now: dt.datetime, lease_seconds: float
) -> int:
    """The heartbeat: rows still being sent under these leases stay leased a while longer."""
    if not tokens:
        return 0
    result = session.connection().execute(
        update(deliveries)
        .where(
            deliveries.c.lease_token.in_(list(tokens)),
            deliveries.c.state == DeliveryState.sending.value,
        )
        .values(lease_expires_at=now + dt.timedelta(seconds=lease_seconds))
    )
    return result.rowcount


_STAT = {
    Outcome.accepted: "accepted",
    Outcome.failed: "failed",
    Outcome.retry: "retried",
    Outcome.unknown: "unknown",
}


def lock_in_order(session: Session, delivery_ids: Sequence[int]) -> None:
    """Take the rows' locks in ascending id order before updating them (PostgreSQL).

    Result writes and status callbacks update overlapping rows in separate transactions;
    without one global order they can deadlock. SQLite needs none: writers are serialised.
    """
    if delivery_ids and session.get_bind().dialect.name == "postgresql":
        session.execute(
            select(Delivery.id)
            .where(Delivery.id.in_(sorted(set(delivery_ids))))
            .order_by(Delivery.id)
            .with_for_update()
        ).all()


def _retry_after(result: SendResult, default: dt.timedelta) -> dt.timedelta:
    """The wait a channel or limiter asked for, else the default."""
    wait = result.detail.get("retry_after")
    return dt.timedelta(seconds=float(wait)) if wait else default
