"""Updates and cancels of a live alert: new text, households topped up, queued sends withdrawn."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.orm import Session

from broadcaster.alerts import authority, policy
from broadcaster.alerts.authority import Issuer
from broadcaster.alerts.models import (
    Alert,
    AlertState,
    Hazard,
    Level,
    MsgType,
    Recipient,
)
from broadcaster.alerts.states import NOT_FINAL
from broadcaster.auth.audit import Actor, record
from broadcaster.db.base import utcnow
from broadcaster.db.database import rowcount
from broadcaster.delivery.models import Delivery, LoudspeakerTask, TaskState
from broadcaster.delivery.planning import insert_recipients
from broadcaster.errors import InvalidState, NotFound
from broadcaster.feeds.messages import Message, record_message
from broadcaster.flows import approval
from broadcaster.flows import issuing as service
from broadcaster.flows.planners import planner_for, reach_of
from broadcaster.followup.models import VisitState, VisitTask
from broadcaster.registry.models import Household
from broadcaster.relay.service import plan_for_policy
from broadcaster.settings import Settings

OPEN_STATES = (AlertState.pending_approval, AlertState.sending, AlertState.active)
SENDING = (AlertState.sending, AlertState.active)


@dataclass(frozen=True)
class Revision:
    """What an Update sets: the text, level, hazard, expiry and the area as given."""

    headline: str
    body: str
    instruction: str
    level: Level
    hazard: Hazard
    expires_at: dt.datetime | None
    zone_codes: tuple[str, ...] = ()
    area: dict[str, Any] | None = None


@dataclass(frozen=True)
class Changed:
    """What an update or cancel did; `channel_counts` are enqueued after commit."""

    alert: Alert
    households_added: int = 0
    channel_counts: dict[str, int] | None = None
    withdrawn: int = 0
    tasks_closed: int = 0


def locked_open(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise NotFound(f"预警不存在 / no alert {alert_id}")
    if alert.state not in OPEN_STATES:
        raise InvalidState(f"预警已结束 / alert is already {alert.state.value}")
    return alert


def update_alert(
    session: Session,
    *,
    alert_id: int,
    revision: Revision,
    households: Sequence[Select[Any]],
    message: Message,
    actor: Actor,
    issuer: Issuer,
    settings: Settings,
    available_channels: set[str],
) -> Changed:
    """Replace the text (and level) and top up the households (selects of ids) not yet targeted.

    Only the alert's issuer, an officer or an admin may (NotIssuer otherwise, nothing changed).
    Households already targeted keep their deliveries and state; a household no longer in
    the area is never dropped. A higher level brings its policy's extra channels.
    """
    alert = locked_open(session, alert_id)
    authority.require(alert, issuer, "update")
    now = utcnow()
    raised = revision.level.rank > alert.level.rank
    if raised:
        alert.policy = policy.snapshot(settings.config_dir, revision.level)
        level_channels = policy.parse_policy(alert.policy).channels or ()
        extra = [c for c in level_channels if c in available_channels]
        alert.channels = list(dict.fromkeys([*alert.channels, *extra]))
    alert.level, alert.hazard = revision.level, revision.hazard
    alert.headline, alert.body = revision.headline[:200], revision.body
    alert.instruction, alert.expires_at = revision.instruction, revision.expires_at
    renotified = renotify(session, alert=alert, now=now) if raised else {}
    alert.zone_codes = list(dict.fromkeys([*alert.zone_codes, *revision.zone_codes]))
    if revision.area is not None:
        alert.area = revision.area
    added, counts = top_up_all(session, alert=alert, households=households, now=now)
    for channel, n in renotified.items():
        counts[channel] = counts.get(channel, 0) + n
    record_message(session, alert, message, MsgType.update)
    approval.flag_if_empty(alert)
    record(
        session,
        actor=actor,
        action="alert.update",
        object_type="alert",
        object_id=alert.id,
        identifier=message.identifier,
        level=alert.level.value,
        households_added=added,
        deliveries=counts,
    )
    return Changed(alert, added, counts)


def renotify(session: Session, *, alert: Alert, now: dt.datetime) -> dict[str, int]:
    """A higher level reaches again every household already targeted and not yet final,
    on the alert's person channels, with the new text (its queued sends carry it too)."""
    if alert.state not in SENDING:
        return {}
    open_households = (Recipient.alert_id == alert.id) & Recipient.state.in_(NOT_FINAL)
    counts: dict[str, int] = {}
    for channel in alert.channels:
        if reach_of(channel).zone_wide:
            continue  # zone-wide posts are not per household; queued ones carry the new text
        before = _count(session, alert.id, channel)
        planner_for(channel)(session, alert=alert, now=now, only=open_households)
        counts[channel] = _count(session, alert.id, channel) - before
    return counts


def top_up_all(
    session: Session, *, alert: Alert, households: Sequence[Select[Any]], now: dt.datetime
) -> tuple[int, dict[str, int]]:
    """`top_up` for each select of household ids; households added and deliveries planned."""
    added, counts = 0, dict.fromkeys(alert.channels, 0)
    for selected in households:
        more, planned = top_up(session, alert=alert, households=selected, now=now)
        added += more
        for channel, n in planned.items():
            counts[channel] = counts.get(channel, 0) + n
    return added, counts


def top_up(
    session: Session, *, alert: Alert, households: Select[Any], now: dt.datetime
) -> tuple[int, dict[str, int]]:
    """Recipients for households not yet targeted; deliveries for them unless still pending."""
    watermark = session.scalar(select(func.max(Recipient.id))) or 0
    existing = select(Recipient.household_id).where(Recipient.alert_id == alert.id)
    where = Household.id.in_(households) & Household.id.not_in(existing)
    insert_recipients(session, alert=alert, where=where)
    new = (Recipient.alert_id == alert.id) & (Recipient.id > watermark)
    added = int(session.scalar(select(func.count()).where(new)) or 0)
    alert.households_targeted += added
    if alert.state not in SENDING:
        return added, {}  # held: planned for every household when approved; ended: never
    counts = plan_new(session, alert=alert, new=new, now=now) if added else {}
    if added:
        service.schedule_follow_up(session, alert=alert, now=now, only=new)
        for channel, n in plan_for_policy(session, alert=alert, now=now).items():
            counts[channel] = counts.get(channel, 0) + n  # groups of newly touched villages
    return added, counts


def plan_new(
    session: Session, *, alert: Alert, new: ColumnElement[bool], now: dt.datetime
) -> dict[str, int]:
    """Deliveries of the alert's channels to the new households only (zone-wide channels:
    to the groups and loudspeakers of newly touched villages, their planners skip the rest)."""
    counts: dict[str, int] = {}
    for channel in alert.channels:
        before = _count(session, alert.id, channel)
        planner_for(channel)(session, alert=alert, now=now, only=new)
        counts[channel] = _count(session, alert.id, channel) - before
    return counts


def _count(session: Session, alert_id: int, channel: str) -> int:
    query = select(func.count()).where(Delivery.alert_id == alert_id, Delivery.channel == channel)
    return int(session.scalar(query) or 0)


def cancel_alert(
    session: Session, *, alert_id: int, message: Message, actor: Actor, issuer: Issuer
) -> Changed:
    """Cancel: queued sends withdrawn, open loudspeaker and visit tasks closed (only by the
    alert's issuer, an officer or an admin: NotIssuer otherwise, nothing changed)."""
    target = session.get(Alert, alert_id, with_for_update=True)
    if target is not None:
        authority.require(target, issuer, "cancel")
    alert, withdrawn = service.withdraw_queued_and_mark_cancelled(
        session, alert_id=alert_id, actor=actor
    )
    now = utcnow()
    speakers = session.execute(
        update(LoudspeakerTask)
        .where(LoudspeakerTask.alert_id == alert_id, LoudspeakerTask.state == TaskState.open)
        .values(state=TaskState.cancelled)
        .execution_options(synchronize_session=False)
    )
    visits = session.execute(
        update(VisitTask)
        .where(VisitTask.alert_id == alert_id, VisitTask.state == VisitState.open)
        .values(state=VisitState.cancelled, done_at=now, notes="预警已取消 / alert cancelled")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Recipient)
        .where(Recipient.alert_id == alert_id)
        .values(next_action_at=None)
        .execution_options(synchronize_session=False)
    )
    closed = rowcount(speakers) + rowcount(visits)
    record_message(session, alert, message, MsgType.cancel)
    record(
        session,
        actor=actor,
        action="alert.cancel_tasks",
        object_type="alert",
        object_id=alert_id,
        identifier=message.identifier,
        tasks_closed=closed,
    )
    return Changed(alert, withdrawn=withdrawn, tasks_closed=closed)
