"""The zone picker's data: the administrative tree above grids, hazard zones, household counts."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.alerts.coverage import zone_households
from broadcaster.registry.models import Household, Zone, ZoneKind

TREE_KINDS = (ZoneKind.district, ZoneKind.township, ZoneKind.village)


@dataclass
class ZoneNode:
    """A zone with its registered households and its children in the tree."""

    id: int
    code: str
    name: str
    kind: str
    households: int
    grids: int = 0
    children: list[ZoneNode] = field(default_factory=list)


def zone_tree(session: Session) -> tuple[list[ZoneNode], list[ZoneNode]]:
    """(roots of the administrative tree down to villages, hazard zones); grids load lazily."""
    counts = zone_households(session)
    grids: dict[int, int] = {
        int(parent): int(n)
        for parent, n in session.execute(
            select(Zone.parent_id, func.count())
            .where(Zone.kind == ZoneKind.grid)
            .group_by(Zone.parent_id)
        )
        if parent is not None
    }
    rows = session.execute(
        select(Zone.id, Zone.code, Zone.name, Zone.kind, Zone.parent_id)
        .where(Zone.kind.in_((*TREE_KINDS, ZoneKind.hazard)))
        .order_by(Zone.code)
    ).all()
    nodes = {
        r.id: ZoneNode(r.id, r.code, r.name, r.kind.value, counts.get(r.id, 0), grids.get(r.id, 0))
        for r in rows
    }
    roots: list[ZoneNode] = []
    hazards: list[ZoneNode] = []
    for r in rows:
        node = nodes[r.id]
        if r.kind is ZoneKind.hazard:
            hazards.append(node)
        elif r.parent_id in nodes:
            nodes[r.parent_id].children.append(node)
        else:
            roots.append(node)
    return roots, hazards


def grid_nodes(session: Session, parent_id: int) -> list[ZoneNode]:
    """The grids directly under one zone, with their households."""
    rows = session.execute(
        select(Zone.id, Zone.code, Zone.name, func.count(Household.id))
        .outerjoin(Household, Household.grid_id == Zone.id)
        .where(Zone.parent_id == parent_id, Zone.kind == ZoneKind.grid)
        .group_by(Zone.id, Zone.code, Zone.name)
        .order_by(Zone.code)
    ).all()
    return [ZoneNode(r[0], r[1], r[2], "grid", int(r[3])) for r in rows]


def suggestions(config_dir: Path, language: str) -> dict[str, Any]:
    """Suggested texts by hazard and level (config/templates/compose/suggestions.toml)."""
    path = config_dir / "templates" / "compose" / "suggestions.toml"
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    found: dict[str, Any] = data.get(language) or data.get("zh-CN") or {}
    return found
