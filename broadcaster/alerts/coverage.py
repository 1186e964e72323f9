"""Coverage of an alert by zone: households final per grid, rolled up the zone path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import CTE, ColumnElement, Select, case, func, select
from sqlalchemy.orm import Session, aliased

from broadcaster.alerts.models import Recipient, RecipientState
from broadcaster.alerts.states import FINAL
from broadcaster.registry.models import Household, Zone, ZoneKind, household_zones

ROLLED_UP = (ZoneKind.district, ZoneKind.township, ZoneKind.village)


class Node(Protocol):
    """A row of a zone tree: its zone, its parent zone and its code (the sibling order)."""

    @property
    def zone_id(self) -> int: ...

    @property
    def parent_id(self) -> int | None: ...

    @property
    def code(self) -> str: ...


N = TypeVar("N", bound=Node)


@dataclass(frozen=True)
class ZoneCoverage:
    """One zone's households under one alert: how many, how many final, answered, asking help."""

    zone_id: int
    code: str
    name: str
    kind: ZoneKind
    parent_id: int | None
    targeted: int
    final: int
    confirmed: int
    needs_help: int

    @property
    def share(self) -> float:
        """Households final as a fraction (0 when the zone has none)."""
        return self.final / self.targeted if self.targeted else 0.0

    @property
    def percent(self) -> int:
        """Whole per cent, rounded down, so 100 means every household is final."""
        return int(self.final * 100 // self.targeted) if self.targeted else 0

    @property
    def band(self) -> str:
        """A colour band for the table: done, good, fair, poor."""
        if self.targeted and self.final == self.targeted:
            return "done"
        if self.share >= 0.9:
            return "good"
        if self.share >= 0.5:
            return "fair"
        return "poor"


def _counted(states: tuple[RecipientState, ...]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((Recipient.state.in_(states), 1), else_=0)), 0)


def _per_grid(alert_id: int, within: Zone | None = None) -> Select[*tuple[Any, ...]]:
    """Recipients of the alert grouped by their household's grid."""
    stmt = (
        select(
            Household.grid_id.label("grid_id"),
            func.count().label("targeted"),
            _counted(FINAL).label("final"),
            _counted((RecipientState.confirmed,)).label("confirmed"),
            _counted((RecipientState.needs_help,)).label("needs_help"),
        )
        .select_from(Recipient)
        .join(Household, Household.id == Recipient.household_id)
        .where(Recipient.alert_id == alert_id)
        .group_by(Household.grid_id)
    )
    if within is not None:
        grids = select(Zone.id).where(Zone.path.startswith(within.path))
        stmt = stmt.where(Household.grid_id.in_(grids))
    return stmt


def _materialised(stmt: Select[*tuple[Any, ...]], name: str) -> CTE:
    """A CTE computed once: without it the planner may run the path join per grid × zone."""
    return stmt.cte(name).prefix_with("MATERIALIZED")


def _ancestors() -> CTE:
    """The zones that counts roll up to (district, townships, villages), with their paths."""
    return _materialised(
        select(Zone.id, Zone.code, Zone.name, Zone.kind, Zone.parent_id, Zone.path).where(
            Zone.kind.in_(ROLLED_UP)
        ),
        "above",
    )


def _row(values: Sequence[Any]) -> ZoneCoverage:
    """(id, code, name, kind, parent_id, targeted, final, confirmed, needs_help) → a row."""
    zid, code, name, kind, parent, *counts = values
    targeted, final, confirmed, needs_help = (int(c or 0) for c in counts)
    return ZoneCoverage(
        int(zid), str(code), str(name), ZoneKind(kind), parent, targeted, final, confirmed,
        needs_help,
    )  # fmt: skip


def rolled_up(session: Session, alert_id: int) -> list[ZoneCoverage]:
    """District, townships and villages with the alert's households under them, tree order.

    One statement: the per-grid counts (one pass over the alert's recipients) joined to every
    administrative ancestor of each grid by the materialised path, and summed per ancestor.
    Both sides are materialised first, so the path join is grids × ancestors (not × zones).
    """
    grids = _materialised(_per_grid(alert_id), "per_grid")
    grid, above = aliased(Zone), _ancestors()
    rows = session.execute(
        select(
            above.c.id,
            above.c.code,
            above.c.name,
            above.c.kind,
            above.c.parent_id,
            func.sum(grids.c.targeted),
            func.sum(grids.c.final),
            func.sum(grids.c.confirmed),
            func.sum(grids.c.needs_help),
        )
        .select_from(grids)
        .join(grid, grid.id == grids.c.grid_id)
        .join(above, grid.path.startswith(above.c.path))
        .group_by(above.c.id, above.c.code, above.c.name, above.c.kind, above.c.parent_id)
    ).all()
    return tree_order([_row(r) for r in rows])


def grid_rows(session: Session, alert_id: int, within: Zone) -> list[ZoneCoverage]:
    """The grids under `within` that hold households of the alert, least covered first."""
    grids = _per_grid(alert_id, within).subquery("per_grid")
    rows = session.execute(
        select(Zone.id, Zone.code, Zone.name, Zone.kind, Zone.parent_id, *list(grids.c)[1:]).join(
            grids, grids.c.grid_id == Zone.id
        )
    ).all()
    found = [_row(r) for r in rows]
    return sorted(found, key=lambda z: (z.share, z.code))


def hazard_rows(
    session: Session, alert_id: int, codes: list[str] | None = None
) -> list[ZoneCoverage]:
    """Hazard zones (which overlap villages) with the alert's households in them; `codes`
    limits it to some zones (one index probe per member household of those zones)."""
    stmt = (
        select(
            Zone.id,
            Zone.code,
            Zone.name,
            Zone.kind,
            Zone.parent_id,
            func.count(),
            _counted(FINAL),
            _counted((RecipientState.confirmed,)),
            _counted((RecipientState.needs_help,)),
        )
        .select_from(Recipient)
        .join(household_zones, household_zones.c.household_id == Recipient.household_id)
        .join(Zone, Zone.id == household_zones.c.zone_id)
        .where(Recipient.alert_id == alert_id, Zone.kind == ZoneKind.hazard)
        .group_by(Zone.id, Zone.code, Zone.name, Zone.kind, Zone.parent_id)
        .order_by(Zone.code)
    )
    if codes is not None:
        if not codes:
            return []
        stmt = stmt.where(Zone.code.in_(codes))
    return [_row(r) for r in session.execute(stmt).all()]


def tree_order(rows: list[N]) -> list[N]:
    """Parents before children, siblings by code (a pre-order walk)."""
    ids = {r.zone_id for r in rows}
    children: dict[int | None, list[N]] = {}
    for row in rows:
        parent = row.parent_id if row.parent_id in ids else None
        children.setdefault(parent, []).append(row)
    ordered: list[N] = []

    def walk(parent: int | None) -> None:
        for row in sorted(children.get(parent, []), key=lambda r: r.code):
            ordered.append(row)
            walk(row.zone_id)

    walk(None)
    return ordered


def path_ids(path: str) -> list[int]:
    """The zone ids of a materialised path ("/1/4/17/" → [1, 4, 17]), root first."""
    return [int(part) for part in path.strip("/").split("/") if part]


def zone_households(session: Session) -> dict[int, int]:
    """Registered households under every zone (administrative subtrees and hazard zones)."""
    per_grid = _materialised(
        select(Household.grid_id.label("grid_id"), func.count().label("n")).group_by(
            Household.grid_id
        ),
        "per_grid",
    )
    grid, above = aliased(Zone), _ancestors()
    counts: dict[int, int] = {
        int(zone_id): int(n)
        for zone_id, n in session.execute(
            select(above.c.id, func.sum(per_grid.c.n))
            .select_from(per_grid)
            .join(grid, grid.id == per_grid.c.grid_id)
            .join(above, grid.path.startswith(above.c.path))
            .group_by(above.c.id)
        )
    }
    counts.update(
        (int(zone_id), int(n))
        for zone_id, n in session.execute(select(per_grid.c.grid_id, per_grid.c.n))
    )
    counts.update(
        (int(zone_id), int(n))
        for zone_id, n in session.execute(
            select(household_zones.c.zone_id, func.count()).group_by(household_zones.c.zone_id)
        )
    )
    return counts
