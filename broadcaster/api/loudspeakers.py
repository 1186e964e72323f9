"""Loudspeaker operator API: the tasks to play, and "played" (zone coverage, not confirmation)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, case, select, update
from sqlalchemy.orm import Session

from broadcaster.alerts.audio import script
from broadcaster.alerts.models import Alert, Level
from broadcaster.alerts.policy import parse_policy
from broadcaster.alerts.visibility import public_url
from broadcaster.api.deps import allow, get_db, get_settings_dep, read_session
from broadcaster.auth.audit import record
from broadcaster.auth.models import Role
from broadcaster.auth.service import Principal
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database, rowcount
from broadcaster.db.ids import Id
from broadcaster.delivery import attempts
from broadcaster.delivery.models import Delivery, DeliveryState, LoudspeakerTask, TaskState
from broadcaster.delivery.statuses import PREDECESSORS
from broadcaster.errors import Forbidden, InvalidState, NotFound, ValidationFailed
from broadcaster.registry.models import Loudspeaker, Worker
from broadcaster.settings import Settings

router = APIRouter(prefix="/loudspeaker", tags=["loudspeakers"])
players = allow(Role.operator, Role.officer, Role.admin)


class TaskOut(BaseModel):
    id: int
    alert_id: int
    level: str
    headline: str
    drill: bool
    issued_at: dt.datetime | None
    plays: int = Field(description="How many times to play the file (the level's policy).")
    loudspeaker_code: str
    loudspeaker_name: str
    script: str
    audio_mp3: str
    audio_wav: str
    state: TaskState
    created_at: dt.datetime
    played_at: dt.datetime | None
    played_by: str | None


def _visible(
    stmt: Select[LoudspeakerTask, Alert, Loudspeaker], who: Principal
) -> Select[LoudspeakerTask, Alert, Loudspeaker]:
    """Operators see their own loudspeakers; officers and admins see all."""
    if who.role is not Role.operator:
        return stmt
    mine = select(Worker.id).where(Worker.user_id == who.user_id)
    return stmt.where(Loudspeaker.operator_worker_id.in_(mine))


def _query() -> Select[LoudspeakerTask, Alert, Loudspeaker]:
    return (
        select(LoudspeakerTask, Alert, Loudspeaker)
        .join(Alert, Alert.id == LoudspeakerTask.alert_id)
        .join(Loudspeaker, Loudspeaker.id == LoudspeakerTask.loudspeaker_id)
    )


def _plays(alert: Alert) -> int:
    try:
        return max(1, parse_policy(alert.policy).loudspeaker_plays)
    except ValidationFailed:
        return 1


def _out(task: LoudspeakerTask, alert: Alert, speaker: Loudspeaker, settings: Settings) -> TaskOut:
    return TaskOut(
        id=task.id,
        alert_id=alert.id,
        level=alert.level.value,
        headline=alert.headline,
        drill=alert.is_drill,
        issued_at=alert.issued_at,
        plays=_plays(alert),
        loudspeaker_code=speaker.code,
        loudspeaker_name=speaker.name,
        script=script(alert, settings),
        audio_mp3=public_url(settings, alert, "/audio.mp3"),
        audio_wav=public_url(settings, alert, "/audio.wav"),
        state=task.state,
        created_at=task.created_at,
        played_at=task.played_at,
        played_by=task.played_by,
    )


@router.get("/tasks", response_model=list[TaskOut])
def tasks(
    state: TaskState | None = Query(default=TaskState.open),
    session: Session = Depends(read_session),
    settings: Settings = Depends(get_settings_dep),
    who: Principal = players,
) -> list[TaskOut]:
    """Loudspeaker tasks, most urgent alert first."""
    return open_tasks(session, who=who, settings=settings, state=state)


@router.post("/tasks/{task_id}/played", response_model=TaskOut)
def played(
    task_id: Id,
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
    who: Principal = players,
) -> TaskOut:
    """The operator played the audio on this loudspeaker."""
    with db.transaction() as session:
        return mark_played(session, task_id=task_id, who=who, settings=settings)


def open_tasks(
    session: Session,
    *,
    who: Principal,
    settings: Settings,
    state: TaskState | None = TaskState.open,
) -> list[TaskOut]:
    """The tasks this user may see, most urgent alert first."""
    urgency = case({level: -level.rank for level in Level}, value=Alert.level)
    stmt = _visible(_query(), who).order_by(urgency, LoudspeakerTask.id)
    if state is not None:
        stmt = stmt.where(LoudspeakerTask.state == state)
    return [_out(t, a, s, settings) for t, a, s in session.execute(stmt.limit(500))]


def mark_played(session: Session, *, task_id: int, who: Principal, settings: Settings) -> TaskOut:
    """Record that the task's audio was played (zone coverage, never a confirmation)."""
    row = session.execute(_query().where(LoudspeakerTask.id == task_id)).first()
    if row is None:
        raise NotFound(f"任务不存在 / no loudspeaker task {task_id}")
    if (
        session.execute(_visible(_query(), who).where(LoudspeakerTask.id == task_id)).first()
        is None
    ):
        raise Forbidden("不是您负责的喇叭 / not one of your loudspeakers")
    task, alert, speaker = row
    if task.state is not TaskState.open:
        raise InvalidState(f"任务已是 {task.state.value} / task is already {task.state.value}")
    now = utcnow()
    task.state, task.played_at, task.played_by = TaskState.played, now, who.actor.name
    if task.delivery_id is not None:  # played is as delivered as a loudspeaker gets
        delivered, before = DeliveryState.delivered, PREDECESSORS[DeliveryState.delivered]
        moved = session.execute(
            update(Delivery)
            .where(Delivery.id == task.delivery_id, Delivery.state.in_(before))
            .values(state=delivered, final_at=now, lease_token=None)
            .execution_options(synchronize_session=False)
        )
        if rowcount(moved):
            attempts.finish(session, task.delivery_id, delivered, before, now)
    record(
        session,
        actor=who.actor,
        action="loudspeaker.played",
        object_type="task",
        object_id=task_id,
        alert_id=alert.id,
        loudspeaker=speaker.code,
    )
    return _out(task, alert, speaker, settings)
