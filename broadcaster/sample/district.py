"""Deterministic generator of a fictional sample district, bulk-loaded for demos and benchmarks."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, distinct, func, select, text
from sqlalchemy.orm import Session

from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.registry.models import (
    Group,
    Household,
    Loudspeaker,
    Person,
    Zone,
    ZoneKind,
    worker_zones,
)
from broadcaster.sample import layout as lay

CHUNK_HOUSEHOLDS = 20_000
MAX_HOUSEHOLDS = 1_500_000
VULNERABLE_SHARE = 0.10
LANDLINE_SHARE = 0.025  # plus 30 % of the elderly living alone: about 3 % of people
INACTIVE_SHARE = 0.03  # of members other than the head (moved away)

Row = tuple[Any, ...]
ZONE_COLUMNS = ("id", "code", "name", "kind", "hazard_type", "parent_id", "path", "risk",
                "region_code")  # fmt: skip
WORKER_COLUMNS = ("id", "name", "phone", "role", "active")
GROUP_COLUMNS = ("id", "code", "name", "kind", "zone_id", "owner_worker_id", "webhook_key",
                 "member_count")  # fmt: skip
SPEAKER_COLUMNS = ("id", "code", "name", "zone_id", "operator_worker_id", "lat", "lon")
HOUSEHOLD_COLUMNS = ("id", "code", "head_name", "address", "grid_id", "worker_id", "group_id",
                     "vulnerability", "is_vulnerable", "lat", "lon", "notes")  # fmt: skip
PERSON_COLUMNS = ("id", "household_id", "position", "name", "phone", "phone_kind", "language",
                  "active")  # fmt: skip
ID_TABLES = ("zones", "workers", "groups", "loudspeakers", "households", "people")
LOCKED_TABLES = (*ID_TABLES, "household_zones", "worker_zones")


@dataclass(frozen=True)
class DistrictSummary:
    """What `generate_district` built or found; `created` is False when reused."""

    district_code: str
    households: int
    people: int
    zones: int
    grids: int
    workers: int
    groups: int
    loudspeakers: int
    created: bool


class DistrictConflict(ValueError):
    """The database already holds another demo district, or rows with its codes."""


@dataclass
class _Chunk:
    households: list[Row] = field(default_factory=list)
    people: list[Row] = field(default_factory=list)
    links: list[Row] = field(default_factory=list)


def _affine(rng: random.Random, span: int) -> tuple[int, int]:
    """A multiplier coprime with span and an offset: k -> (a*k + b) % span is a bijection."""
    a = rng.randrange(span // 3, span)
    while math.gcd(a, span) != 1:
        a += 1
    return a, rng.randrange(span)


class _Residents:
    """Households and their people, drawn in order from seeded streams."""

    def __init__(self, seed: int, household_id: int, person_id: int) -> None:
        self.rng = random.Random(f"{seed}/households")
        phones = random.Random(f"{seed}/phones")
        self.mobile_a, self.mobile_b = _affine(phones, lay.PEOPLE_MOBILE_SPAN)
        self.landline_a, self.landline_b = _affine(phones, lay.LANDLINE_SPAN)
        self.mobiles = self.landlines = 0
        self.household_id, self.person_id = household_id, person_id

    def phone(self, landline: bool) -> str:
        if landline:
            k, self.landlines = self.landlines, self.landlines + 1
            local = lay.LANDLINE_BASE + (self.landline_a * k + self.landline_b) % lay.LANDLINE_SPAN
            return f"+8623{local}"
        k, self.mobiles = self.mobiles, self.mobiles + 1
        if k >= lay.PEOPLE_MOBILE_SPAN:
            raise ValueError("the reserved mobile block is exhausted")
        offset = (self.mobile_a * k + self.mobile_b) % lay.PEOPLE_MOBILE_SPAN
        return f"+86{lay.PEOPLE_MOBILE_BASE + offset}"

    def flags(self, urban: bool) -> list[str]:
        rnd, picks = self.rng.random, lay.FLAG_PICKS[urban]
        if rnd() >= VULNERABLE_SHARE:
            return []
        flags: list[str] = []
        for _ in range(1 if rnd() < 0.85 else 2):
            flag = lay.VULNERABILITY_FLAGS[int(picks[int(rnd() * len(picks))])]
            if flag not in flags:
                flags.append(flag)
        return flags

    def grid(self, village: lay.Village, index: int, width: int, out: _Chunk) -> None:
        """Append one grid's households, people and hazard-zone links to the chunk."""
        rng, rnd, sizes, phone = self.rng, self.rng.random, lay.SIZE_PICKS, self.phone
        add_person, add_household = out.people.append, out.households.append
        grid_code = f"{village.code}G{index + 1:0{width}d}"
        grid_id, worker_id = village.first_grid_id + index, village.first_worker_id + 2 + index
        group_id, hazards, road = village.wechat_group_id, village.hazards[index], village.spec.road
        lat0, lon0 = village.grid_centre(index)
        where = lay.DISTRICT_NAME + village.township.name + village.spec.name
        for j in range(village.grid_households(index)):
            hid = self.household_id
            self.household_id += 1
            flags = self.flags(road is not None)
            alone = "elderly_alone" in flags
            size = 1 if alone else int(sizes[int(rnd() * len(sizes))])
            head = lay.person_name(rng)
            for position in range(size):
                if position == 0:
                    name = head
                else:  # the spouse keeps their own surname, the others take the head's
                    name = lay.person_name(rng, head[0] if position > 1 else None)
                landline = rnd() < (0.3 if alone else LANDLINE_SHARE)
                active = position == 0 or rnd() >= INACTIVE_SHARE
                number = phone(landline)
                kind = "landline" if landline else "mobile"
                add_person((self.person_id, hid, position, name, number, kind, "zh-CN", active))
                self.person_id += 1
            if road:
                flat = f"{j // 24 + 1}栋{j // 12 % 2 + 1}单元{j % 12 // 2 + 1}0{j % 2 + 1}室"
                address = f"{where}{road}{index + 1}号{flat}"
            else:
                address = f"{where}{index + 1}组{j + 1}号"
            lat = round(lat0 + (rnd() - 0.5) * 0.002, 6)
            lon = round(lon0 + (rnd() - 0.5) * 0.002, 6)
            if flags:
                vulnerability = json.dumps(flags)
                notes = "；".join(lay.FLAG_NOTES[f] for f in flags)
            else:
                vulnerability, notes = "[]", ""
            add_household((hid, f"{grid_code}-{j + 1:04d}", head, address, grid_id, worker_id,
                           group_id, vulnerability, bool(flags), lat, lon, notes))  # fmt: skip
            for zone_id in hazards:
                out.links.append((hid, zone_id))


def _chunks(residents: _Residents, layout: lay.Layout) -> Iterator[_Chunk]:
    chunk = _Chunk()
    for village in layout.villages:
        for index in range(village.grids):
            residents.grid(village, index, layout.width, chunk)
            if len(chunk.households) >= CHUNK_HOUSEHOLDS:
                yield chunk
                chunk = _Chunk()
    if chunk.households:
        yield chunk


class _Writer:
    """Bulk rows through the session's own driver connection: COPY or executemany.

    created_at/updated_at are not in the rows: PostgreSQL's server default stamps the
    transaction time; SQLite gets the same instant as a literal, as the ORM would store it.
    """

    def __init__(self, session: Session) -> None:
        self.raw: Any = session.connection().connection.driver_connection
        self.pg = session.get_bind().dialect.name == "postgresql"
        self.stamp = utcnow().strftime("%Y-%m-%d %H:%M:%S.%f")

    def insert(
        self, table: str, columns: tuple[str, ...], rows: Iterable[Row], *, stamped: bool = True
    ) -> None:
        cols = ", ".join(f'"{c}"' for c in columns)
        if self.pg:
            with self.raw.cursor() as cur, cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as cp:
                for row in rows:
                    cp.write_row(row)
            return
        values = ", ".join("?" * len(columns))
        if stamped:
            cols += ', "created_at", "updated_at"'
            values += f", '{self.stamp}', '{self.stamp}'"
        cursor = self.raw.cursor()
        try:
            cursor.executemany(f'INSERT INTO "{table}" ({cols}) VALUES ({values})', rows)  # noqa: S608
        finally:
            cursor.close()


def generate_district(
    db: Database,
    *,
    households: int = 2000,
    seed: int = 20200824,
    progress: Callable[[int, int], None] | None = None,
) -> DistrictSummary:
    """Build the demo district in one transaction, or reuse it when it is already there.

    `progress(done, total)` is called after each chunk of households (once, with
    done == total, when the district is reused). Raises DistrictConflict when the database
    holds the district at another size or seed, or zones with its codes.
    """
    if not 1 <= households <= MAX_HOUSEHOLDS:
        raise ValueError(f"households must be between 1 and {MAX_HOUSEHOLDS}")
    with db.transaction() as session:
        writer = _Writer(session)
        found = _existing(session, households, seed)
        if found is None and writer.pg:  # no concurrent insert may take an id chosen here
            tables = ", ".join(LOCKED_TABLES)
            session.execute(text(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE"))
            found = _existing(session, households, seed)
        if found is not None:
            if progress:
                progress(households, households)
            return found
        return _build(session, writer, households, seed, progress)


def _build(
    session: Session,
    writer: _Writer,
    households: int,
    seed: int,
    progress: Callable[[int, int], None] | None,
) -> DistrictSummary:
    villages = lay.plan_villages(households)
    codes = [lay.DISTRICT_CODE, *(lay.township_code(i) for i in range(len(lay.TOWNSHIPS)))]
    codes += [v.code for v in villages] + [h.code for h in lay.HAZARDS]
    clash = session.scalar(select(Zone.code).where(Zone.code.in_(codes)).limit(1))
    if clash is not None:
        raise DistrictConflict(f"zone code {clash!r} is taken: generate into a fresh database")
    base = {t: int(session.execute(text(f'SELECT COALESCE(MAX(id), 0) FROM "{t}"')).scalar_one())  # noqa: S608
            for t in ID_TABLES}  # fmt: skip
    layout = lay.Layout(villages, base, seed)
    writer.insert("zones", ZONE_COLUMNS, layout.zones())
    writer.insert("workers", WORKER_COLUMNS, layout.workers())
    writer.insert("worker_zones", ("worker_id", "zone_id"), layout.worker_zones(), stamped=False)
    writer.insert("groups", GROUP_COLUMNS, layout.groups())
    writer.insert("loudspeakers", SPEAKER_COLUMNS, layout.loudspeakers())
    residents = _Residents(seed, base["households"] + 1, base["people"] + 1)
    for chunk in _chunks(residents, layout):
        writer.insert("households", HOUSEHOLD_COLUMNS, chunk.households)
        writer.insert("people", PERSON_COLUMNS, chunk.people)
        writer.insert("household_zones", ("household_id", "zone_id"), chunk.links, stamped=False)
        if progress:
            progress(residents.household_id - base["households"] - 1, households)
    if writer.pg:  # later ORM inserts must not draw ids that were set explicitly
        for table in ID_TABLES:
            sequence = f"pg_get_serial_sequence('{table}', 'id')"
            session.execute(text(f'SELECT setval({sequence}, MAX(id)) FROM "{table}"'))  # noqa: S608
        session.execute(text("ANALYZE zones, households, people, household_zones"))
    return DistrictSummary(
        district_code=lay.DISTRICT_CODE,
        households=households,
        people=residents.person_id - base["people"] - 1,
        zones=layout.zone_count,
        grids=layout.grid_count,
        workers=layout.worker_count,
        groups=layout.group_count,
        loudspeakers=layout.loudspeaker_count,
        created=True,
    )


def _first_household(households: int, seed: int) -> tuple[str, str, str]:
    """(code, head name, first phone) of the first household this size and seed produce."""
    layout = lay.Layout(lay.plan_villages(households), dict.fromkeys(ID_TABLES, 0), seed)
    chunk = _Chunk()
    village = next(v for v in layout.villages if v.households)
    _Residents(seed, 1, 1).grid(village, 0, layout.width, chunk)
    return chunk.households[0][1], chunk.households[0][2], chunk.people[0][4]


def _existing(session: Session, households: int, seed: int) -> DistrictSummary | None:
    """The summary of the demo district already present, or None; conflicts raise."""
    district = session.scalar(
        select(Zone).where(Zone.code == lay.DISTRICT_CODE, Zone.kind == ZoneKind.district)
    )
    if district is None:
        return None
    under = Zone.path.startswith(district.path, autoescape=True)

    def count(what: Any, *joins: tuple[Any, ColumnElement[bool]], where: Any = under) -> int:
        stmt = select(func.count(what))
        for target, on in joins:
            stmt = stmt.join(target, on)
        return int(session.scalar(stmt.where(where)) or 0)

    in_grid = (Zone, Zone.id == Household.grid_id)
    found = count(Household.id, in_grid)
    if found != households:
        raise DistrictConflict(
            f"district {lay.DISTRICT_CODE} already holds {found} households, not {households}: "
            "generate into a fresh database"
        )
    code, head, phone = _first_household(households, seed)
    stored = session.execute(
        select(Household.head_name, Person.phone)
        .join(Person, (Person.household_id == Household.id) & (Person.position == 0))
        .where(Household.code == code)
    ).first()
    if stored is None or tuple(stored) != (head, phone):
        raise DistrictConflict(f"district {lay.DISTRICT_CODE} was generated with another seed")
    return DistrictSummary(
        district_code=lay.DISTRICT_CODE,
        households=found,
        people=count(Person.id, (Household, Household.id == Person.household_id), in_grid),
        zones=count(Zone.id),
        grids=count(Zone.id, where=under & (Zone.kind == ZoneKind.grid)),
        workers=count(
            distinct(worker_zones.c.worker_id), (Zone, Zone.id == worker_zones.c.zone_id)
        ),
        groups=count(Group.id, (Zone, Zone.id == Group.zone_id)),
        loudspeakers=count(Loudspeaker.id, (Zone, Zone.id == Loudspeaker.zone_id)),
        created=False,
    )
