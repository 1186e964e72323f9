"""Rounds of confirmation: a revision that asks again starts a new round for every household,
keeping where each stood; a narrowed area releases the households it leaves out."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, Integer, insert, literal, select, update
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Recipient, RecipientRound, RecipientState
from broadcaster.alerts.states import movable_to, starts_round
from broadcaster.db.base import UTCDateTime
from broadcaster.db.database import rowcount

ROUND_COLUMNS = [
    "alert_id",
    "recipient_id",
    "round",
    "state",
    "stage",
    "reached_at",
    "final_at",
    "ended_at",
]


def start_round(
    session: Session,
    *,
    alert: Alert,
    now: dt.datetime,
    first_action_at: dt.datetime | None,
    priority: Any,
) -> int:
    """Every household still concerned starts the alert's current revision's round: where it
    stood is kept (recipient_rounds), then it is pending again, at stage 0, due for its first
    escalation step at `first_action_at`, ordered by `priority` (an SQL expression of the
    household, for the new level). Not a move back: a round is (household, revision), and
    each round's states only move forward. Returns the households asked again."""
    earlier = (Recipient.alert_id == alert.id) & starts_round(alert.revision)
    asked = _restart(session, alert, earlier, now, first_action_at, priority)
    alert.round, alert.round_at, alert.completed_at = alert.revision, now, None
    return asked


def _restart(
    session: Session,
    alert: Alert,
    where: ColumnElement[bool],
    now: dt.datetime,
    first_action_at: dt.datetime | None,
    priority: Any,
) -> int:
    """Keep where the selected households stood, then start them on the current round."""
    kept = select(
        Recipient.alert_id,
        Recipient.id,
        Recipient.round,
        Recipient.state,
        Recipient.stage,
        Recipient.reached_at,
        Recipient.final_at,
        literal(now, UTCDateTime()),
    ).where(where)
    session.execute(insert(RecipientRound).from_select(ROUND_COLUMNS, kept))
    values: dict[str, Any] = {
        "state": RecipientState.pending,
        "round": literal(alert.revision, Integer),
        "stage": 0,
        "next_action_at": first_action_at,
        "reached_at": None,
        "final_at": None,
    }
    if priority is not None:
        values["priority"] = priority
    result = session.execute(
        update(Recipient).where(where).values(**values).execution_options(synchronize_session=False)
    )
    return rowcount(result)


def release(
    session: Session, *, alert: Alert, outside: ColumnElement[bool], now: dt.datetime
) -> int:
    """Households `outside` the narrowed area are no longer concerned (one asking for help
    stays: its request stands); returns how many."""
    result = session.execute(
        update(Recipient)
        .where(Recipient.alert_id == alert.id, outside, movable_to(RecipientState.released))
        .values(state=RecipientState.released, next_action_at=None, final_at=now)
        .execution_options(synchronize_session=False)
    )
    released = rowcount(result)
    alert.households_targeted -= released
    return released


def rejoin(
    session: Session,
    *,
    alert: Alert,
    inside: ColumnElement[bool],
    now: dt.datetime,
    first_action_at: dt.datetime | None,
) -> ColumnElement[bool]:
    """Released households back inside a widened area start the current round (their release
    kept as their last round's end); returns the condition selecting them, for planning."""
    again = (
        (Recipient.alert_id == alert.id)
        & (Recipient.state == RecipientState.released)
        & (Recipient.round < alert.revision)
        & inside
    )
    ids = list(session.scalars(select(Recipient.id).where(again)))
    if ids:
        _restart(session, alert, Recipient.id.in_(ids), now, first_action_at, None)
        alert.households_targeted += len(ids)
    return Recipient.id.in_(ids)
