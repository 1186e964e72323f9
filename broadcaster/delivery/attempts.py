"""The attempt log: one row per attempt at sending a delivery, written in the ledger's batches."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Update

from broadcaster.db.base import UTCDateTime
from broadcaster.delivery.models import Delivery, DeliveryAttempt, DeliveryState

attempts = cast(Table, DeliveryAttempt.__table__)
deliveries = cast(Table, Delivery.__table__)
S = DeliveryState
CHUNK = 1000  # ids per IN list
LEASE_EXPIRED = "lease_expired"  # the error code of a delivery whose worker's lease ran out


def open_attempts(
    session: Session, delivery_ids: Sequence[int], now: dt.datetime, provider: str | None = None
) -> None:
    """A `sending` attempt for each delivery just leased, numbered by its lease count and
    named after the provider that carries it (unnamed: the delivery's medium); written with
    the lease, before any call."""
    carrier = deliveries.c.channel if provider is None else literal(provider)
    for start in range(0, len(delivery_ids), CHUNK):
        chunk = list(delivery_ids[start : start + CHUNK])
        session.execute(
            insert(attempts).from_select(
                ["delivery_id", "number", "provider", "requested_at", "outcome"],
                select(
                    deliveries.c.id,
                    deliveries.c.attempts,
                    carrier,
                    literal(now, UTCDateTime()),
                    literal(S.sending.value),
                ).where(deliveries.c.id.in_(chunk)),
            )
        )


def report_statement(state: DeliveryState, predecessors: frozenset[DeliveryState]) -> Update:
    """A status report (callback or lookup) applied to the attempt it is about: the one with
    its provider message id, or the one still waiting for it (the callback beat the
    worker's answer); forward only, like the delivery. Parameters: r_id, r_provider,
    r_error, r_now."""
    values: dict[str, Any] = {
        "outcome": state.value,
        "provider_message_id": bindparam("r_provider"),
    }
    if state in (S.delivered, S.failed):
        values["finished_at"] = bindparam("r_now")
        values["error_code"] = bindparam("r_error") if state is S.failed else None
    return (
        update(attempts)
        .where(
            attempts.c.delivery_id == bindparam("r_id"),
            or_(*(attempts.c.outcome == s.value for s in sorted(predecessors))),
            or_(
                attempts.c.provider_message_id.is_(None),
                attempts.c.provider_message_id == bindparam("r_provider"),
            ),
        )
        .values(**values)
    )


def expire(session: Session, delivery_ids: Sequence[int], error_code: str) -> None:
    """The attempts of deliveries whose lease ran out: their fate is unknown."""
    for start in range(0, len(delivery_ids), CHUNK):
        session.execute(
            update(attempts)
            .where(
                attempts.c.delivery_id.in_(list(delivery_ids[start : start + CHUNK])),
                attempts.c.outcome == S.sending.value,
            )
            .values(outcome=S.unknown.value, error_code=error_code)
        )


def supersede(session: Session, delivery_id: int, now: dt.datetime, error_code: str) -> None:
    """The provider never got this delivery's open attempt; a new delivery takes over. The
    attempt keeps its own error code (a timeout, an expired lease) when it has one."""
    session.execute(
        update(attempts)
        .where(
            attempts.c.delivery_id == delivery_id,
            attempts.c.outcome.in_((S.sending.value, S.unknown.value)),
        )
        .values(
            outcome=S.superseded.value,
            error_code=func.coalesce(attempts.c.error_code, error_code),
            finished_at=now,
        )
    )


def finish(
    session: Session,
    delivery_id: int,
    state: DeliveryState,
    predecessors: frozenset[DeliveryState],
    now: dt.datetime,
) -> None:
    """The open attempt of a delivery finished by someone other than its provider (an
    operator who played the loudspeaker)."""
    session.execute(
        update(attempts)
        .where(
            attempts.c.delivery_id == delivery_id,
            attempts.c.outcome.in_([s.value for s in predecessors]),
        )
        .values(outcome=state.value, finished_at=now)
    )


@dataclass(frozen=True)
class AttemptRow:
    """One attempt as the console and the API show it, with the delivery it belongs to."""

    delivery_id: int
    channel: str
    address: str
    number: int
    provider: str
    requested_at: dt.datetime
    outcome: DeliveryState
    error_code: str | None
    provider_message_id: str | None
    finished_at: dt.datetime | None


def of_recipients(session: Session, recipient_ids: Sequence[int]) -> dict[int, list[AttemptRow]]:
    """Every attempt at each household's deliveries, oldest first (one query per page)."""
    found: dict[int, list[AttemptRow]] = {}
    if not recipient_ids:
        return found
    a = DeliveryAttempt
    rows = session.execute(
        select(
            Delivery.recipient_id,
            Delivery.id,
            Delivery.channel,
            Delivery.address,
            a.number,
            a.provider,
            a.requested_at,
            a.outcome,
            a.error_code,
            a.provider_message_id,
            a.finished_at,
        )
        .join(a, a.delivery_id == Delivery.id)
        .where(Delivery.recipient_id.in_(list(recipient_ids)))
        .order_by(Delivery.recipient_id, a.requested_at, a.delivery_id, a.number)
    )
    for recipient_id, *values in rows:
        if recipient_id is not None:
            found.setdefault(recipient_id, []).append(AttemptRow(*values))
    return found
