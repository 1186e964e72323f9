"""Field workers' API: their visit list (most urgent first), start, and the outcome at the door."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session, aliased

from broadcaster.alerts.models import Alert
from broadcaster.api.deps import allow, get_db, read_session
from broadcaster.auth.models import Role
from broadcaster.auth.service import Principal
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.db.ids import Id
from broadcaster.flows.findings import Evacuation, OutcomeIn, record_outcome
from broadcaster.followup.models import Placement, VisitOutcome, VisitState, VisitTask
from broadcaster.followup.visits import start_visit, worker_of
from broadcaster.plain_text import PlainLine
from broadcaster.registry.logins import actor_names
from broadcaster.registry.models import Household, Worker
from broadcaster.registry.service import phones_by_household

router = APIRouter(prefix="/visits", tags=["visits"])
visitors = allow(Role.field, Role.officer, Role.admin)
# A field worker's list also shows, this long, their tasks someone else's finding closed.
RECENTLY_FOUND = dt.timedelta(hours=12)
Assigned = aliased(Worker)


class VisitOut(BaseModel):
    id: int
    alert_id: int
    alert_headline: str
    level: str
    exercise: bool = Field(description="A drill (演练): marked as such wherever it is shown.")
    alert_issued_at: dt.datetime | None
    worker_phone: str | None = Field(description="Whose task it is now.")
    worker_name: str | None
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
    started_at: dt.datetime | None
    outcome: VisitOutcome | None
    notes: str
    done_by: str | None
    done_by_name: str | None = Field(description="Who recorded the outcome, by name.")
    done_at: dt.datetime | None


class FindingOut(VisitOut):
    moved_on: str | None = Field(
        description="What the task had become when the finding arrived (reassigned, "
        "cancelled, done…); the finding was recorded all the same."
    )
    help_request_id: int | None
    people_moved: int | None = Field(description="People of the household moved (evacuated).")
    placement: Placement | None = Field(description="shelter, relatives or other.")
    shelter_id: int | None
    destination: str


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
    found_at: dt.datetime | None = Field(
        default=None, description="When the worker tapped, by the phone's clock (offline sync)."
    )
    people_moved: int | None = Field(
        default=None, ge=1, le=100, description="With `evacuated`: how many people were moved."
    )
    placement: Placement | None = Field(
        default=None,
        description="With `evacuated`: to a shelter (集中安置), to relatives (投亲靠友), or other.",
    )
    shelter_id: Id | None = Field(
        default=None,
        description="The shelter (GET /api/v1/registry/shelters) when placement is shelter.",
    )
    destination: PlainLine = Field(
        default="", max_length=200, description="Where to, in words (placement other)."
    )


Row = tuple[VisitTask, Alert, Household, Worker | None]


def _select() -> Select[VisitTask, Alert, Household, Worker]:
    return (
        select(VisitTask, Alert, Household, Assigned)
        .join(Alert, Alert.id == VisitTask.alert_id)
        .join(Household, Household.id == VisitTask.household_id)
        .outerjoin(Assigned, Assigned.id == VisitTask.worker_id)
    )


def _out(session: Session, tasks: list[Row]) -> list[VisitOut]:
    ids = [h.id for _t, _a, h, _w in tasks]
    phones = phones_by_household(session, ids)
    names = actor_names(session, {t.done_by for t, _a, _h, _w in tasks if t.done_by})
    return [
        VisitOut(
            id=t.id,
            alert_id=a.id,
            alert_headline=a.headline,
            level=a.level.value,
            exercise=a.is_drill,
            alert_issued_at=a.issued_at,
            worker_phone=w.phone if w else None,
            worker_name=w.name if w else None,
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
            started_at=t.started_at,
            outcome=t.outcome,
            notes=t.notes,
            done_by=t.done_by,
            done_by_name=names.get(t.done_by or ""),
            done_at=t.done_at,
        )
        for t, a, h, w in tasks
    ]


@router.get("", response_model=list[VisitOut])
def visits(
    state: VisitState | None = Query(default=None),
    alert_id: Id | None = None,
    session: Session = Depends(read_session),
    who: Principal = visitors,
) -> list[VisitOut]:
    """Field workers see their own tasks (and, for a while, those of theirs that someone
    else's finding closed); officers see every task. The priority puts the most urgent alert
    and vulnerable households first; then grid and address (the order a worker walks them)."""
    stmt = _select()
    if state is not None:
        shown = VisitTask.state == state
    else:
        shown = VisitTask.state.in_((VisitState.open, VisitState.in_progress))
    if who.role is Role.field:
        worker = worker_of(session, who.user_id)
        stmt = stmt.where(VisitTask.worker_id == (worker.id if worker else -1))
        if state is None:
            found_by_other = and_(
                VisitTask.state.in_((VisitState.done, VisitState.unable)),
                VisitTask.done_at >= utcnow() - RECENTLY_FOUND,
                VisitTask.done_by != f"user:{who.username}",
                ~VisitTask.done_by.like(f"user:{who.username}/%"),
            )
            shown = or_(shown, found_by_other)
    stmt = stmt.where(shown)
    if alert_id is not None:
        stmt = stmt.where(VisitTask.alert_id == alert_id)
    order = (VisitTask.priority, Household.grid_id, Household.address, VisitTask.id)
    rows = session.execute(stmt.order_by(*order).limit(1000)).all()
    return _out(session, [(t, a, h, w) for t, a, h, w in rows])


def _one(db: Database, task_id: int) -> VisitOut:
    with db.read() as session:
        t, a, h, w = session.execute(_select().where(VisitTask.id == task_id)).one()
        return _out(session, [(t, a, h, w)])[0]


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


@router.post("/{task_id}/outcome", response_model=FindingOut)
def outcome(
    task_id: Id, body: OutcomeBody, db: Database = Depends(get_db), who: Principal = visitors
) -> FindingOut:
    """What was found at the door. Sent again with the same client_id, it changes nothing.
    A task reassigned, cancelled or finished since the phone loaded it still takes the
    finding (`moved_on` says what it had become); "needs help" always opens a help request.
    With `evacuated`: how many people were moved and where (a shelter, relatives, other)."""
    moved = Evacuation(body.people_moved, body.placement, body.shelter_id, body.destination)
    with db.transaction() as session:
        found = record_outcome(
            session,
            task_id=task_id,
            body=OutcomeIn(
                body.outcome, body.notes, body.client_id, body.lat, body.lon, body.found_at, moved
            ),
            worker=worker_of(session, who.user_id),
            is_field=who.role is Role.field,
            actor=who.actor,
            now=utcnow(),
        )
        moved_on, help_id, kept = found.moved_on, found.help_request_id, found.evacuation
    return FindingOut(
        **_one(db, task_id).model_dump(),
        moved_on=moved_on,
        help_request_id=help_id,
        people_moved=kept.people,
        placement=kept.placement,
        shelter_id=kept.shelter_id,
        destination=kept.destination,
    )
