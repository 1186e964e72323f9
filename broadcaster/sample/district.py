"""Deterministic generator of a fictional sample district, bulk-loaded for demos and benchmarks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
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
from broadcaster.sample.contacts import PROXY_COLUMNS
from broadcaster.sample.residents import Chunk, Residents

CHUNK_HOUSEHOLDS = 20_000
MAX_HOUSEHOLDS = 1_500_000

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
LOCKED_TABLES = (*ID_TABLES, "household_zones", "worker_zones", "household_proxies")


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


def _chunks(residents: Residents, layout: lay.Layout) -> Iterator[Chunk]:
    chunk = Chunk()
    for village in layout.villages:
        for index in range(village.grids):
            residents.grid(village, index, layout.width, chunk)
            if len(chunk.households) >= CHUNK_HOUSEHOLDS:
                yield chunk
                chunk = Chunk()
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
    residents = Residents(seed, base["households"] + 1, base["people"] + 1)
    for chunk in _chunks(residents, layout):
        writer.insert("households", HOUSEHOLD_COLUMNS, chunk.households)
        writer.insert("people", PERSON_COLUMNS, chunk.people)
        writer.insert("household_zones", ("household_id", "zone_id"), chunk.links, stamped=False)
        writer.insert("household_proxies", PROXY_COLUMNS, chunk.proxies)
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
    chunk = Chunk()
    village = next(v for v in layout.villages if v.households)
    Residents(seed, 1, 1).grid(village, 0, layout.width, chunk)
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
