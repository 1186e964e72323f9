"""Relay escalation, called by the follow-up tick: overdue tasks go to the zone lead, flagged;
tasks of ended alerts are cancelled. Set-based and safe to run twice or concurrently."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, AlertState, Level
from broadcaster.auth.audit import SYSTEM, record
from broadcaster.db.database import rowcount
from broadcaster.delivery.dispatch import try_enqueue_sends
from broadcaster.delivery.runtime import Runtime
from broadcaster.registry.models import Group, Worker, WorkerRole, Zone, worker_zones
from broadcaster.relay.models import RelayState, RelayTask
from broadcaster.relay.service import queue_sms, relay_channel

LIVE = (AlertState.sending, AlertState.active)
ENDED = (AlertState.closed, AlertState.cancelled, AlertState.expired)
UNFINISHED = (RelayState.open, RelayState.escalated)


def lead_of_zone(session: Session, zone_id: int | None) -> Worker | None:
    """The active lead of the zone or of a zone above it (the group's village lead)."""
    zone = session.get(Zone, zone_id) if zone_id is not None else None
    if zone is None:
        return None
    ancestors = [int(part) for part in zone.path.strip("/").split("/") if part] or [zone.id]
    return session.scalar(
        select(Worker)
        .join(worker_zones, worker_zones.c.worker_id == Worker.id)
        .where(worker_zones.c.zone_id.in_(ancestors), Worker.role == WorkerRole.lead, Worker.active)
        .order_by(Worker.id)
        .limit(1)
    )


@dataclass
class Escalated:
    """How many tasks escalated, and the lead SMS queued per alert (with the alert's level)."""

    tasks: int = 0
    sms: dict[int, tuple[Level, int]] = field(default_factory=dict)


def escalate_overdue(session: Session, *, now: dt.datetime) -> Escalated:
    """Open tasks of live alerts past their due time become escalated — exactly once, because
    the UPDATE re-checks `state = open` — and their zone lead gets a relay SMS of their own.
    The lead SMS are enqueued by the caller after the commit."""
    live = select(Alert.id).where(Alert.state.in_(LIVE))
    overdue = and_(
        RelayTask.state == RelayState.open, RelayTask.due_at <= now, RelayTask.alert_id.in_(live)
    )
    ids = session.scalars(
        update(RelayTask)
        .where(overdue)
        .values(state=RelayState.escalated, escalated_at=now, flagged=True)
        .returning(RelayTask.id)
        .execution_options(synchronize_session=False)
    ).all()
    done = Escalated(tasks=len(ids))
    for task in session.scalars(
        select(RelayTask).where(RelayTask.id.in_(ids)).order_by(RelayTask.id)
    ):
        alert = session.get_one(Alert, task.alert_id)
        lead = lead_of_zone(session, session.get_one(Group, task.group_id).zone_id)
        level, count = done.sms.get(alert.id, (alert.level, 0))
        if lead is not None and lead.id != task.owner_worker_id:
            task.escalated_to_worker_id = lead.id
            channel = relay_channel()
            if channel is not None:
                task.lead_delivery_id = queue_sms(
                    session,
                    alert=alert,
                    group_id=task.group_id,
                    phone=lead.phone,
                    now=now,
                    channel=channel,
                )
                count += 1
        done.sms[alert.id] = (level, count)
        record(
            session,
            actor=SYSTEM,
            action="relay.escalated",
            object_type="relay_task",
            object_id=task.id,
            alert_id=task.alert_id,
            group_id=task.group_id,
            lead_worker_id=task.escalated_to_worker_id,
        )
    return done


def cancel_ended(session: Session) -> int:
    """Unfinished tasks of cancelled, closed or expired alerts are cancelled (and unflagged)."""
    ended = select(Alert.id).where(Alert.state.in_(ENDED))
    result = session.execute(
        update(RelayTask)
        .where(RelayTask.state.in_(UNFINISHED), RelayTask.alert_id.in_(ended))
        .values(state=RelayState.cancelled, flagged=False)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def tick(rt: Runtime, *, now: dt.datetime) -> dict[str, Any]:
    """One relay pass of the follow-up tick; lead SMS are enqueued after the commit."""
    with rt.db.transaction() as session:
        done = escalate_overdue(session, now=now)
        cancelled = cancel_ended(session)
    channel = relay_channel()
    for alert_id, (level, count) in done.sms.items():
        if count and channel is not None:
            try_enqueue_sends(
                rt.settings,
                rt.redis,
                alert_id=alert_id,
                level=level,
                channel_counts={channel: count},
            )
    return {"escalated": done.tasks, "cancelled": cancelled}
