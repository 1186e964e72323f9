"""Registry queries: zone subtrees, household search."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from broadcaster.errors import NotFound, ValidationFailed
from broadcaster.registry.models import Household, Person, Zone, ZoneKind, household_zones
from broadcaster.registry.schemas import HouseholdOut, PersonOut, ProxyOut


def zone_by_code(session: Session, code: str, *, field: str = "zone") -> Zone:
    """The zone with this code, or a ValidationFailed naming the field."""
    zone = session.scalar(select(Zone).where(Zone.code == code))
    if zone is None:
        raise ValidationFailed(f"未知区域编号 / unknown zone code: {code}", field=field)
    return zone


def households_in_zone(zone: Zone) -> Select[Any]:
    """Ids of the households a zone covers: its subtree's grids, or a hazard zone's members."""
    if zone.kind == ZoneKind.hazard:
        return select(household_zones.c.household_id).where(household_zones.c.zone_id == zone.id)
    grids = select(Zone.id).where(Zone.path.startswith(zone.path))
    return select(Household.id).where(Household.grid_id.in_(grids))


def search_households(
    session: Session,
    *,
    zone: str | None = None,
    vulnerable: bool | None = None,
    query: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[int, list[Household]]:
    """A page of households matching the filters, with the total count."""
    stmt = select(Household)
    if zone:
        stmt = stmt.where(Household.id.in_(households_in_zone(zone_by_code(session, zone))))
    if vulnerable is not None:
        stmt = stmt.where(Household.is_vulnerable.is_(vulnerable))
    if query:
        like = f"%{query}%"
        stmt = stmt.where(
            or_(
                Household.code.like(like),
                Household.head_name.like(like),
                Household.address.like(like),
            )
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Household.code)
        .offset(offset)
        .limit(limit)
        .options(
            selectinload(Household.people),
            selectinload(Household.proxies),
            selectinload(Household.hazard_zones),
            selectinload(Household.grid),
            selectinload(Household.worker),
        )
    )
    return total, list(rows)


def household_by_code(session: Session, code: str) -> Household:
    household = session.scalar(select(Household).where(Household.code == code))
    if household is None:
        raise NotFound(f"未知户编号 / unknown household code: {code}")
    return household


def household_out(household: Household) -> HouseholdOut:
    """The API view of a household, people included."""
    return HouseholdOut(
        id=household.id,
        code=household.code,
        head_name=household.head_name,
        address=household.address,
        grid_code=household.grid.code,
        hazard_zones=sorted(z.code for z in household.hazard_zones),
        vulnerability=list(household.vulnerability),
        is_vulnerable=household.is_vulnerable,
        worker_name=household.worker.name if household.worker else None,
        lat=household.lat,
        lon=household.lon,
        people=[PersonOut.model_validate(p) for p in household.people],
        proxies=[ProxyOut.model_validate(p) for p in household.proxies],
        no_phone=not any(p.phone and p.active for p in household.people),
        notes=household.notes or "",
        version=household.updated_at.isoformat(),
    )


def zones_by_code(session: Session, codes: list[str]) -> list[Zone]:
    zones = list(session.scalars(select(Zone).where(Zone.code.in_(codes))))
    missing = sorted(set(codes) - {z.code for z in zones})
    if missing:
        raise ValidationFailed(
            f"未知区域编号 / unknown zone code: {', '.join(missing)}", field="zones"
        )
    return zones


def phones_by_household(session: Session, household_ids: Collection[int]) -> dict[int, list[str]]:
    """The active members' phone numbers of each household, in member order (members without
    a phone left out; a household without any phone is absent)."""
    phones: dict[int, list[str]] = {}
    for household_id, phone in session.execute(
        select(Person.household_id, Person.phone)
        .where(
            Person.household_id.in_(household_ids),
            Person.active.is_(True),
            Person.phone.is_not(None),
        )
        .order_by(Person.household_id, Person.position)
    ):
        if phone is not None:
            phones.setdefault(household_id, []).append(phone)
    return phones
