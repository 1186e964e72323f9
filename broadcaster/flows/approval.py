"""The officer's say: held alerts approved (by a second person) or rejected; flags for attention."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, AlertState, Recipient
from broadcaster.alerts.states import CONCERNED
from broadcaster.auth.audit import Actor, record
from broadcaster.db.base import utcnow
from broadcaster.delivery.approved import check_templates
from broadcaster.errors import Conflict, InvalidState, NotFound
from broadcaster.flows import issuing as service
from broadcaster.flows.addressing import address_the_rest
from broadcaster.flows.planners import planner_for
from broadcaster.relay.service import plan_for_policy
from broadcaster.settings import Settings

# Held alerts have recipients (so the officer sees exactly who would be reached) but no
# deliveries, loudspeaker tasks or escalation times: nothing a worker, the reconciler, an
# operator or the escalation tick could act on exists before approval.


NO_HOUSEHOLDS = (
    "预警区域内没有登记住户，未向任何住户发送，请值班员核查 / "
    "the alert's area matches no registered household: nothing was sent, please check"
)


@dataclass(frozen=True)
class Approved:
    """The approved alert and its deliveries per channel, to enqueue after commit."""

    alert: Alert
    channel_counts: dict[str, int]


def person(actor_name: str) -> str:
    """Who acted, whatever key they used: "user:wang/key:7" and "user:wang" are one person."""
    return actor_name.split("/key:", 1)[0]


def _pending(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise NotFound(f"预警不存在 / no alert {alert_id}")
    if alert.state is not AlertState.pending_approval:
        raise InvalidState(
            f"预警不在待审批状态（{alert.state.value}）/ alert is not pending approval "
            f"(it is {alert.state.value})"
        )
    return alert


def approve(session: Session, *, alert_id: int, actor: Actor, settings: Settings) -> Approved:
    """Plan every channel for the alert's households and start sending.

    Two-person rule: whoever created the alert cannot approve it. What the providers' approved
    templates cannot carry (their books may have changed since it was held) is refused (422).
    """
    alert = _pending(session, alert_id)
    if person(actor.name) == person(alert.created_by):
        raise Conflict(
            "双人审批：发布人不能审批自己的预警 / two-person rule: the creator of an alert "
            "cannot approve it",
            field="approved_by",
            created_by=alert.created_by,
        )
    check_templates(alert, settings=settings)
    now = utcnow()
    alert.state, alert.issued_at, alert.approved_by = AlertState.sending, now, actor.name
    # households an update released while it was held are not sent it
    held = (Recipient.alert_id == alert.id) & Recipient.state.in_(CONCERNED)
    counts = {c: planner_for(c)(session, alert=alert, now=now, only=held) for c in alert.channels}
    counts.update(plan_for_policy(session, alert=alert, now=now))
    for channel, more in address_the_rest(session, alert=alert, now=now, only=held).items():
        counts[channel] = counts.get(channel, 0) + more
    visits = service.schedule_follow_up(session, alert=alert, now=now, only=held)
    record(
        session,
        actor=actor,
        action="alert.approve",
        object_type="alert",
        object_id=alert.id,
        created_by=alert.created_by,
        households=alert.households_targeted,
        deliveries=counts,
        visits_at_once=visits,
    )
    return Approved(alert, counts)


def reject(session: Session, *, alert_id: int, actor: Actor, reason: str) -> Alert:
    """The alert is not sent: it ends cancelled, with who rejected it and why."""
    alert = _pending(session, alert_id)
    now = utcnow()
    alert.state, alert.closed_at = AlertState.cancelled, now
    alert.note = f"驳回 / rejected by {actor.name}" + (f": {reason}" if reason else "")
    alert.flagged = False
    session.execute(
        update(Recipient)
        .where(Recipient.alert_id == alert.id)
        .values(next_action_at=None)
        .execution_options(synchronize_session=False)
    )
    record(
        session,
        actor=actor,
        action="alert.reject",
        object_type="alert",
        object_id=alert.id,
        created_by=alert.created_by,
        reason=reason,
    )
    return alert


def flag_if_empty(alert: Alert) -> None:
    """An alert that reaches nobody is flagged for the officer, never silently sent to nobody."""
    if alert.households_targeted == 0:
        alert.flagged, alert.note = True, NO_HOUSEHOLDS
    elif alert.note == NO_HOUSEHOLDS:
        alert.flagged, alert.note = False, ""
