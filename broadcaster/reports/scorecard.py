"""A drill's scorecard, from the record: time to households final, channel rates, gaps."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, AlertStatus, Recipient, RecipientState
from broadcaster.confirm.models import Confirmation
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.followup.models import VisitTask
from broadcaster.registry.models import Household
from broadcaster.reports.progress import progress

R = RecipientState
ANSWERED = (R.confirmed, R.needs_help)
NEVER_REACHED = (R.pending, R.unreachable)
LISTED = 200


class ChannelScore(BaseModel):
    """One channel: how its deliveries ended, and how many households it reached answered."""

    deliveries: int
    by_state: dict[str, int]
    delivered: int
    failed: int
    withdrawn: int
    delivery_rate: float | None  # delivered / (deliveries − withdrawn before sending)
    households_delivered: int
    households_answered: int
    confirmation_rate: float | None  # answered / households delivered to


class Scorecard(BaseModel):
    alert_id: int
    identifier: str
    drill: bool
    status: AlertStatus
    level: str
    issued_at: dt.datetime | None
    households_targeted: int
    households_final: int
    households_confirmed: int
    households_needs_help: int
    households_visited: int
    seconds_to_final: dict[str, float | None]  # p50, p90, p100; None until reached
    seconds_to_first_send: float | None
    channels: dict[str, ChannelScore]
    confirmations_by_via: dict[str, int]
    visits_needed: int
    visits: dict[str, int]
    households_never_reached: int
    never_reached: list[str]  # household codes, first LISTED by priority
    complete: bool


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def channel_scores(session: Session, alert: Alert) -> dict[str, ChannelScore]:
    by_channel: dict[str, dict[str, int]] = {}
    for channel, state, count in session.execute(
        select(Delivery.channel, Delivery.state, func.count())
        .where(Delivery.alert_id == alert.id)
        .group_by(Delivery.channel, Delivery.state)
    ):
        by_channel.setdefault(channel, {})[state.value] = int(count)
    reached = (
        select(Delivery.channel, func.count(distinct(Recipient.id)))
        .join(Recipient, Recipient.id == Delivery.recipient_id)
        .where(Delivery.alert_id == alert.id, Delivery.state == DeliveryState.delivered)
    )
    delivered_to: dict[str, int] = dict(session.execute(reached.group_by(Delivery.channel)).all())
    answered: dict[str, int] = dict(
        session.execute(
            reached.where(Recipient.state.in_(ANSWERED)).group_by(Delivery.channel)
        ).all()
    )
    scores: dict[str, ChannelScore] = {}
    for channel, states in sorted(by_channel.items()):
        total = sum(states.values())
        withdrawn = states.get(DeliveryState.cancelled.value, 0)
        delivered = states.get(DeliveryState.delivered.value, 0)
        households = int(delivered_to.get(channel, 0))
        answers = int(answered.get(channel, 0))
        scores[channel] = ChannelScore(
            deliveries=total,
            by_state=states,
            delivered=delivered,
            failed=states.get(DeliveryState.failed.value, 0),
            withdrawn=withdrawn,
            delivery_rate=_rate(delivered, total - withdrawn),
            households_delivered=households,
            households_answered=answers,
            confirmation_rate=_rate(answers, households),
        )
    return scores


def scorecard(session: Session, alert: Alert) -> Scorecard:
    """Everything is counted from the database at the moment of asking."""
    states: dict[RecipientState, int] = dict(
        session.execute(
            select(Recipient.state, func.count())
            .where(Recipient.alert_id == alert.id)
            .group_by(Recipient.state)
        ).all()
    )
    targeted = sum(states.values())
    done = progress(session, alert, targeted)
    first_sent = session.scalar(
        select(func.min(Delivery.sent_at)).where(Delivery.alert_id == alert.id)
    )
    via = session.execute(
        select(Confirmation.via, func.count())
        .where(Confirmation.alert_id == alert.id)
        .group_by(Confirmation.via)
    )
    missing = (Recipient.alert_id == alert.id) & Recipient.state.in_(NEVER_REACHED)
    codes = session.scalars(
        select(Household.code)
        .join(Recipient, Recipient.household_id == Household.id)
        .where(missing)
        .order_by(Recipient.priority, Recipient.id)
        .limit(LISTED)
    )
    visits_needed = session.scalar(
        select(func.count(distinct(VisitTask.recipient_id))).where(VisitTask.alert_id == alert.id)
    )
    return Scorecard(
        alert_id=alert.id,
        identifier=alert.identifier,
        drill=alert.is_drill,
        status=alert.status,
        level=alert.level.value,
        issued_at=alert.issued_at,
        households_targeted=targeted,
        households_final=done.households_final,
        households_confirmed=int(states.get(R.confirmed, 0)),
        households_needs_help=int(states.get(R.needs_help, 0)),
        households_visited=int(states.get(R.visited, 0)),
        seconds_to_final=done.seconds_to_final,
        seconds_to_first_send=(
            round((first_sent - alert.issued_at).total_seconds(), 1)
            if first_sent is not None and alert.issued_at is not None
            else None
        ),
        channels=channel_scores(session, alert),
        confirmations_by_via={v.value: int(n) for v, n in via.all()},
        visits_needed=int(visits_needed or 0),
        visits=done.visits,
        households_never_reached=sum(int(states.get(s, 0)) for s in NEVER_REACHED),
        never_reached=list(codes),
        complete=done.complete,
    )
