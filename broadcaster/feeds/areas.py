"""Where a CAP alert applies: geocodes to zones (GB/T 2260 subtrees), shapes to households."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, or_, select, union
from sqlalchemy.orm import Session

from broadcaster.feeds.cap import AreaSpec
from broadcaster.feeds.geometry import Box, circle_box, in_circle, in_polygon, polygon_box
from broadcaster.registry.models import Household, Zone, ZoneKind
from broadcaster.registry.service import households_in_zone

CHUNK = 2000  # household ids per IN list, well under SQLite's and psycopg's bound limits


@dataclass(frozen=True)
class Coverage:
    """The zones named by geocodes (topmost only) and the households located in the shapes."""

    zones: list[Zone]
    located: list[int]

    @property
    def zone_codes(self) -> list[str]:
        return [zone.code for zone in self.zones]

    def selects(self) -> list[Select[Any]]:
        """Selects of household ids that together cover the area, each of bounded size."""
        found = []
        if self.zones:
            found.append(households_of(self.zones))
        for start in range(0, len(self.located), CHUNK):
            chunk = self.located[start : start + CHUNK]
            found.append(select(Household.id).where(Household.id.in_(chunk)))
        return found


def households_of(zones: list[Zone]) -> Select[Any]:
    """Ids of the households of the zones (each once)."""
    covered = union(*[households_in_zone(zone) for zone in zones]).subquery()
    return select(Household.id).where(Household.id.in_(select(covered.c[0])))


def region_prefix(code: str) -> str | None:
    """The significant digits of a division code: 500000 → 50, 500100 → 5001, 500112 → 500112;
    statistical codes (9 or 12 digits) drop trailing 000 groups: 500112001000 → 500112001."""
    if not code.isascii() or not code.isdigit() or len(code) not in (6, 9, 12):
        return None
    if len(code) == 12 and code.endswith("000"):
        code = code[:9]
    if len(code) == 9 and code.endswith("000"):
        code = code[:6]
    while len(code) in (4, 6) and code.endswith("00"):
        code = code[:-2]
    return code


def zones_for(session: Session, geocodes: Iterable[tuple[str, str]]) -> list[Zone]:
    """Zones whose code equals a geocode value, or whose region code lies under it
    (a district's code covers every township and village under it); topmost only."""
    values = {value.strip() for _name, value in geocodes if value.strip()}
    if not values:
        return []
    conditions: list[Any] = [Zone.code.in_(values)]
    for value in values:
        prefix = region_prefix(value)
        if prefix is not None:
            conditions.append(Zone.region_code.startswith(prefix, autoescape=True))
    found = list(session.scalars(select(Zone).where(or_(*conditions)).order_by(Zone.id)))
    topmost: list[Zone] = []
    for zone in sorted(found, key=lambda z: (len(z.path), z.id)):
        inside = zone.kind is not ZoneKind.hazard and any(
            top.kind is not ZoneKind.hazard and zone.path.startswith(top.path) for top in topmost
        )
        if not inside:
            topmost.append(zone)
    return topmost


def located_households(session: Session, spec: AreaSpec) -> list[int]:
    """Households with a location inside any polygon or circle of the area."""
    shapes: list[tuple[Box, Any]] = []
    for ring in spec.polygons:
        shapes.append((polygon_box(ring), lambda lat, lon, ring=ring: in_polygon(lat, lon, ring)))
    for lat0, lon0, radius in spec.circles:
        shapes.append(
            (
                circle_box(lat0, lon0, radius),
                lambda lat, lon, c=(lat0, lon0), r=radius: in_circle(lat, lon, c, r),
            )
        )
    inside: set[int] = set()
    for box, contains in shapes:
        rows = session.execute(
            select(Household.id, Household.lat, Household.lon).where(
                Household.lat.between(box.south, box.north),
                Household.lon.between(box.west, box.east),
            )
        )
        inside.update(hid for hid, lat, lon in rows if hid not in inside and contains(lat, lon))
    return sorted(inside)


def coverage(session: Session, spec: AreaSpec) -> Coverage:
    return Coverage(zones_for(session, spec.geocodes), located_households(session, spec))
