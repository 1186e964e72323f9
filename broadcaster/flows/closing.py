"""Ending an alert: the all-clear (解除) and the cancel (撤销, issued in error). Queued warnings
are withdrawn, open tasks closed, and everyone the alert reached is told — households by the
channels that carried it, groups, loudspeakers and relay holders anew."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from broadcaster.alerts import authority, revisions
from broadcaster.alerts.authority import Issuer
from broadcaster.alerts.models import Alert, AlertState, MsgType, Recipient, RevisionKind
from broadcaster.alerts.texts import NOTICE_ALL_CLEAR, NOTICE_CANCEL
from broadcaster.auth.audit import Actor, record
from broadcaster.db.base import utcnow
from broadcaster.db.database import rowcount
from broadcaster.delivery.models import Delivery, DeliveryState, LoudspeakerTask, TaskState
from broadcaster.errors import InvalidState, NotFound
from broadcaster.feeds.messages import Message, record_message
from broadcaster.flows import notices
from broadcaster.followup.models import VisitState, VisitTask
from broadcaster.relay.models import RelayState, RelayTask

LIVE = (AlertState.sending, AlertState.active)
ENDED = (AlertState.closed, AlertState.cancelled, AlertState.expired)
UNFINISHED_RELAY = (RelayState.open, RelayState.escalated)
OPEN_VISITS = (VisitState.open, VisitState.in_progress)
WORDS = {
    RevisionKind.all_clear: "预警已解除 / alert lifted",
    RevisionKind.cancel: "预警已取消 / alert cancelled",
}


@dataclass(frozen=True)
class Closed:
    """What ending the alert did; `channel_counts` (the notices) are enqueued after commit."""

    alert: Alert
    withdrawn: int = 0
    tasks_closed: int = 0
    households_told: int = 0
    channel_counts: dict[str, int] = field(default_factory=dict)


def all_clear(
    session: Session,
    *,
    alert_id: int,
    message: Message,
    actor: Actor,
    issuer: Issuer,
    note: str = "",
) -> Closed:
    """Lift the alert (解除): it ends closed, off the public page; every household that was
    sent it, and its groups, loudspeakers and relay holders, get the all-clear."""
    alert = _locked(session, alert_id)
    if alert.state not in LIVE:
        raise InvalidState(
            "预警尚未发出，无需解除：请驳回或取消 / the alert was never sent: reject or cancel it"
        )
    authority.require(alert, issuer, "all_clear")
    return _close(session, alert, RevisionKind.all_clear, message, actor, note)


def cancel_alert(
    session: Session,
    *,
    alert_id: int,
    message: Message,
    actor: Actor,
    issuer: Issuer,
    note: str = "",
) -> Closed:
    """Cancel (撤销: issued in error): queued sends withdrawn, open tasks closed, and everyone
    it already reached told it was cancelled (only by the alert's issuer, an officer or an
    admin: NotIssuer otherwise, nothing changed)."""
    alert = _locked(session, alert_id)
    authority.require(alert, issuer, "cancel")
    return _close(session, alert, RevisionKind.cancel, message, actor, note)


def _locked(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise NotFound(f"预警不存在 / no alert {alert_id}")
    if alert.state in ENDED:
        raise InvalidState(f"预警已结束 / alert is already {alert.state.value}")
    return alert


def _close(
    session: Session,
    alert: Alert,
    kind: RevisionKind,
    message: Message,
    actor: Actor,
    note: str,
) -> Closed:
    now = utcnow()
    cancel = kind is RevisionKind.cancel
    revisions.first_revision(session, alert)
    told = notices.was_sent(alert)
    households = int(session.scalar(select(func.count()).select_from(Recipient).where(told)) or 0)
    spoken = alert.state in LIVE and _anything_went_out(session, alert)
    withdrawn = _withdraw(session, alert, "alert_cancelled" if cancel else "all_clear", now)
    closed = close_tasks(session, alert=alert, now=now, why=WORDS[kind])
    alert.revision += 1
    alert.text_revision = alert.revision
    alert.state = AlertState.cancelled if cancel else AlertState.closed
    alert.closed_at = now
    counts: dict[str, int] = {}
    if spoken:
        counts = notices.plan_notices(
            session,
            alert=alert,
            notice=NOTICE_CANCEL if cancel else NOTICE_ALL_CLEAR,
            households=told,
            now=now,
            closing=True,
        )
    record_message(session, alert, message, MsgType.cancel if cancel else MsgType.update)
    kept = revisions.record_revision(
        session,
        alert,
        kind=kind,
        asks_again=False,
        identifier=message.identifier,
        now=now,
        by=actor.name,
    )
    kept.note, kept.deliveries = note[:1000], counts
    record(
        session,
        actor=actor,
        action=f"alert.{kind.value}",
        object_type="alert",
        object_id=alert.id,
        identifier=message.identifier,
        withdrawn=withdrawn,
        tasks_closed=closed,
        households_told=households if spoken else 0,
        deliveries=counts,
    )
    return Closed(alert, withdrawn, closed, households if spoken else 0, counts)


def _anything_went_out(session: Session, alert: Alert) -> bool:
    """Whether any message of the alert went (or may have gone) out: else nobody heard it and
    nobody is told it ended."""
    went = select(Delivery.id).where(
        Delivery.alert_id == alert.id, Delivery.state.in_(notices.WENT_OUT)
    )
    return session.scalar(went.limit(1)) is not None


def _withdraw(session: Session, alert: Alert, why: str, now: dt.datetime) -> int:
    """Every warning still queued is withdrawn (notices planned after this still go)."""
    return rowcount(
        session.execute(
            update(Delivery)
            .where(Delivery.alert_id == alert.id, Delivery.state == DeliveryState.queued)
            .values(state=DeliveryState.cancelled, final_at=now, error_code=why)
            .execution_options(synchronize_session=False)
        )
    )


def close_tasks(session: Session, *, alert: Alert, now: dt.datetime, why: str) -> int:
    """Open loudspeaker, visit and relay tasks closed; no household escalates any more."""
    speakers = session.execute(
        update(LoudspeakerTask)
        .where(LoudspeakerTask.alert_id == alert.id, LoudspeakerTask.state == TaskState.open)
        .values(state=TaskState.cancelled)
        .execution_options(synchronize_session=False)
    )
    visits = session.execute(
        update(VisitTask)
        .where(VisitTask.alert_id == alert.id, VisitTask.state.in_(OPEN_VISITS))
        .values(state=VisitState.cancelled, done_at=now, notes=why)
        .execution_options(synchronize_session=False)
    )
    relays = session.execute(
        update(RelayTask)
        .where(RelayTask.alert_id == alert.id, RelayTask.state.in_(UNFINISHED_RELAY))
        .values(state=RelayState.cancelled, flagged=False)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Recipient)
        .where(Recipient.alert_id == alert.id)
        .values(next_action_at=None)
        .execution_options(synchronize_session=False)
    )
    return rowcount(speakers) + rowcount(visits) + rowcount(relays)
