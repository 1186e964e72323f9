"""Live counts of an alert: households by state, deliveries by channel and state."""

from __future__ import annotations

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Recipient, RecipientState
from broadcaster.alerts.schemas import AlertCounts, DeliveryCounts, GroupCounts
from broadcaster.delivery.models import Delivery
from broadcaster.relay.service import group_counts


def alert_counts(session: Session, alert: Alert) -> AlertCounts:
    """Counts straight from the record (the database), never from a cache."""
    by_state: dict[RecipientState, int] = dict(
        session.execute(
            select(Recipient.state, func.count())
            .where(Recipient.alert_id == alert.id)
            .group_by(Recipient.state)
        ).all()
    )
    deliveries: dict[str, DeliveryCounts] = {}
    for channel, state, count in session.execute(
        select(Delivery.channel, Delivery.state, func.count())
        .where(Delivery.alert_id == alert.id)
        .group_by(Delivery.channel, Delivery.state)
    ):
        entry = deliveries.setdefault(channel, DeliveryCounts())
        entry.by_state[state.value] = count
        entry.total += count
    without = session.scalar(
        select(func.count())
        .select_from(Recipient)
        .where(
            Recipient.alert_id == alert.id, ~exists().where(Delivery.recipient_id == Recipient.id)
        )
    )

    def n(state: RecipientState) -> int:
        return int(by_state.get(state, 0))

    return AlertCounts(
        households_targeted=sum(by_state.values()),
        households_reached=n(RecipientState.reached),
        households_confirmed=n(RecipientState.confirmed),
        households_needs_help=n(RecipientState.needs_help),
        households_unreachable=n(RecipientState.unreachable),
        households_visited=n(RecipientState.visited),
        households_pending=n(RecipientState.pending),
        households_without_channel=int(without or 0),
        deliveries=deliveries,
        groups=GroupCounts(**group_counts(session, alert.id)),
    )
