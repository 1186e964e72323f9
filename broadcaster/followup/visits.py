"""Visit tasks: created set-based for due households, reassigned when nobody starts them,
closed by outcomes recorded in the field (idempotent on the client's id, for offline sync)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, func, insert, literal, select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Recipient, RecipientState
from broadcaster.auth.audit import Actor, record
from broadcaster.confirm.models import Answer, ConfirmVia
from broadcaster.confirm.service import MOVES_FROM, record_confirmation
from broadcaster.db.base import UTCDateTime
from broadcaster.errors import Conflict, Forbidden, InvalidState, NotFound
from broadcaster.followup.models import VisitOutcome, VisitReport, VisitState, VisitTask
from broadcaster.registry.models import Household, Worker, WorkerRole, Zone, worker_zones

OPEN = (VisitState.open, VisitState.in_progress)
ANSWERS = {
    VisitOutcome.safe: Answer.safe,
    VisitOutcome.evacuated: Answer.evacuated,
    VisitOutcome.needs_help: Answer.needs_help,
}


def create_visits(
    session: Session,
    *,
    alert: Alert,
    condition: ColumnElement[bool],
    now: dt.datetime,
    reassign_after: dt.timedelta,
    reason: str,
) -> int:
    """One visit task per household matching `condition` that has none yet, assigned to its
    responsible worker (包保责任人), else a field worker of its grid (else the zone lead takes
    it at the next reassignment tick)."""
    has_task = exists().where(VisitTask.recipient_id == Recipient.id)
    grid_worker = (
        select(Worker.id)
        .join(worker_zones, worker_zones.c.worker_id == Worker.id)
        .where(
            worker_zones.c.zone_id == Household.grid_id,
            Worker.role == WorkerRole.field,
            Worker.active.is_(True),
        )
        .order_by(Worker.id)
        .limit(1)
        .scalar_subquery()
    )
    rows = (
        select(
            Recipient.alert_id,
            Recipient.id,
            Recipient.household_id,
            func.coalesce(Household.worker_id, grid_worker),
            Recipient.priority,
            literal(VisitState.open.value),
            literal(reason),
            literal(now, UTCDateTime()),
            literal(now + reassign_after, UTCDateTime()),
            literal(now + reassign_after, UTCDateTime()),
            literal(False),
            literal("", type_=VisitTask.notes.type),
        )
        .join(Household, Household.id == Recipient.household_id)
        .where(condition, ~has_task)
    )
    columns = [
        "alert_id",
        "recipient_id",
        "household_id",
        "worker_id",
        "priority",
        "state",
        "reason",
        "created_at",
        "due_at",
        "reassign_at",
        "flagged",
        "notes",
    ]
    before = _count(session, alert.id)
    session.execute(insert(VisitTask).from_select(columns, rows))
    return _count(session, alert.id) - before


def _count(session: Session, alert_id: int) -> int:
    return int(session.scalar(select(func.count()).where(VisitTask.alert_id == alert_id)) or 0)


def worker_of(session: Session, user_id: int) -> Worker | None:
    return session.scalar(select(Worker).where(Worker.user_id == user_id, Worker.active))


def zone_lead(session: Session, household: Household) -> Worker | None:
    """The lead of the household's village (or of any zone above its grid)."""
    grid = session.get(Zone, household.grid_id)
    if grid is None:
        return None
    ancestors = [int(part) for part in grid.path.strip("/").split("/") if part]
    return session.scalar(
        select(Worker)
        .join(worker_zones, worker_zones.c.worker_id == Worker.id)
        .where(worker_zones.c.zone_id.in_(ancestors), Worker.role == WorkerRole.lead, Worker.active)
        .order_by(Worker.id)
        .limit(1)
    )


def reassign_overdue(session: Session, *, now: dt.datetime) -> int:
    """Visits nobody started in time (or nobody was assigned) go to the zone lead, flagged."""
    overdue = list(
        session.scalars(
            select(VisitTask)
            .where(VisitTask.state == VisitState.open, VisitTask.reassign_at <= now)
            .order_by(VisitTask.priority, VisitTask.id)
            .limit(1000)
            .with_for_update()
        )
    )
    moved = 0
    for task in overdue:
        lead = zone_lead(session, session.get_one(Household, task.household_id))
        task.flagged, task.reassign_at = True, None
        if lead is not None and lead.id != task.worker_id:
            task.reassigned_from, task.worker_id = task.worker_id, lead.id
            moved += 1
    return moved


@dataclass(frozen=True)
class OutcomeIn:
    outcome: VisitOutcome
    notes: str
    client_id: str | None
    lat: float | None = None
    lon: float | None = None


def _task_for(
    session: Session, task_id: int, actor_worker: Worker | None, is_field: bool
) -> VisitTask:
    task = session.get(VisitTask, task_id, with_for_update=True)
    if task is None:
        raise NotFound(f"上门任务不存在 / no visit task {task_id}")
    if is_field and (actor_worker is None or task.worker_id != actor_worker.id):
        raise Forbidden("不是您的上门任务 / not your visit task")
    return task


def start_visit(
    session: Session,
    *,
    task_id: int,
    worker: Worker | None,
    is_field: bool,
    actor: Actor,
    now: dt.datetime,
) -> VisitTask:
    """The worker is on the way; starting twice is harmless."""
    task = _task_for(session, task_id, worker, is_field)
    if task.state == VisitState.open:
        task.state, task.started_at, task.reassign_at = VisitState.in_progress, now, None
        record(session, actor=actor, action="visit.start", object_type="visit", object_id=task.id)
    elif task.state != VisitState.in_progress:
        raise InvalidState(f"任务已结束 / the task is {task.state.value}")
    return task


def record_outcome(
    session: Session,
    *,
    task_id: int,
    body: OutcomeIn,
    worker: Worker | None,
    is_field: bool,
    actor: Actor,
    now: dt.datetime,
) -> VisitTask:
    """What the worker found. A resend with the same client id changes nothing; `not_home`
    keeps the task open for a second visit or a neighbour's word."""
    if body.client_id:
        seen = session.scalar(select(VisitReport).where(VisitReport.client_id == body.client_id))
        if seen is not None:
            if seen.task_id != task_id:
                raise Conflict(
                    "client_id 已用于另一任务 / client_id used for another task", field="client_id"
                )
            return session.get_one(VisitTask, task_id)
    task = _task_for(session, task_id, worker, is_field)
    if task.state not in OPEN:
        raise InvalidState(f"任务已结束 / the task is {task.state.value}")
    session.add(
        VisitReport(
            task_id=task.id,
            client_id=body.client_id,
            outcome=body.outcome,
            notes=body.notes[:2000],
            lat=body.lat,
            lon=body.lon,
            at=now,
            by=actor.name,
        )
    )
    task.outcome, task.notes, task.client_id = body.outcome, body.notes[:2000], body.client_id
    task.started_at, task.reassign_at = task.started_at or now, None
    if body.outcome is VisitOutcome.not_home:
        task.state = VisitState.open
    else:
        task.state = VisitState.done if body.outcome in ANSWERS else VisitState.unable
        task.done_at, task.done_by = now, actor.name
    session.flush()  # the task is settled before the confirmation closes what is still open
    recipient = session.get_one(Recipient, task.recipient_id, with_for_update=True)
    if body.outcome in ANSWERS:
        record_confirmation(
            session,
            recipient=recipient,
            via=ConfirmVia.visit,
            answer=ANSWERS[body.outcome],
            actor=actor,
            now=now,
            text=body.notes,
        )
    elif recipient.state in MOVES_FROM[RecipientState.visited]:
        recipient.state, recipient.final_at, recipient.next_action_at = (
            RecipientState.visited,
            now,
            None,
        )
    record(
        session,
        actor=actor,
        action="visit.outcome",
        object_type="visit",
        object_id=task.id,
        outcome=body.outcome.value,
        client_id=body.client_id,
    )
    return task
