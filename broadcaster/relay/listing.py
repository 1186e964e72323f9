"""Relay tasks as the duty board lists them: group, owner, state, escalation flag."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from broadcaster.registry.models import Group, GroupKind, Worker
from broadcaster.relay.models import RelayState, RelayTask


class RelayTaskOut(BaseModel):
    id: int
    alert_id: int
    group_id: int
    group_code: str
    group_name: str
    group_kind: GroupKind
    zone_id: int | None
    member_count: int
    owner_worker_id: int | None
    owner_name: str | None
    owner_phone: str | None
    state: RelayState
    flagged: bool
    created_at: dt.datetime
    due_at: dt.datetime | None
    forwarded_at: dt.datetime | None
    forwarded_by: str | None
    escalated_at: dt.datetime | None
    escalated_to_worker_id: int | None
    escalated_to_name: str | None


def relay_tasks(
    session: Session,
    *,
    alert_id: int | None = None,
    state: RelayState | None = None,
    flagged: bool | None = None,
    task_id: int | None = None,
    limit: int = 500,
) -> list[RelayTaskOut]:
    """Matching tasks, flagged first, then by due time."""
    owner, lead = aliased(Worker), aliased(Worker)
    stmt = (
        select(RelayTask, Group, owner.name, lead.name)
        .join(Group, Group.id == RelayTask.group_id)
        .outerjoin(owner, owner.id == RelayTask.owner_worker_id)
        .outerjoin(lead, lead.id == RelayTask.escalated_to_worker_id)
        .order_by(RelayTask.flagged.desc(), RelayTask.due_at, RelayTask.id)
        .limit(limit)
    )
    if alert_id is not None:
        stmt = stmt.where(RelayTask.alert_id == alert_id)
    if state is not None:
        stmt = stmt.where(RelayTask.state == state)
    if flagged is not None:
        stmt = stmt.where(RelayTask.flagged.is_(flagged))
    if task_id is not None:
        stmt = stmt.where(RelayTask.id == task_id)
    return [
        RelayTaskOut(
            id=task.id,
            alert_id=task.alert_id,
            group_id=group.id,
            group_code=group.code,
            group_name=group.name,
            group_kind=group.kind,
            zone_id=group.zone_id,
            member_count=task.member_count,
            owner_worker_id=task.owner_worker_id,
            owner_name=owner_name,
            owner_phone=task.owner_phone,
            state=task.state,
            flagged=task.flagged,
            created_at=task.created_at,
            due_at=task.due_at,
            forwarded_at=task.forwarded_at,
            forwarded_by=task.forwarded_by,
            escalated_at=task.escalated_at,
            escalated_to_worker_id=task.escalated_to_worker_id,
            escalated_to_name=lead_name,
        )
        for task, group, owner_name, lead_name in session.execute(stmt)
    ]
