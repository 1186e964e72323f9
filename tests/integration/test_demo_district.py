"""The demo district generator: shape, phones, determinism, reuse and ids on both backends."""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict

import phonenumbers
import pytest
from sqlalchemy import Executable, distinct, func, select
from sqlalchemy.orm import Session

from broadcaster.db.database import Database
from broadcaster.registry.models import (
    Group,
    GroupKind,
    HazardType,
    Household,
    Loudspeaker,
    Person,
    PhoneKind,
    Proxy,
    Worker,
    WorkerRole,
    Zone,
    ZoneKind,
    household_zones,
    worker_zones,
)
from broadcaster.sample import district as demo_district
from broadcaster.sample.district import (
    DistrictConflict,
    DistrictSummary,
    generate_district,
)
from tests.conftest import truncate_all
from tests.factories import registry as factories

CANONICAL_FLAGS = {"elderly_alone", "disabled", "bedridden", "child_alone", "pregnant", "basement"}
ALL_TABLES = (Zone, Worker, Group, Loudspeaker, Household, Person, Proxy)


def digest(db: Database) -> str:
    """A hash of everything generated except ids and timestamps."""
    grid = Zone.__table__.alias("grid")
    statements: list[Executable] = [
        select(Zone.code, Zone.name, Zone.kind, Zone.hazard_type, Zone.risk, Zone.region_code)
        .order_by(Zone.code),
        select(Household.code, Household.head_name, Household.address, grid.c.code,
               Household.vulnerability, Household.is_vulnerable, Household.lat, Household.lon,
               Household.notes)
        .join(grid, grid.c.id == Household.grid_id)
        .order_by(Household.code),
        select(Household.code, Person.position, Person.name, Person.phone, Person.phone_kind,
               Person.active)
        .join(Household, Household.id == Person.household_id)
        .order_by(Household.code, Person.position),
        select(Household.code, Proxy.position, Proxy.name, Proxy.phone, Proxy.phone_kind,
               Proxy.relation, Proxy.may_confirm)
        .join(Household, Household.id == Proxy.household_id)
        .order_by(Household.code, Proxy.position),
        select(Household.code, Zone.code)
        .join(household_zones, household_zones.c.household_id == Household.id)
        .join(Zone, Zone.id == household_zones.c.zone_id)
        .order_by(Household.code, Zone.code),
        select(Worker.name, Worker.phone, Worker.role, Zone.code)
        .join(worker_zones, worker_zones.c.worker_id == Worker.id)
        .join(Zone, Zone.id == worker_zones.c.zone_id)
        .order_by(Worker.phone),
        select(Group.code, Group.name, Group.kind, Group.webhook_key, Group.member_count)
        .order_by(Group.code),
        select(Loudspeaker.code, Loudspeaker.name, Loudspeaker.lat, Loudspeaker.lon)
        .order_by(Loudspeaker.code),
    ]  # fmt: skip
    sha = hashlib.sha256()
    with db.transaction() as session:
        for statement in statements:
            for row in session.execute(statement):
                sha.update(repr(tuple(row)).encode())
    return sha.hexdigest()


def table_counts(session: Session) -> dict[str, int]:
    counts = {m.__tablename__: session.scalar(select(func.count()).select_from(m)) or 0
              for m in ALL_TABLES}  # fmt: skip
    for table in (household_zones, worker_zones):
        counts[table.name] = session.scalar(select(func.count()).select_from(table)) or 0
    return counts


def latest_stamps(session: Session) -> list[object]:
    return [session.scalar(select(func.max(m.updated_at))) for m in ALL_TABLES]


def test_a_district_of_2000_households_has_the_planned_shape(db: Database) -> None:
    summary = generate_district(db, households=2000)

    with db.transaction() as session:
        zones = list(session.scalars(select(Zone)))
        by_id = {z.id: z for z in zones}
        households = list(session.scalars(select(Household)))
        people = list(session.scalars(select(Person)))
        counts = table_counts(session)
    kinds = Counter(z.kind for z in zones)
    assert summary == DistrictSummary(
        district_code="DEMO",
        households=2000,
        people=counts["people"],
        zones=len(zones),
        grids=kinds[ZoneKind.grid],
        workers=counts["workers"],
        groups=counts["groups"],
        loudspeakers=counts["loudspeakers"],
        created=True,
    )
    assert len(households) == 2000
    assert kinds[ZoneKind.district] == 1
    assert kinds[ZoneKind.township] == 3
    assert kinds[ZoneKind.village] == 12
    assert 40 <= kinds[ZoneKind.grid] <= 56
    assert 4500 <= len(people) <= 5500

    (district,) = (z for z in zones if z.kind == ZoneKind.district)
    assert district.path == f"/{district.id}/"
    assert re.fullmatch(r"\d{6}", district.region_code or "")
    for zone in zones:
        if zone.kind == ZoneKind.district:
            continue
        parent = by_id[zone.parent_id or 0]
        assert zone.path == f"{parent.path}{zone.id}/", zone.code
        expected_parent = {
            ZoneKind.township: ZoneKind.district,
            ZoneKind.village: ZoneKind.township,
            ZoneKind.grid: ZoneKind.village,
            ZoneKind.hazard: ZoneKind.district,
        }[zone.kind]
        assert parent.kind == expected_parent, zone.code
        if zone.kind == ZoneKind.grid:
            assert re.fullmatch(re.escape(parent.code) + r"G\d{3}", zone.code)
        if zone.kind in (ZoneKind.township, ZoneKind.village):
            assert zone.region_code is not None
            assert zone.region_code.startswith(parent.region_code or "-")
            assert len(zone.region_code) == len(parent.region_code or "") + 3
        if zone.kind == ZoneKind.hazard:
            assert zone.hazard_type is not None
            assert zone.risk >= 2
        else:
            assert zone.hazard_type is None
            assert zone.risk == 0
    assert {z.code for z in zones if z.kind == ZoneKind.township} == {"T01", "T02", "T03"}

    per_grid = Counter(h.grid_id for h in households)
    grids = [z for z in zones if z.kind == ZoneKind.grid]
    assert all(by_id[g].kind == ZoneKind.grid for g in per_grid)
    assert 40 <= 2000 / len(grids) <= 50
    assert all(30 <= per_grid[g.id] <= 60 for g in grids), sorted(per_grid.values())


def test_people_phones_and_vulnerability_are_plausible(db: Database) -> None:
    generate_district(db, households=2000)

    with db.transaction() as session:
        households = {h.id: h for h in session.scalars(select(Household))}
        grid_codes = dict(session.execute(select(Zone.id, Zone.code)).all())
        people = list(session.scalars(select(Person)))
        worker_phones = list(session.scalars(select(Worker.phone)))
    members: defaultdict[int, list[Person]] = defaultdict(list)
    for person in people:
        members[person.household_id].append(person)
    assert set(members) == set(households)
    for hid, household in households.items():
        group = sorted(members[hid], key=lambda p: p.position)
        assert 1 <= len(group) <= 5
        assert [p.position for p in group] == list(range(len(group)))
        assert any(p.active for p in group), household.code
        assert group[0].name == household.head_name
        assert re.fullmatch(re.escape(grid_codes[household.grid_id]) + r"-\d{4}", household.code)
        assert set(household.vulnerability) <= CANONICAL_FLAGS
        assert household.is_vulnerable == bool(household.vulnerability)
        if "elderly_alone" in household.vulnerability:
            assert len(group) == 1
        assert household.lat is not None
        assert 29.6 < household.lat < 29.8
        assert household.lon is not None
        assert 106.5 < household.lon < 106.7
        assert household.address.startswith("示范区")
    assert 0.05 <= sum(h.is_vulnerable for h in households.values()) / len(households) <= 0.15
    assert {f for h in households.values() for f in h.vulnerability} == CANONICAL_FLAGS

    phones = [p.phone for p in people if p.phone is not None]
    # a number is in one household, or two (a son's phone in his parents' household too)
    holders = Counter(phone for phone in phones)
    assert set(holders.values()) == {1, 2}
    assert len(set(worker_phones)) == len(worker_phones)
    assert not set(worker_phones) & set(phones)
    for phone in phones + worker_phones:
        number = phonenumbers.parse(phone)
        assert phonenumbers.is_valid_number(number), phone
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == phone
    for person in people:
        if person.phone is None:
            assert person.phone_kind is None
            continue
        kind = phonenumbers.number_type(phonenumbers.parse(person.phone))
        if person.phone_kind == PhoneKind.mobile:
            assert person.phone.startswith("+861740")
            assert kind == phonenumbers.PhoneNumberType.MOBILE
        else:
            assert person.phone.startswith("+8623")
            assert kind == phonenumbers.PhoneNumberType.FIXED_LINE
    assert all(w.startswith("+861740") for w in worker_phones)
    landlines = sum(p.phone_kind == PhoneKind.landline for p in people)
    assert 0.01 <= landlines / len(people) <= 0.07


def test_the_district_has_households_no_phone_of_theirs_reaches_alone(db: Database) -> None:
    """About 2 % without any phone, 3 % landline-only, shared phones and proxies (代联系人)."""
    generate_district(db, households=2000)
    with db.transaction() as session:
        households = {h.id: h for h in session.scalars(select(Household))}
        kinds: defaultdict[int, set[PhoneKind | None]] = defaultdict(set)
        for household_id, kind, active in session.execute(
            select(Person.household_id, Person.phone_kind, Person.active)
        ):
            if active:
                kinds[household_id].add(kind)
        proxies = list(session.scalars(select(Proxy)))
        shared = session.execute(
            select(Person.phone)
            .group_by(Person.phone)
            .having(func.count(distinct(Person.household_id)) > 1)
        ).all()
    no_phone = [h for h in households if kinds[h] == {None}]
    landline_only = [h for h in households if kinds[h] == {PhoneKind.landline}]
    assert 0.01 <= len(no_phone) / 2000 <= 0.03
    assert 0.02 <= len(landline_only) / 2000 <= 0.045
    assert len(shared) >= 10
    with_proxy = {p.household_id for p in proxies}
    assert set(no_phone) <= with_proxy  # someone reaches every household without a phone
    assert {True, False} == {p.may_confirm for p in proxies}
    assert {"邻居", "儿子"} <= {p.relation for p in proxies}
    alone = [h for h in households.values() if "elderly_alone" in h.vulnerability]
    assert sum(h.id in with_proxy for h in alone) >= len(alone) // 4


def test_hazard_zones_workers_groups_and_loudspeakers_are_linked(db: Database) -> None:
    generate_district(db, households=2000)

    with db.transaction() as session:
        zones = {z.id: z for z in session.scalars(select(Zone))}
        households = list(session.scalars(select(Household)))
        workers = {w.id: w for w in session.scalars(select(Worker))}
        links = list(session.execute(select(household_zones)).all())
        assignments = set(session.execute(select(worker_zones)).all())
        groups = list(session.scalars(select(Group)))
        speakers = list(session.scalars(select(Loudspeaker)))
    villages = {z.id: z for z in zones.values() if z.kind == ZoneKind.village}

    hazards = {z.id: z for z in zones.values() if z.kind == ZoneKind.hazard}
    assert {z.hazard_type for z in hazards.values()} == set(HazardType)
    linked = Counter(zone_id for _, zone_id in links)
    assert set(linked) == set(hazards), "every hazard zone has households, only hazard zones"
    assert 0.2 <= len({hid for hid, _ in links}) / len(households) <= 0.7

    wechat = {g.zone_id: g for g in groups if g.kind == GroupKind.wechat}
    for household in households:
        assert household.worker_id is not None
        worker = workers[household.worker_id]
        assert worker.role == WorkerRole.field
        assert (worker.id, household.grid_id) in assignments
        village_id = zones[household.grid_id].parent_id
        assert household.group_id == wechat[village_id or 0].id
    roles = Counter(w.role for w in workers.values())
    grids = sum(z.kind == ZoneKind.grid for z in zones.values())
    assert roles == {WorkerRole.field: grids, WorkerRole.lead: 12, WorkerRole.operator: 12}
    assert {w for w, _ in assignments} == set(workers)
    for worker_id, zone_id in assignments:
        expected = (
            ZoneKind.grid if workers[worker_id].role == WorkerRole.field else ZoneKind.village
        )
        assert zones[zone_id].kind == expected

    kinds = Counter(g.kind for g in groups)
    assert kinds == {GroupKind.wecom: 12, GroupKind.wechat: 12, GroupKind.qq: 4}
    assert len({g.code for g in groups}) == len(groups)
    for group in groups:
        assert group.zone_id in villages
        owner = workers[group.owner_worker_id or 0]
        assert owner.role == WorkerRole.lead
        assert (owner.id, group.zone_id) in assignments
        assert 0 < group.member_count <= 500
        assert (group.webhook_key is not None) == (group.kind == GroupKind.wecom)

    assert Counter(s.zone_id for s in speakers) == dict.fromkeys(villages, 2)
    for speaker in speakers:
        operator = workers[speaker.operator_worker_id or 0]
        assert operator.role == WorkerRole.operator
        assert (operator.id, speaker.zone_id) in assignments
        assert re.fullmatch(re.escape(villages[speaker.zone_id].name) + r"[12]号喇叭", speaker.name)


def first_household(db: Database) -> tuple[str, str, str]:
    with db.transaction() as session:
        row = session.execute(
            select(Household.code, Household.head_name, Person.phone)
            .join(Person, Person.household_id == Household.id)
            .order_by(Household.id, Person.position)
            .limit(1)
        ).one()
    return row.code, row.head_name, row.phone


def test_the_same_seed_gives_the_same_district_and_another_seed_another(db: Database) -> None:
    generate_district(db, households=2000)
    first = digest(db)
    # Pinned: the default seed must give the same district on every machine and run.
    assert first_household(db) == ("T01V01G001-0001", "苏宏思", "+8617402529670")

    truncate_all(db)
    generate_district(db, households=2000)
    assert digest(db) == first

    truncate_all(db)
    generate_district(db, households=2000, seed=7)
    assert digest(db) != first
    code, head, phone = first_household(db)
    assert code == "T01V01G001-0001"
    assert (head, phone) != ("苏宏思", "+8617402529670")


def test_chunking_does_not_change_the_data(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    generate_district(db, households=2000)
    whole = digest(db)
    truncate_all(db)
    monkeypatch.setattr(demo_district, "CHUNK_HOUSEHOLDS", 300)
    calls: list[tuple[int, int]] = []

    generate_district(db, households=2000, progress=lambda done, total: calls.append((done, total)))

    assert digest(db) == whole
    assert len(calls) >= 6
    assert all(total == 2000 for _, total in calls)
    done = [d for d, _ in calls]
    assert done == sorted(set(done))
    assert done[-1] == 2000


def test_a_second_call_reuses_the_district_and_changes_nothing(db: Database) -> None:
    built = generate_district(db, households=2000)
    before = digest(db)
    with db.transaction() as session:
        counts = table_counts(session)
        stamps = latest_stamps(session)
    calls: list[tuple[int, int]] = []

    again = generate_district(db, households=2000, progress=lambda d, t: calls.append((d, t)))

    assert built.created
    assert not again.created
    assert again == DistrictSummary(**{**built.__dict__, "created": False})
    assert calls == [(2000, 2000)]
    assert digest(db) == before
    with db.transaction() as session:
        assert table_counts(session) == counts
        assert latest_stamps(session) == stamps


def test_another_size_or_seed_conflicts_instead_of_mixing(db: Database) -> None:
    generate_district(db, households=300)
    before = digest(db)

    with pytest.raises(DistrictConflict, match="300 households"):
        generate_district(db, households=400)
    with pytest.raises(DistrictConflict, match="another seed"):
        generate_district(db, households=300, seed=1)

    assert digest(db) == before


def test_clashing_zone_codes_conflict(db: Database) -> None:
    with db.transaction() as session:
        factories.zone(session, code="T02", kind=ZoneKind.township, name="别的镇")

    with pytest.raises(DistrictConflict, match="T02"):
        generate_district(db, households=100)

    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Zone)) == 1


def test_ids_follow_existing_rows_and_later_orm_inserts_do_not_collide(db: Database) -> None:
    with db.transaction() as session:
        tree = factories.zone_tree(session)
        factories.household(session, grid=tree["G1"])
        factories.worker(session)
        before = {m.__tablename__: session.scalar(select(func.max(m.id))) or 0
                  for m in ALL_TABLES}  # fmt: skip

    generate_district(db, households=500)

    with db.transaction() as session:
        district = session.scalars(select(Zone).where(Zone.code == "DEMO")).one()
        assert district.id == before["zones"] + 1
        assert district.path == f"/{district.id}/"
        grid = session.scalars(select(Zone).where(Zone.kind == ZoneKind.grid)
                               .order_by(Zone.id.desc()).limit(1)).one()  # fmt: skip
        village = session.get(Zone, grid.parent_id)
        assert village is not None
        assert grid.path == f"{village.path}{grid.id}/"
        first = session.scalars(select(Household).where(Household.code == "T01V01G001-0001")).one()
        assert first.id == before["households"] + 1
        generated = {m.__tablename__: session.scalar(select(func.max(m.id))) or 0
                     for m in ALL_TABLES}  # fmt: skip

    # Plain ORM inserts after generation draw ids from the (PostgreSQL) sequences.
    with db.transaction() as session:
        zone = factories.zone(session, code="NEW-GRID", kind=ZoneKind.grid, parent=grid)
        household = factories.household(session, grid=zone)
        worker = factories.worker(session)
        group = Group(code="NEW-GROUP", name="新群", kind=GroupKind.wechat, zone_id=zone.id)
        speaker = Loudspeaker(code="NEW-LS", name="新喇叭", zone_id=zone.id)
        session.add_all([group, speaker])
        session.flush()
        new = {
            "zones": zone.id,
            "households": household.id,
            "people": household.people[0].id,
            "workers": worker.id,
            "groups": group.id,
            "loudspeakers": speaker.id,
        }
    assert all(new[t] > generated[t] for t in new), (new, generated)


def test_tiny_districts_work_and_bad_sizes_are_refused(db: Database) -> None:
    summary = generate_district(db, households=5)

    assert summary.households == 5
    assert summary.grids == 12
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Household)) == 5
    assert generate_district(db, households=5).created is False
    with pytest.raises(ValueError, match="households"):
        generate_district(db, households=0)
