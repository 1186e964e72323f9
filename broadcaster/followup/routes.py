"""Field workers' API: their visit list (most urgent first), start, and the outcome at the door."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert
from broadcaster.api.deps import allow, get_db, read_session
from broadcaster.auth.models import Role
from broadcaster.auth.service import Principal
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.db.ids import Id
from broadcaster.followup.models import VisitOutcome, VisitState, VisitTask
from broadcaster.followup.visits import OutcomeIn, record_outcome, start_visit, worker_of
from broadcaster.registry.models import Household, Person

router = APIRouter(prefix="/visits", tags=["visits"])
visitors = allow(Role.field, Role.officer, Role.admin)


class VisitOut(BaseModel):
    id: int
    alert_id: int
    alert_headline: str
    level: str
    household_code: str
    head_name: str
    address: str
    phones: list[str]
    vulnerability: list[str]
    lat: float | None
    lon: float | None
    state: VisitState
    priority: int
    reason: str
    flagged: bool
    due_at: dt.datetime | None
    outcome: VisitOutcome | None
    notes: str


class OutcomeBody(BaseModel):
    outcome: VisitOutcome
    notes: str = Field(default="", max_length=2000)
    client_id: str | None = Field(
        default=None,
        min_length=8,
        max_length=64,
        description="Generated on the phone; replays are harmless.",
    )
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


def _out(session: Session, tasks: list[tuple[VisitTask, Alert, Household]]) -> list[VisitOut]:
    ids = [h.id for _t, _a, h in tasks]
    phones: dict[int, list[str]] = {}
    for household_id, phone in session.execute(
        select(Person.household_id, Person.phone)
        .where(Person.household_id.in_(ids), Person.active.is_(True))
        .order_by(Person.position)
    ):
        phones.setdefault(household_id, []).append(phone)
    return [
        VisitOut(
            id=t.id,
            alert_id=a.id,
            alert_headline=a.headline,
            level=a.level.value,
            household_code=h.code,
            head_name=h.head_name,
            address=h.address,
            phones=phones.get(h.id, []),
            vulnerability=list(h.vulnerability),
            lat=h.lat,
            lon=h.lon,
            state=t.state,
            priority=t.priority,
            reason=t.reason,
            flagged=t.flagged,
            due_at=t.due_at,
            outcome=t.outcome,
            notes=t.notes,
        )
        for t, a, h in tasks
    ]


@router.get("", response_model=list[VisitOut])
def visits(
    state: VisitState | None = Query(default=None),
    alert_id: Id | None = None,
    session: Session = Depends(read_session),
    who: Principal = visitors,
) -> list[VisitOut]:
    """Field workers see their own tasks; officers see every task. Vulnerable first, then by
    grid and address (the order a worker walks them)."""
    stmt = (
        select(VisitTask, Alert, Household)
        .join(Alert, Alert.id == VisitTask.alert_id)
        .join(Household, Household.id == VisitTask.household_id)
    )
    if who.role is Role.field:
        worker = worker_of(session, who.user_id)
        stmt = stmt.where(VisitTask.worker_id == (worker.id if worker else -1))
    if state is not None:
        stmt = stmt.where(VisitTask.state == state)
    else:
        stmt = stmt.where(VisitTask.state.in_((VisitState.open, VisitState.in_progress)))
    if alert_id is not None:
        stmt = stmt.where(VisitTask.alert_id == alert_id)
    order = (VisitTask.priority, Household.grid_id, Household.address, VisitTask.id)
    rows = session.execute(stmt.order_by(*order).limit(1000)).all()
    return _out(session, [(t, a, h) for t, a, h in rows])


def _one(db: Database, task_id: int) -> VisitOut:
    with db.read() as session:
        row = session.execute(
            select(VisitTask, Alert, Household)
            .join(Alert, Alert.id == VisitTask.alert_id)
            .join(Household, Household.id == VisitTask.household_id)
            .where(VisitTask.id == task_id)
        ).one()
        return _out(session, [(row[0], row[1], row[2])])[0]


@router.post("/{task_id}/start", response_model=VisitOut)
def start(task_id: Id, db: Database = Depends(get_db), who: Principal = visitors) -> VisitOut:
    """On the way to the door."""
    with db.transaction() as session:
        start_visit(
            session,
            task_id=task_id,
            worker=worker_of(session, who.user_id),
            is_field=who.role is Role.field,
            actor=who.actor,
            now=utcnow(),
        )
    return _one(db, task_id)


@router.post("/{task_id}/outcome", response_model=VisitOut)
def outcome(
    task_id: Id, body: OutcomeBody, db: Database = Depends(get_db), who: Principal = visitors
) -> VisitOut:
    """What was found at the door. Sent again with the same client_id, it changes nothing."""
    with db.transaction() as session:
        record_outcome(
            session,
            task_id=task_id,
            body=OutcomeIn(body.outcome, body.notes, body.client_id, body.lat, body.lon),
            worker=worker_of(session, who.user_id),
            is_field=who.role is Role.field,
            actor=who.actor,
            now=utcnow(),
        )
    return _one(db, task_id)
