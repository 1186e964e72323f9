"""What a worker found at the door: always recorded against the household, even when the task
has moved on (DESIGN §3.13); idempotent on the phone's id, for offline sync."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Recipient, RecipientState
from broadcaster.alerts.states import may_move
from broadcaster.auth.audit import Actor, record
from broadcaster.confirm.models import Answer, ConfirmVia, HelpRequest
from broadcaster.errors import Conflict, Forbidden, NotFound, ValidationFailed
from broadcaster.flows.confirming import record_confirmation
from broadcaster.followup.models import (
    Placement,
    VisitOutcome,
    VisitReport,
    VisitState,
    VisitTask,
)
from broadcaster.registry.models import Shelter, Worker

OPEN = (VisitState.open, VisitState.in_progress)
ANSWERS = {
    VisitOutcome.safe: Answer.safe,
    VisitOutcome.evacuated: Answer.evacuated,
    VisitOutcome.needs_help: Answer.needs_help,
}


@dataclass(frozen=True)
class Evacuation:
    """How many people of the household were moved, and where to: a registered shelter, to
    relatives (投亲靠友), or elsewhere in words. Any part may be missing (an older phone)."""

    people: int | None = None
    placement: Placement | None = None
    shelter_id: int | None = None
    destination: str = ""

    @property
    def given(self) -> bool:
        return bool(self.people or self.placement or self.shelter_id or self.destination)


@dataclass(frozen=True)
class OutcomeIn:
    outcome: VisitOutcome
    notes: str
    client_id: str | None
    lat: float | None = None
    lon: float | None = None
    found_at: dt.datetime | None = None  # the phone's clock when the worker tapped
    evacuation: Evacuation = Evacuation()


@dataclass(frozen=True)
class Finding:
    """What became of one outcome: the task, what it had become meanwhile, the help request."""

    task: VisitTask
    moved_on: str | None
    help_request_id: int | None
    evacuation: Evacuation = Evacuation()


def checked_evacuation(session: Session, body: OutcomeIn) -> Evacuation:
    """The evacuation as recorded (placement inferred from a shelter or a destination), or a
    ValidationFailed naming the field; a closed shelter still takes a finding (it happened)."""
    moved = body.evacuation
    if not moved.given:
        return moved
    if body.outcome is not VisitOutcome.evacuated:
        raise ValidationFailed(
            "转移人数和去向只用于“已转移” / people and destination go with outcome evacuated",
            field="people_moved" if moved.people else "placement",
        )
    placement = moved.placement or (
        Placement.shelter if moved.shelter_id else Placement.other if moved.destination else None
    )
    if placement is Placement.shelter:
        if moved.shelter_id is None:
            raise ValidationFailed("请选择安置点 / choose the shelter", field="shelter_id")
        if session.get(Shelter, moved.shelter_id) is None:
            raise ValidationFailed(
                f"安置点不存在 / no shelter {moved.shelter_id}", field="shelter_id"
            )
    elif moved.shelter_id is not None:
        raise ValidationFailed(
            "只有去向为安置点时才填安置点 / a shelter goes with placement shelter",
            field="shelter_id",
        )
    return Evacuation(moved.people, placement, moved.shelter_id, moved.destination.strip())


def _task(session: Session, task_id: int, worker: Worker | None, is_field: bool) -> VisitTask:
    """The task, if the caller may report on it: a field worker on theirs, now or before."""
    task = session.get(VisitTask, task_id, with_for_update=True)
    if task is None:
        raise NotFound(f"上门任务不存在 / no visit task {task_id}")
    if is_field:
        if worker is None:
            raise Forbidden("您的账号未关联工作人员 / your login is not linked to a worker")
        if worker.id not in (task.worker_id, task.reassigned_from):
            raise Forbidden("不是您的上门任务 / not your visit task")
    return task


def moved_on(task: VisitTask, worker: Worker | None, is_field: bool) -> str | None:
    """What the task had become since the phone loaded it, or None if it is still the caller's."""
    if task.state not in OPEN:
        return task.state.value
    if is_field and worker is not None and task.worker_id != worker.id:
        return "reassigned"
    return None


def _found_at(task: VisitTask, said: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """The phone's time, kept between the task's creation and now (clocks drift)."""
    if said is None:
        return now
    if said.tzinfo is None:
        said = said.replace(tzinfo=dt.UTC)
    return max(task.created_at, min(said, now))


def _settle_task(task: VisitTask, body: OutcomeIn, actor: Actor, at: dt.datetime) -> None:
    """An open task (its worker's, or the lead's after reassignment) ends with the finding;
    `not_home` keeps it open for a second visit or a neighbour's word."""
    task.outcome, task.notes, task.client_id = body.outcome, body.notes[:2000], body.client_id
    task.started_at, task.reassign_at = task.started_at or at, None
    if body.outcome is VisitOutcome.not_home:
        task.state = VisitState.open
    else:
        task.state = VisitState.done if body.outcome in ANSWERS else VisitState.unable
        task.done_at, task.done_by = at, actor.name


def _seen(session: Session, task_id: int, client_id: str | None) -> Finding | None:
    """The finding already recorded under this phone id (a resend), if any."""
    if not client_id:
        return None
    seen = session.scalar(select(VisitReport).where(VisitReport.client_id == client_id))
    if seen is None:
        return None
    if seen.task_id != task_id:
        raise Conflict(
            "client_id 已用于另一任务 / client_id used for another task", field="client_id"
        )
    task = session.get_one(VisitTask, task_id)
    moved = Evacuation(seen.people_moved, seen.placement, seen.shelter_id, seen.destination)
    return Finding(task, seen.moved_on, _help_id(session, task.recipient_id), moved)


def _help_id(session: Session, recipient_id: int) -> int | None:
    return session.scalar(select(HelpRequest.id).where(HelpRequest.recipient_id == recipient_id))


def record_outcome(
    session: Session,
    *,
    task_id: int,
    body: OutcomeIn,
    worker: Worker | None,
    is_field: bool,
    actor: Actor,
    now: dt.datetime,
) -> Finding:
    """Keep what the worker found. A resend with the same client id changes nothing. When the
    task was reassigned, cancelled or finished meanwhile the finding still counts for the
    household: "needs help" opens a help request; safe/evacuated make it final unless a later
    fact already did (states only move forward)."""
    moved = checked_evacuation(session, body)
    seen = _seen(session, task_id, body.client_id)
    if seen is not None:
        return seen
    task = _task(session, task_id, worker, is_field)
    after = moved_on(task, worker, is_field)
    at = _found_at(task, body.found_at, now)
    session.add(
        VisitReport(
            task_id=task.id,
            client_id=body.client_id,
            outcome=body.outcome,
            notes=body.notes[:2000],
            lat=body.lat,
            lon=body.lon,
            at=at,
            by=actor.name,
            received_at=now,
            moved_on=after,
            people_moved=moved.people,
            placement=moved.placement,
            shelter_id=moved.shelter_id,
            destination=moved.destination[:200],
        )
    )
    if task.state in OPEN:
        _settle_task(task, body, actor, at)
    session.flush()  # the task is settled before the confirmation closes what is still open
    recipient = session.get_one(Recipient, task.recipient_id, with_for_update=True)
    if body.outcome in ANSWERS:
        record_confirmation(
            session,
            recipient=recipient,
            via=ConfirmVia.visit,
            answer=ANSWERS[body.outcome],
            actor=actor,
            now=at,
            text=body.notes,
        )
    elif may_move(recipient.state, RecipientState.visited):
        recipient.state, recipient.final_at, recipient.next_action_at = (
            RecipientState.visited,
            at,
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
        found_at=at.isoformat(),
        moved_on=after,
        **_evacuation_detail(moved),
    )
    needs_help = body.outcome is VisitOutcome.needs_help
    help_id = _help_id(session, task.recipient_id) if needs_help else None
    return Finding(task, after, help_id, moved)


def _evacuation_detail(moved: Evacuation) -> dict[str, object]:
    if not moved.given:
        return {}
    placement = moved.placement.value if moved.placement else None
    return {"people_moved": moved.people, "placement": placement, "shelter_id": moved.shelter_id}
