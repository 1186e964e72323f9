"""Visit tasks: created set-based for due households, reassigned when nobody starts them,
started by their worker (outcomes are in `findings`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, exists, func, insert, literal, select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Recipient
from broadcaster.auth.audit import Actor, record
from broadcaster.db.base import UTCDateTime
from broadcaster.errors import Forbidden, InvalidState, NotFound
from broadcaster.followup.models import VisitState, VisitTask
from broadcaster.registry.models import Household, Worker, WorkerRole, Zone, worker_zones

OPEN = (VisitState.open, VisitState.in_progress)


def create_visits(
    session: Session,
    *,
    alert: Alert,
    condition: ColumnElement[bool],
    now: dt.datetime,
    reassign_after: dt.timedelta,
    reason: str,
) -> int:
    """One visit task per household matching `condition` that has none yet in its current
    round, assigned to its responsible worker (包保责任人), else a field worker of its grid
    (else the zone lead takes it at the next reassignment tick)."""
    has_task = exists().where(
        VisitTask.recipient_id == Recipient.id, VisitTask.round == Recipient.round
    )
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
            Recipient.round,
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
        "round",
    ]
    before = _count(session, alert.id)
    session.execute(insert(VisitTask).from_select(columns, rows))
    return _count(session, alert.id) - before


HELP_FIRST = 1000  # a help visit's priority is its household's less this: before any other
HELP = "help"  # the reason of a visit opened by a call for help


def visit_for_help(
    session: Session, *, recipient: Recipient, now: dt.datetime, reassign_after: dt.timedelta
) -> VisitTask:
    """The household asked for help: its visit of this round, due now and ahead of every other
    visit (vulnerable households still first among them) — a new task, the open one moved up,
    or the round's finished or cancelled one opened again (its findings stay recorded)."""
    task = session.scalar(
        select(VisitTask)
        .where(VisitTask.recipient_id == recipient.id, VisitTask.round == recipient.round)
        .with_for_update()
    )
    alert = session.get_one(Alert, recipient.alert_id)
    if task is None:
        create_visits(
            session,
            alert=alert,
            condition=Recipient.id == recipient.id,
            now=now,
            reassign_after=reassign_after,
            reason=HELP,
        )
        task = session.scalars(
            select(VisitTask).where(
                VisitTask.recipient_id == recipient.id, VisitTask.round == recipient.round
            )
        ).one()
    elif task.state not in OPEN:
        task.state, task.reason, task.outcome = VisitState.open, HELP, None
        task.started_at = task.done_at = task.done_by = None
        task.reassign_at = now + reassign_after
    task.priority = min(task.priority, recipient.priority - HELP_FIRST)
    task.due_at = now
    return task


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
