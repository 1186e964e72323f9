"""An alert's figures for the console, each one pass over an index: timing, channels, answers."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, cast, distinct, func, literal, select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Recipient
from broadcaster.alerts.states import FINAL
from broadcaster.confirm.models import Confirmation
from broadcaster.db.base import utcnow
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.reports.progress import SHARES
from broadcaster.web.console.chart import Chart, draw

FIRST_BATCH = 2000  # deliveries are planned most urgent first: the first send is among these
MAX_SLOTS = 20_000  # time resolution of the chart's data: 0.1 s, coarser for long alerts


@dataclass(frozen=True)
class Timing:
    """Households final over time: the chart, and the seconds to 50/90/100 % final."""

    chart: Chart
    seconds_to_final: dict[str, float | None]


@dataclass(frozen=True)
class ChannelRow:
    """One channel's deliveries by how they ended (messages, not households)."""

    channel: str
    deliveries: int
    delivered: int
    failed: int
    withdrawn: int
    in_flight: int

    @property
    def delivery_rate(self) -> float | None:
        sent = self.deliveries - self.withdrawn
        return round(self.delivered / sent, 4) if sent else None


def _histogram(
    session: Session, alert: Alert, start: dt.datetime, step: float
) -> list[tuple[float, int]]:
    """Final households per `step` seconds since `start`, as (end of step, households), in
    order: one grouped scan, at most span / step rows."""
    if session.get_bind().dialect.name == "postgresql":
        seconds: Any = func.extract("epoch", Recipient.final_at - literal(start))
        slot = cast(func.floor(seconds / step), Integer)
    else:  # SQLite: julianday() arithmetic; offsets are never negative, so CAST floors
        naive = start.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
        seconds = (func.julianday(Recipient.final_at) - func.julianday(naive)) * 86400.0
        slot = cast(seconds / step, Integer)
    rows = session.execute(
        select(slot, func.count())
        .where(
            Recipient.alert_id == alert.id,
            Recipient.state.in_(FINAL),
            Recipient.final_at.is_not(None),
        )
        .group_by(slot)
        .order_by(slot)
    )
    return [(round((max(int(n_slot), 0) + 1) * step, 3), int(n)) for n_slot, n in rows]


def timing(session: Session, alert: Alert, targeted: int) -> Timing:
    """One read of the final households' times: the cumulative chart and the 50/90/100 % marks
    (as the API's progress counts them: the n-th final household, n = ceil(share × targeted)),
    each an upper bound within 0.1 s (or 1/20,000 of the alert's span when that is longer)."""
    start = alert.round_started_at or alert.created_at  # the current round's start
    end = alert.completed_at or utcnow()
    span = max((end - start).total_seconds(), 60.0)
    histogram = _histogram(session, alert, start, max(0.1, span / MAX_SLOTS))
    seconds: dict[str, float | None] = {f"p{share}": None for share in SHARES}
    wanted = {f"p{share}": math.ceil(targeted * share / 100) for share in SHARES}
    running = 0
    for moment, n in histogram:
        running += n
        for key, needed in wanted.items():
            if seconds[key] is None and needed and running >= needed and alert.issued_at:
                seconds[key] = round(moment, 1)
    span = max(span, histogram[-1][0] if histogram else 0.0)
    return Timing(draw(histogram, targeted, span), seconds)


def channel_rows(session: Session, alert: Alert) -> list[ChannelRow]:
    """Deliveries by channel and state (one scan of the alert's part of the claim index)."""
    by: dict[str, dict[DeliveryState, int]] = {}
    for channel, state, n in session.execute(
        select(Delivery.channel, Delivery.state, func.count())
        .where(Delivery.alert_id == alert.id)
        .group_by(Delivery.channel, Delivery.state)
    ):
        by.setdefault(channel, {})[state] = int(n)
    rows = []
    for channel, states in sorted(by.items()):
        done = states.get(DeliveryState.delivered, 0)
        failed = states.get(DeliveryState.failed, 0)
        withdrawn = states.get(DeliveryState.cancelled, 0)
        # a superseded attempt is history: its resend is the delivery that counts
        total = sum(n for state, n in states.items() if state is not DeliveryState.superseded)
        rows.append(
            ChannelRow(channel, total, done, failed, withdrawn, total - done - failed - withdrawn)
        )
    return rows


def answers_by_via(session: Session, alert: Alert) -> dict[str, int]:
    """Households that answered, by how (SMS reply, key press, link, visit); a household that
    answered two ways counts under both."""
    return {
        via.value: int(n)
        for via, n in session.execute(
            select(Confirmation.via, func.count(distinct(Confirmation.recipient_id)))
            .where(Confirmation.alert_id == alert.id)
            .group_by(Confirmation.via)
        )
    }


def first_send(session: Session, alert: Alert) -> dt.datetime | None:
    """When the first message went to a provider (among the first planned deliveries)."""
    first = (
        select(Delivery.sent_at)
        .where(Delivery.alert_id == alert.id)
        .order_by(Delivery.id)
        .limit(FIRST_BATCH)
        .subquery()
    )
    moment: dt.datetime | None = session.scalar(select(func.min(first.c.sent_at)))
    return moment
