"""Loading the registry rows a batch of imported codes already has, four queries per batch."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import ARRAY, ColumnElement, Table, any_, literal, select
from sqlalchemy.orm import Session

from broadcaster.registry.models import Household, Person, PhoneKind, Proxy, household_zones

HOUSEHOLDS = cast(Table, Household.__table__)
PEOPLE = cast(Table, Person.__table__)
PROXIES = cast(Table, Proxy.__table__)
HOUSEHOLD_ZONES = household_zones
# The household columns an import sets; compared to decide created/updated/unchanged.
HOUSEHOLD_FIELDS = (
    "head_name",
    "address",
    "grid_id",
    "worker_id",
    "group_id",
    "vulnerability",
    "is_vulnerable",
    "lon",
    "lat",
)


@dataclass(frozen=True)
class ExistingPerson:
    """A stored person of a household, keyed by phone in ExistingHousehold.people."""

    id: int
    position: int
    name: str | None
    kind: PhoneKind | None
    active: bool


@dataclass
class ExistingHousehold:
    """A stored household: its imported columns, hazard zones and people."""

    id: int
    values: dict[str, Any]
    zone_ids: set[int] = field(default_factory=set)
    people: dict[str, ExistingPerson] = field(default_factory=dict)
    phoneless: list[ExistingPerson] = field(default_factory=list)  # in member order
    # (name, phone, kind, relation, may_confirm) of each proxy, in order
    proxies: list[tuple[str, str, PhoneKind, str, bool]] = field(default_factory=list)


def among(session: Session, column: Any, values: list[Any]) -> ColumnElement[bool]:
    """column IN values; on PostgreSQL one array parameter (= ANY) instead of one per value."""
    if session.get_bind().dialect.name == "postgresql":
        matches: ColumnElement[bool] = column == any_(literal(values, type_=ARRAY(column.type)))
        return matches
    result: ColumnElement[bool] = column.in_(values)
    return result


def load_existing(session: Session, codes: Iterable[str]) -> dict[str, ExistingHousehold]:
    """The stored households with these codes, with their zones and people, by code."""
    codes = list(codes)
    if not codes:
        return {}
    columns = [HOUSEHOLDS.c[name] for name in HOUSEHOLD_FIELDS]
    query = select(HOUSEHOLDS.c.id, HOUSEHOLDS.c.code, *columns).where(
        among(session, HOUSEHOLDS.c.code, codes)
    )
    by_code: dict[str, ExistingHousehold] = {}
    by_id: dict[int, ExistingHousehold] = {}
    for id_, code, *values in session.execute(query).all():
        household = ExistingHousehold(
            id=id_, values=dict(zip(HOUSEHOLD_FIELDS, values, strict=True))
        )
        by_code[code] = household
        by_id[id_] = household
    if not by_id:
        return by_code
    ids = list(by_id)
    zones = select(HOUSEHOLD_ZONES.c.household_id, HOUSEHOLD_ZONES.c.zone_id).where(
        among(session, HOUSEHOLD_ZONES.c.household_id, ids)
    )
    for household_id, zone_id in session.execute(zones).all():
        by_id[household_id].zone_ids.add(zone_id)
    people = select(
        PEOPLE.c.id,
        PEOPLE.c.household_id,
        PEOPLE.c.phone,
        PEOPLE.c.position,
        PEOPLE.c.name,
        PEOPLE.c.phone_kind,
        PEOPLE.c.active,
    ).where(among(session, PEOPLE.c.household_id, ids))
    rows = session.execute(people.order_by(PEOPLE.c.position, PEOPLE.c.id)).all()
    for id_, household_id, phone, position, name, kind, active in rows:
        person = ExistingPerson(
            id=id_,
            position=position,
            name=name,
            kind=PhoneKind(kind) if kind else None,
            active=bool(active),
        )
        if phone is None:
            by_id[household_id].phoneless.append(person)
        else:
            by_id[household_id].people[phone] = person
    proxies = select(
        PROXIES.c.household_id,
        PROXIES.c.name,
        PROXIES.c.phone,
        PROXIES.c.phone_kind,
        PROXIES.c.relation,
        PROXIES.c.may_confirm,
    ).where(among(session, PROXIES.c.household_id, ids))
    for household_id, *proxy in session.execute(
        proxies.order_by(PROXIES.c.position, PROXIES.c.id)
    ).all():
        name, phone, kind, relation, may_confirm = proxy
        by_id[household_id].proxies.append(
            (name, phone, PhoneKind(kind), relation, bool(may_confirm))
        )
    return by_code
