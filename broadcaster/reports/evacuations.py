"""People evacuated (转移人数): each household's latest evacuation finding, and shelters' use."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, AlertState, Recipient
from broadcaster.confirm.models import Answer, Confirmation, ConfirmVia
from broadcaster.followup.models import Placement, VisitOutcome, VisitReport, VisitTask
from broadcaster.registry.models import Household, Shelter, Zone

IN_FORCE = (AlertState.sending, AlertState.active)


@dataclass(frozen=True)
class Moved:
    """One household evacuated: how many people (None: not said) and where to."""

    household_id: int
    grid_id: int
    people: int | None
    placement: Placement | None
    shelter_id: int | None


def evacuations(session: Session, alert_ids: Sequence[int]) -> list[Moved]:
    """Households evacuated under these alerts, each once: its latest field finding (a later
    count replaces an earlier one, never adds to it), else its own answer "已转移" by SMS or
    link (people not counted)."""
    if not alert_ids:
        return []
    latest: dict[int, tuple[tuple[dt.datetime, int], Moved]] = {}
    for household_id, grid_id, people, placement, shelter_id, at, report_id in session.execute(
        select(
            VisitTask.household_id,
            Household.grid_id,
            VisitReport.people_moved,
            VisitReport.placement,
            VisitReport.shelter_id,
            VisitReport.at,
            VisitReport.id,
        )
        .join(VisitTask, VisitTask.id == VisitReport.task_id)
        .join(Household, Household.id == VisitTask.household_id)
        .where(VisitTask.alert_id.in_(alert_ids), VisitReport.outcome == VisitOutcome.evacuated)
    ):
        key = (at, report_id)
        if household_id not in latest or latest[household_id][0] < key:
            moved = Moved(household_id, grid_id, people, placement, shelter_id)
            latest[household_id] = (key, moved)
    found = {household_id: moved for household_id, (_key, moved) in latest.items()}
    for household_id, grid_id in session.execute(
        select(Recipient.household_id, Household.grid_id)
        .join(Confirmation, Confirmation.recipient_id == Recipient.id)
        .join(Household, Household.id == Recipient.household_id)
        .where(
            Confirmation.alert_id.in_(alert_ids),
            Confirmation.answer == Answer.evacuated,
            Confirmation.via != ConfirmVia.visit,
        )
        .distinct()
    ):
        found.setdefault(household_id, Moved(household_id, grid_id, None, None, None))
    return sorted(found.values(), key=lambda m: m.household_id)


def shelter_use(moved: Sequence[Moved]) -> dict[int, tuple[int, int]]:
    """Per shelter: (households, people) of these evacuations."""
    use: dict[int, tuple[int, int]] = {}
    for m in moved:
        if m.placement is Placement.shelter and m.shelter_id is not None:
            households, people = use.get(m.shelter_id, (0, 0))
            use[m.shelter_id] = (households + 1, people + (m.people or 0))
    return use


def alerts_in_force(session: Session) -> list[int]:
    return list(session.scalars(select(Alert.id).where(Alert.state.in_(IN_FORCE))))


def occupancy(session: Session) -> dict[int, tuple[int, int]]:
    """Shelters' occupancy now: people moved there under the alerts still in force (sending
    or active; an all-clear sends people home), each household counted once."""
    return shelter_use(evacuations(session, alerts_in_force(session)))


@dataclass(frozen=True)
class ShelterRow:
    """A shelter with the people an alert (or window) moved there and its occupancy now."""

    id: int
    code: str
    name: str
    zone_code: str
    zone_name: str
    capacity: int
    active: bool
    households: int
    people: int
    occupancy: int

    @property
    def over_capacity(self) -> bool:
        return self.occupancy > self.capacity

    @property
    def free(self) -> int:
        return max(self.capacity - self.occupancy, 0)


def shelter_rows(
    session: Session, use: dict[int, tuple[int, int]], *, every: bool = False
) -> list[ShelterRow]:
    """The shelters in `use` (or every shelter, `every`), with occupancy now, by code."""
    if not use and not every:
        return []
    now = occupancy(session)
    stmt = select(Shelter, Zone.code, Zone.name).join(Zone, Zone.id == Shelter.zone_id)
    if not every:
        stmt = stmt.where(Shelter.id.in_(list(use)))
    rows = []
    for shelter, zone_code, zone_name in session.execute(stmt.order_by(Shelter.code)):
        households, people = use.get(shelter.id, (0, 0))
        rows.append(
            ShelterRow(
                shelter.id,
                shelter.code,
                shelter.name,
                zone_code,
                zone_name,
                shelter.capacity,
                shelter.active,
                households,
                people,
                now.get(shelter.id, (0, 0))[1],
            )
        )
    return rows
