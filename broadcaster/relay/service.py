"""Relay tasks: planned per WeChat/QQ group of the touched villages, forwarded by their holder."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from broadcaster.alerts.clock import stamp
from broadcaster.alerts.models import Alert
from broadcaster.alerts.policy import parse_policy
from broadcaster.auth.audit import Actor, record
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.delivery.planning import LEVEL_WEIGHT
from broadcaster.delivery.planning_zones import touched_zones
from broadcaster.errors import InvalidState, NotFound
from broadcaster.registry.models import Group, GroupKind, Worker
from broadcaster.relay.models import RelayState, RelayTask
from broadcaster.relay.tokens import PHONE_HOLDER
from channels.base import Reach
from channels.registry import channel_for

RELAY_KINDS = (GroupKind.wechat, GroupKind.qq)
DEFAULT_AFTER = dt.timedelta(minutes=15)


def relay_channel() -> str | None:
    """The channel that texts group owners their relay link (the installed one that reaches
    group owners); None when no such channel is installed."""
    return channel_for(Reach.group_owner)


def plan_relay(
    session: Session,
    *,
    alert: Alert,
    now: dt.datetime,
    channel: str | None = None,
    only: ColumnElement[bool] | None = None,
    notice: str | None = None,
) -> int:
    """One relay task per WeChat/QQ group of the touched villages and grids that has none yet,
    and one text (on `channel`, else the relay channel) to its owner; returns the deliveries
    queued. An owner-less group's task is due at once: the next tick hands it to the lead.
    With a `notice` (the all-clear, a cancel), a text of it to every group's holder instead."""
    channel = channel or relay_channel()
    if notice is not None and channel is not None:
        return plan_relay_notices(session, alert=alert, now=now, channel=channel, notice=notice)
    zones = touched_zones(session, alert)
    if not zones or channel is None:
        return 0
    taken = select(RelayTask.group_id).where(RelayTask.alert_id == alert.id)
    rows = session.execute(
        select(Group, Worker)
        .outerjoin(Worker, and_(Worker.id == Group.owner_worker_id, Worker.active.is_(True)))
        .where(Group.kind.in_(RELAY_KINDS), Group.zone_id.in_(zones), Group.id.not_in(taken))
        .order_by(Group.id)
    ).all()
    # relay_after: how long an owner has to forward before the task escalates; a policy
    # without it has no relay step (an alert can still ask for the `relay` channel)
    due = now + (parse_policy(alert.policy).relay_after or DEFAULT_AFTER)
    queued = 0
    for group, owner in rows:
        phone = owner.phone if owner is not None else group.owner_phone
        task = RelayTask(
            alert_id=alert.id,
            group_id=group.id,
            owner_worker_id=owner.id if owner is not None else None,
            owner_phone=phone,
            member_count=group.member_count,
            state=RelayState.open,
            created_at=now,
            due_at=due if phone else now,
            flagged=phone is None,
        )
        if phone:
            task.delivery_id = queue_sms(
                session, alert=alert, group_id=group.id, phone=phone, now=now, channel=channel
            )
            queued += 1
        session.add(task)
    return queued


def plan_relay_notices(
    session: Session, *, alert: Alert, now: dt.datetime, channel: str, notice: str
) -> int:
    """A text of the notice to the holder of every group the alert was relayed to: the owner,
    or the lead it escalated to (the group heard the warning from them)."""
    queued = 0
    for task in session.scalars(
        select(RelayTask).where(RelayTask.alert_id == alert.id).order_by(RelayTask.id)
    ):
        phone = task.owner_phone
        if task.escalated_to_worker_id is not None and task.state is not RelayState.forwarded:
            lead = session.get(Worker, task.escalated_to_worker_id)
            phone = lead.phone if lead is not None else phone
        if phone:
            queue_sms(
                session,
                alert=alert,
                group_id=task.group_id,
                phone=phone,
                now=now,
                channel=channel,
                notice=notice,
            )
            queued += 1
    return queued


def queue_sms(
    session: Session,
    *,
    alert: Alert,
    group_id: int,
    phone: str,
    now: dt.datetime,
    channel: str,
    notice: str | None = None,
) -> int:
    """A queued relay text to one holder on `channel` (of the alert's current revision, or a
    notice); its id."""
    delivery = Delivery(
        alert_id=alert.id,
        group_id=group_id,
        channel=channel,
        address=phone,
        state=DeliveryState.queued,
        priority=(4 - alert.level.rank) * LEVEL_WEIGHT,  # with the first wave
        attempts=0,
        queued_at=now,
        revision=alert.revision,
        notice=notice,
    )
    session.add(delivery)
    session.flush()
    return delivery.id


def plan_for_policy(session: Session, *, alert: Alert, now: dt.datetime) -> dict[str, int]:
    """Relay planned because the level's policy has `relay_after` (channel counts to enqueue)."""
    channel = relay_channel()
    policy = parse_policy(alert.policy)
    if policy.relay_after is None or channel is None or channel in alert.channels:
        return {}
    queued = plan_relay(session, alert=alert, now=now, channel=channel)
    return {channel: queued} if queued else {}


def holders(task: RelayTask) -> set[int]:
    """Who may mark the task: its owner (a worker, or the bare phone) and the zone lead it
    escalated to."""
    found = {task.owner_worker_id if task.owner_worker_id is not None else PHONE_HOLDER}
    if task.escalated_to_worker_id is not None:
        found.add(task.escalated_to_worker_id)
    return found


def holder_name(session: Session, task: RelayTask, holder: int) -> str:
    """A worker's name, or the owner's phone number."""
    if holder == PHONE_HOLDER:
        return task.owner_phone or "?"
    worker = session.get(Worker, holder)
    return worker.name if worker is not None else f"worker {holder}"


def mark_forwarded(
    session: Session,
    *,
    task_id: int,
    by: str,
    by_worker_id: int | None,
    actor: Actor,
    now: dt.datetime,
    zone: dt.tzinfo | None = None,
) -> RelayTask:
    """The holder pasted the text into the group. Once only: a second time is refused (saying
    by whom and when, in the district's `zone`)."""
    task = session.get(RelayTask, task_id, with_for_update=True)
    if task is None:
        raise NotFound(f"转发任务不存在 / no relay task {task_id}")
    if task.state is RelayState.forwarded:
        raise InvalidState(
            f"已记录转发 / already recorded as forwarded ({task.forwarded_by}, "
            f"{stamp(task.forwarded_at, zone)})"
        )
    if task.state is RelayState.cancelled:
        raise InvalidState("预警已结束，无需转发 / the alert has ended; nothing to forward")
    task.state, task.forwarded_at, task.flagged = RelayState.forwarded, now, False
    task.forwarded_by, task.forwarded_by_worker_id = by[:100], by_worker_id
    record(
        session,
        actor=actor,
        action="relay.forwarded",
        object_type="relay_task",
        object_id=task.id,
        alert_id=task.alert_id,
        group_id=task.group_id,
        late=task.escalated_at is not None,
    )
    return task


def group_counts(session: Session, alert_id: int) -> dict[str, int]:
    """Groups targeted and relayed under an alert, with their member counts."""
    forwarded = RelayTask.state == RelayState.forwarded
    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((forwarded, 1), else_=0)), 0),
            func.coalesce(func.sum(case((RelayTask.escalated_at.is_not(None), 1), else_=0)), 0),
            func.coalesce(func.sum(RelayTask.member_count), 0),
            func.coalesce(func.sum(case((forwarded, RelayTask.member_count), else_=0)), 0),
        ).where(RelayTask.alert_id == alert_id)
    ).one()
    targeted, relayed, escalated, members, members_relayed = (int(v) for v in row)
    return {
        "targeted": targeted,
        "relayed": relayed,
        "escalated": escalated,
        "members_targeted": members,
        "members_relayed": members_relayed,
    }
