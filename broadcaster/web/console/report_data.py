"""The after-action report's figures beyond the scorecard: households not final, and why."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Recipient, RecipientState
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.followup.models import VisitTask
from broadcaster.registry.models import Household, Zone
from broadcaster.reports.export import UNCONFIRMED, Details, details
from broadcaster.web.console.figures import (
    ChannelRow,
    Timing,
    answers_by_via,
    channel_rows,
    first_send,
    timing,
)

LISTED = 100


@dataclass
class Missing:
    """Households that never became final: counts by cause, and the most urgent few listed."""

    by_state: dict[str, int]
    without_contact: int
    visits: dict[str, int]
    outcomes: dict[str, int]
    rows: list[tuple[Recipient, Household, str]] = field(default_factory=list)
    more: Details = field(default_factory=lambda: Details({}, {}, {}, {}))
    errors: dict[int, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_state.values())


@dataclass
class Figures:
    """Everything the report page shows above the list of households not final."""

    states: dict[str, int]
    timing: Timing
    first_send_seconds: float | None
    channels: list[ChannelRow]
    answers: dict[str, int]
    visits: dict[str, int]

    @property
    def targeted(self) -> int:
        """Households concerned (those a narrowed area released are counted apart)."""
        return sum(n for state, n in self.states.items() if state != "released")

    def n(self, state: str) -> int:
        return self.states.get(state, 0)

    @property
    def final(self) -> int:
        return self.n("confirmed") + self.n("needs_help") + self.n("visited")

    @property
    def never_reached(self) -> int:
        return self.n("pending") + self.n("unreachable")


def figures(
    session: Session, alert: Alert, channels: Callable[[], list[ChannelRow]] | None = None
) -> Figures:
    """The report's figures, each from one grouped query (fast on 100,000 households);
    `channels` may be the result of channel_rows() already under way in another session."""
    states = {
        state.value: int(n)
        for state, n in session.execute(
            select(Recipient.state, func.count())
            .where(Recipient.alert_id == alert.id)
            .group_by(Recipient.state)
        )
    }
    for state in RecipientState:
        states.setdefault(state.value, 0)
    sent = first_send(session, alert)
    visits = {
        state.value: int(n)
        for state, n in session.execute(
            select(VisitTask.state, func.count())
            .where(VisitTask.alert_id == alert.id)
            .group_by(VisitTask.state)
        )
    }
    return Figures(
        states=states,
        timing=timing(session, alert, sum(states.values()) - states["released"]),
        first_send_seconds=(
            round((sent - alert.issued_at).total_seconds(), 1)
            if sent is not None and alert.issued_at is not None
            else None
        ),
        channels=channels() if channels else channel_rows(session, alert),
        answers=answers_by_via(session, alert),
        visits=visits,
    )


def missing_households(session: Session, alert: Alert) -> Missing:
    """Households still pending, reached without an answer, or unreachable at report time."""
    open_ = (Recipient.alert_id == alert.id) & Recipient.state.in_(UNCONFIRMED)
    by_state = {
        state.value: int(n)
        for state, n in session.execute(
            select(Recipient.state, func.count()).where(open_).group_by(Recipient.state)
        )
    }
    # A household without any delivery was never reached: it can only still be pending.
    no_delivery = ~exists().where(Delivery.recipient_id == Recipient.id)
    pending = (Recipient.alert_id == alert.id) & (Recipient.state == RecipientState.pending)
    without = int(session.scalar(select(func.count()).where(pending, no_delivery)) or 0)
    visits: dict[str, int] = {}
    outcomes: dict[str, int] = {}
    for state, outcome, n in session.execute(
        select(VisitTask.state, VisitTask.outcome, func.count())
        .join(Recipient, Recipient.id == VisitTask.recipient_id)
        .where(open_)
        .group_by(VisitTask.state, VisitTask.outcome)
    ):
        visits[state.value] = visits.get(state.value, 0) + int(n)
        if outcome is not None:
            outcomes[outcome.value] = outcomes.get(outcome.value, 0) + int(n)
    found = Missing(by_state, without, visits, outcomes)
    rows = session.execute(
        select(Recipient, Household, Zone.code)
        .join(Household, Household.id == Recipient.household_id)
        .join(Zone, Zone.id == Household.grid_id)
        .where(open_)
        .order_by(Recipient.priority, Recipient.id)
        .limit(LISTED)
    ).all()
    found.rows = [(r, h, grid) for r, h, grid in rows]
    found.more = details(session, [r for r, _h, _g in rows])
    for recipient_id, channel, code in session.execute(
        select(Delivery.recipient_id, Delivery.channel, Delivery.error_code)
        .where(
            Delivery.recipient_id.in_([r.id for r, _h, _g in rows]),
            Delivery.state.in_((DeliveryState.failed, DeliveryState.unknown)),
        )
        .order_by(Delivery.id)
    ):
        if recipient_id is not None:
            found.errors.setdefault(recipient_id, []).append((channel, code or "?"))
    return found


def why(found: Missing, recipient: Recipient, household: Household) -> list[str]:
    """The causes of one household, as short Chinese source texts for the template."""
    causes: list[str] = []
    deliveries = found.more.deliveries.get(recipient.id, [])
    if not deliveries:
        causes.append("无可用联系方式")
    elif recipient.state.value == "reached":
        causes.append("已送达但未回复")
    elif recipient.state.value == "unreachable":
        causes.append("所有渠道均失败")
    else:
        causes.append("尚未送达")
    visit = found.more.visits.get(recipient.id)
    if visit is None and household.worker_id is None:
        causes.append("未指定网格员")
    return causes
