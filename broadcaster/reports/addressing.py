"""Is a household addressed: a warning of its round under way or done, or an open visit task."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Recipient
from broadcaster.alerts.states import NOT_FINAL
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.followup.models import VisitState, VisitTask

# A warning in these states is on its way or went out; a failed or withdrawn one addresses
# nobody (the household is addressed again by its next step, or counted here until then).
UNDER_WAY_OR_DONE = (
    DeliveryState.queued,
    DeliveryState.sending,
    DeliveryState.sent,
    DeliveryState.delivered,
    DeliveryState.unknown,
)
OPEN_VISITS = (VisitState.open, VisitState.in_progress)


def warned(*, own: bool = False) -> ColumnElement[bool]:
    """The household has a warning of its current round under way or done (`own`: to one of
    its own members, not to a proxy contact). Loudspeakers and group posts are broadcasts:
    they address a village, never a household."""
    conditions = [
        Delivery.recipient_id == Recipient.id,
        Delivery.notice.is_(None),
        Delivery.revision >= Recipient.round,
        Delivery.state.in_(UNDER_WAY_OR_DONE),
    ]
    if own:
        conditions.append(Delivery.person_id.is_not(None))
    return exists().where(*conditions)


def visit_open() -> ColumnElement[bool]:
    """The household has a door visit still to be made."""
    return exists().where(VisitTask.recipient_id == Recipient.id, VisitTask.state.in_(OPEN_VISITS))


def unaddressed(alert_id: int) -> ColumnElement[bool]:
    """Households of the alert not yet final in their round with neither a warning under way
    or done nor an open visit task (DESIGN §3.12: none, within a minute of issue)."""
    return and_(
        Recipient.alert_id == alert_id,
        Recipient.state.in_(NOT_FINAL),
        ~warned(),
        ~visit_open(),
    )


def count_unaddressed(session: Session, alert_id: int) -> int:
    """How many households of the alert are unaddressed now."""
    query = select(func.count()).select_from(Recipient).where(unaddressed(alert_id))
    return int(session.scalar(query) or 0)
