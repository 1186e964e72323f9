"""Situation report (灾情报送): an alert's or a window's figures per township → village → grid."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from broadcaster.alerts.coverage import path_ids, tree_order
from broadcaster.alerts.models import Alert, Recipient, RecipientState
from broadcaster.alerts.states import FINAL, NOT_FINAL
from broadcaster.confirm.models import HelpRequest
from broadcaster.delivery.models import LoudspeakerTask, TaskState
from broadcaster.followup.models import Placement, VisitState, VisitTask
from broadcaster.registry.models import Household, Loudspeaker, Zone, ZoneKind
from broadcaster.reports.evacuations import ShelterRow, evacuations, shelter_rows, shelter_use

R = RecipientState
SHOWN = (ZoneKind.district, ZoneKind.township, ZoneKind.village, ZoneKind.grid)
LISTED = 200  # vulnerable households not yet final, listed by name
STATE_FIELD = {s: f"households_{s.value}" for s in RecipientState}


@dataclass
class Figures:
    """One zone's figures; households by their state under the alert (as the alert counts)."""

    households_targeted: int = 0
    households_pending: int = 0
    households_reached: int = 0
    households_confirmed: int = 0
    households_needs_help: int = 0
    households_unreachable: int = 0
    households_visited: int = 0
    visits_total: int = 0
    visits_open: int = 0
    visits_done: int = 0
    households_evacuated: int = 0
    people_evacuated: int = 0
    people_to_shelters: int = 0
    people_to_relatives: int = 0
    people_elsewhere: int = 0
    evacuated_uncounted: int = 0  # households evacuated whose people were not counted
    vulnerable_targeted: int = 0
    vulnerable_final: int = 0
    vulnerable_needs_help: int = 0
    help_open: int = 0
    help_total: int = 0
    loudspeakers_targeted: int = 0
    loudspeakers_played: int = 0

    def add(self, other: Figures) -> None:
        mine, theirs = self.__dict__, other.__dict__
        for name in FIELDS:
            mine[name] += theirs[name]

    @property
    def households_final(self) -> int:
        return self.households_confirmed + self.households_needs_help + self.households_visited

    @property
    def households_not_final(self) -> int:
        return self.households_targeted - self.households_final

    @property
    def vulnerable_not_final(self) -> int:
        return self.vulnerable_targeted - self.vulnerable_final

    def as_dict(self) -> dict[str, int]:
        derived = ("households_final", "households_not_final", "vulnerable_not_final")
        return {**asdict(self), **{name: getattr(self, name) for name in derived}}


FIELDS = tuple(f.name for f in fields(Figures))


@dataclass
class ZoneRow:
    zone_id: int
    code: str
    name: str
    kind: ZoneKind
    parent_id: int | None
    figures: Figures = field(default_factory=Figures)


@dataclass(frozen=True)
class Vulnerable:
    """A vulnerable household not yet final: whom to chase first."""

    household_code: str
    head_name: str
    address: str
    grid: str
    vulnerability: list[str]
    state: str
    alert_id: int


@dataclass
class SituationReport:
    alerts: list[Alert]
    generated_at: dt.datetime
    rows: list[ZoneRow]
    total: Figures
    shelters: list[ShelterRow]
    vulnerable: list[Vulnerable]
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    @property
    def drill(self) -> bool:
        return any(a.is_drill for a in self.alerts)

    @property
    def unit(self) -> str:
        """The reporting unit by default: the top zone of the rows (the district)."""
        return self.rows[0].name if self.rows and self.rows[0].parent_id is None else ""


def _grid(grid_id: int, found: dict[int, Figures]) -> Figures:
    return found.setdefault(grid_id, Figures())


def _sum(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _households(session: Session, ids: Sequence[int], found: dict[int, Figures]) -> None:
    """One row per grid: households by state, and the vulnerable ones (sums, not groups:
    a tenth of the rows to read at a district's size)."""
    vulnerable = Recipient.is_vulnerable.is_(True)
    states = [_sum(Recipient.state == state) for state in RecipientState]
    for grid_id, n, *counts in session.execute(
        select(
            Household.grid_id,
            func.count(),
            *states,
            _sum(vulnerable),
            _sum(vulnerable & Recipient.state.in_(FINAL)),
            _sum(vulnerable & (Recipient.state == R.needs_help)),
        )
        .join(Household, Household.id == Recipient.household_id)
        .where(Recipient.alert_id.in_(ids))
        .group_by(Household.grid_id)
    ):
        f = _grid(grid_id, found)
        f.households_targeted += int(n)
        for state, count in zip(RecipientState, counts, strict=False):
            setattr(f, STATE_FIELD[state], getattr(f, STATE_FIELD[state]) + int(count))
        vulnerable_n, final_n, help_n = (int(c) for c in counts[len(states) :])
        f.vulnerable_targeted += vulnerable_n
        f.vulnerable_final += final_n
        f.vulnerable_needs_help += help_n


def _visits(session: Session, ids: Sequence[int], found: dict[int, Figures]) -> None:
    for grid_id, n, still_open, done in session.execute(
        select(
            Household.grid_id,
            func.count(),
            _sum(VisitTask.state.in_((VisitState.open, VisitState.in_progress))),
            _sum(VisitTask.state.in_((VisitState.done, VisitState.unable))),
        )
        .join(Household, Household.id == VisitTask.household_id)
        .where(VisitTask.alert_id.in_(ids))
        .group_by(Household.grid_id)
    ):
        f = _grid(grid_id, found)
        f.visits_total += int(n)
        f.visits_open += int(still_open)
        f.visits_done += int(done)


def _help(session: Session, ids: Sequence[int], found: dict[int, Figures]) -> None:
    for grid_id, total, still_open in session.execute(
        select(
            Household.grid_id,
            func.count(),
            func.sum(case((HelpRequest.handled_at.is_(None), 1), else_=0)),
        )
        .join(Recipient, Recipient.id == HelpRequest.recipient_id)
        .join(Household, Household.id == Recipient.household_id)
        .where(HelpRequest.alert_id.in_(ids))
        .group_by(Household.grid_id)
    ):
        f = _grid(grid_id, found)
        f.help_total += int(total)
        f.help_open += int(still_open or 0)


def _speakers(session: Session, ids: Sequence[int], found: dict[int, Figures]) -> None:
    """Loudspeaker broadcasts count in the zone each loudspeaker covers (often a village)."""
    for zone_id, state, n in session.execute(
        select(Loudspeaker.zone_id, LoudspeakerTask.state, func.count())
        .join(Loudspeaker, Loudspeaker.id == LoudspeakerTask.loudspeaker_id)
        .where(LoudspeakerTask.alert_id.in_(ids), LoudspeakerTask.state != TaskState.cancelled)
        .group_by(Loudspeaker.zone_id, LoudspeakerTask.state)
    ):
        f = _grid(zone_id, found)
        f.loudspeakers_targeted += int(n)
        f.loudspeakers_played += int(n) if state is TaskState.played else 0


def _evacuated(
    session: Session, ids: Sequence[int], found: dict[int, Figures]
) -> dict[int, tuple[int, int]]:
    """People moved per grid; returns the shelters' (households, people) for the report."""
    moved = evacuations(session, ids)
    for m in moved:
        f = _grid(m.grid_id, found)
        f.households_evacuated += 1
        people = m.people or 0
        f.people_evacuated += people
        f.evacuated_uncounted += 1 if m.people is None else 0
        if m.placement is Placement.shelter:
            f.people_to_shelters += people
        elif m.placement is Placement.relatives:
            f.people_to_relatives += people
        else:
            f.people_elsewhere += people
    return shelter_use(moved)


def rolled_up(session: Session, found: dict[int, Figures]) -> list[ZoneRow]:
    """Every administrative zone above (and at) the zones with figures, each the sum of the
    figures under it, in tree order."""
    paths = dict(session.execute(select(Zone.id, Zone.path).where(Zone.id.in_(list(found)))).all())
    above = {zone_id: path_ids(path) or [zone_id] for zone_id, path in paths.items()}
    wanted = {i for ids in above.values() for i in ids}
    rows = {
        z.id: ZoneRow(z.id, z.code, z.name, z.kind, z.parent_id)
        for z in session.execute(
            select(Zone.id, Zone.code, Zone.name, Zone.kind, Zone.parent_id).where(
                Zone.id.in_(wanted), Zone.kind.in_(SHOWN)
            )
        )
    }
    for zone_id, figures in found.items():
        for ancestor in above.get(zone_id, []):
            if ancestor in rows:
                rows[ancestor].figures.add(figures)
    return tree_order(list(rows.values()))


def _vulnerable(session: Session, ids: Sequence[int]) -> list[Vulnerable]:
    rows = session.execute(
        select(Recipient, Household, Zone.name)
        .join(Household, Household.id == Recipient.household_id)
        .join(Zone, Zone.id == Household.grid_id)
        .where(
            Recipient.alert_id.in_(ids),
            Recipient.is_vulnerable.is_(True),
            Recipient.state.in_(NOT_FINAL),
        )
        .order_by(Recipient.priority, Recipient.id)
        .limit(LISTED)
    ).all()
    return [
        Vulnerable(h.code, h.head_name, h.address, grid, list(h.vulnerability), r.state.value,
                   r.alert_id)
        for r, h, grid in rows
    ]  # fmt: skip


def situation_report(
    session: Session,
    alerts: Sequence[Alert],
    *,
    now: dt.datetime,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> SituationReport:
    """The report of these alerts, counted from the record now. Over several alerts a
    household counts once per alert it was targeted by, but its people once (latest count)."""
    ids = [a.id for a in alerts]
    found: dict[int, Figures] = {}
    _households(session, ids, found)
    _visits(session, ids, found)
    _help(session, ids, found)
    _speakers(session, ids, found)
    use = _evacuated(session, ids, found)
    total = Figures()
    for figures in found.values():
        total.add(figures)
    return SituationReport(
        alerts=list(alerts),
        generated_at=now,
        rows=rolled_up(session, found) if found else [],
        total=total,
        shelters=shelter_rows(session, use),
        vulnerable=_vulnerable(session, ids),
        since=since,
        until=until,
    )
