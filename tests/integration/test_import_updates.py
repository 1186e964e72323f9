"""Re-importing: idempotent on household_code, updates in place, people never deleted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.auth.audit import Actor
from broadcaster.db.database import Database
from broadcaster.registry.importer import ImportReport, import_households, service
from broadcaster.registry.importer.bulk import COPY_MIN_ROWS
from broadcaster.registry.models import (
    Household,
    Person,
    Worker,
    WorkerRole,
    Zone,
    household_zones,
)
from tests.factories.import_files import csv_bytes, group, household_row, xlsx_bytes
from tests.factories.registry import household, zone_tree

ADMIN = Actor("admin")


def setup_registry(db: Database) -> None:
    with db.transaction() as session:
        zones = zone_tree(session)
        group(session, code="WX01")
        # A stored household the file does not mention must be left alone.
        household(session, grid=zones["G2"], code="OLD1", phones=("+8613500135000",))


def run_import(db: Database, data: bytes, **kwargs: object) -> ImportReport:
    with db.transaction() as session:
        return import_households(session, data=data, filename="f.csv", actor=ADMIN, **kwargs)  # type: ignore[arg-type]


def snapshot(session: Session) -> dict[str, object]:
    households = session.execute(
        select(
            Household.code,
            Household.head_name,
            Household.address,
            Household.grid_id,
            Household.worker_id,
            Household.group_id,
            Household.vulnerability,
            Household.is_vulnerable,
            Household.lon,
            Household.lat,
            Household.updated_at,
        ).order_by(Household.code)
    ).all()
    people = session.execute(
        select(
            Person.id,
            Person.household_id,
            Person.position,
            Person.name,
            Person.phone,
            Person.phone_kind,
            Person.active,
            Person.updated_at,
        ).order_by(Person.id)
    ).all()
    zones = session.execute(select(household_zones).order_by(*household_zones.c)).all()
    workers = session.execute(select(Worker.id, Worker.phone, Worker.name)).all()
    return {"households": households, "people": people, "zones": zones, "workers": workers}


FULL = [
    household_row(
        "A1",
        phones="13800138000；13800138001；023-86010708",
        hazard_zones="H1",
        vulnerability="孕妇",
        worker_name="李网格",
        worker_phone="13700137000",
        lon="106.5",
        lat="29.5",
        group_code="WX01",
    ),
    household_row("A2", head_name="赵四", phones="13900139000"),
]


def test_reimporting_the_same_file_changes_nothing(db: Database) -> None:
    setup_registry(db)
    first = run_import(db, csv_bytes(FULL))
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    with db.sessions() as session:
        before = snapshot(session)
    again = run_import(db, xlsx_bytes(FULL))  # the same rows as xlsx
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 2, 0)
    with db.sessions() as session:
        assert snapshot(session) == before


def test_changed_row_updates_household_and_people(db: Database) -> None:
    setup_registry(db)
    run_import(db, csv_bytes(FULL))
    with db.sessions() as session:
        a1 = session.scalars(select(Household).where(Household.code == "A1")).one()
        ids = {p.phone: p.id for p in a1.people}
        a2_before = snapshot(session)["households"][1]  # type: ignore[index]
    changed = [
        household_row(
            "A1",
            head_name="李秀英",
            address="新址1号",
            grid_code="G2",
            phones="13800138001；13600136000",
            hazard_zones="",
            vulnerability="独居老人；地下室",
            worker_name="王网格",
            worker_phone="13700137001",
        ),
        FULL[1],
    ]
    report = run_import(db, csv_bytes(changed))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    with db.sessions() as session:
        a1 = session.scalars(select(Household).where(Household.code == "A1")).one()
        assert (a1.head_name, a1.address, a1.grid.code) == ("李秀英", "新址1号", "G2")
        assert a1.hazard_zones == []
        assert (a1.vulnerability, a1.is_vulnerable) == (["elderly_alone", "basement"], True)
        assert a1.worker is not None
        assert (a1.worker.name, a1.worker.phone) == ("王网格", "+8613700137001")
        # lon/lat and group columns were present and blank: cleared.
        assert (a1.lon, a1.lat, a1.group_id) == (None, None, None)
        people = {p.phone: (p.id, p.position, p.name, p.active) for p in a1.people}
        assert people == {
            "+8613800138001": (ids["+8613800138001"], 0, "李秀英", True),
            "+8613600136000": (people["+8613600136000"][0], 1, None, True),
            "+8613800138000": (ids["+8613800138000"], 0, "王大爷", False),
            "+862386010708": (ids["+862386010708"], 2, None, False),
        }
        assert snapshot(session)["households"][1] == a2_before  # type: ignore[index]
        assert session.scalar(select(func.count()).select_from(Worker)) == 2

    # A phone that comes back is the same person again, active.
    report = run_import(db, csv_bytes(FULL))
    assert report.updated == 1
    with db.sessions() as session:
        a1 = session.scalars(select(Household).where(Household.code == "A1")).one()
        assert {p.phone: (p.id, p.active) for p in a1.people if p.phone in ids} == {
            phone: (id_, True) for phone, id_ in ids.items()
        }
        assert [p.phone for p in a1.people if p.active] == list(ids)


def test_columns_missing_from_the_file_keep_stored_values(db: Database) -> None:
    setup_registry(db)
    run_import(db, csv_bytes(FULL))
    with db.sessions() as session:
        before = snapshot(session)
    header = ["户编号", "户主姓名", "地址", "所属网格", "联系电话"]
    rows = [[row[0], row[1], row[2], row[3], row[5]] for row in FULL]
    report = run_import(db, csv_bytes(rows, header=header))
    assert (report.updated, report.unchanged) == (0, 2)
    with db.sessions() as session:
        assert snapshot(session) == before


def test_batches_progress_cross_batch_duplicates_and_shared_workers(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_registry(db)
    monkeypatch.setattr(service, "BATCH_ROWS", 2)
    rows = [
        household_row(
            f"B{n}", phones=f"1380000{n:04d}", worker_name="共用网格员", worker_phone="13700137000"
        )
        for n in range(5)
    ]
    rows.append(household_row("B1", head_name="又一个B1"))
    calls: list[tuple[int, int]] = []
    report = run_import(
        db, csv_bytes(rows), progress=lambda done, total: calls.append((done, total))
    )
    assert calls == [(0, 6), (2, 6), (4, 6), (6, 6)]
    assert (report.created, report.rejected) == (5, 1)
    assert [(p.row, p.column, p.reason) for p in report.problems] == [
        (7, "household_code", "与第 3 行户编号重复 / duplicate of row 3")
    ]
    with db.sessions() as session:
        workers = list(session.scalars(select(Worker)))
        assert [(w.name, w.phone) for w in workers] == [("共用网格员", "+8613700137000")]
        worker_ids = set(
            session.scalars(select(Household.worker_id).where(Household.code.like("B%")))
        )
        assert worker_ids == {workers[0].id}


def test_existing_worker_found_by_normalised_phone_keeps_its_name(db: Database) -> None:
    setup_registry(db)
    run_import(
        db, csv_bytes([household_row("W1", worker_name="李网格", worker_phone="13700137000")])
    )
    report = run_import(
        db, csv_bytes([household_row("W2", worker_name="李四", worker_phone="+86 137-0013-7000")])
    )
    assert report.created == 1
    assert any("李网格" in warning for warning in report.warnings)
    with db.sessions() as session:
        assert [w.name for w in session.scalars(select(Worker))] == ["李网格"]


def test_bulk_path_leaves_id_sequences_usable(db: Database) -> None:
    setup_registry(db)
    n = COPY_MIN_ROWS + 20  # large enough for COPY on PostgreSQL
    rows = [
        household_row(
            f"S{i:03d}",
            phones=f"1380000{i:04d}；023-8601{i:04d}",
            hazard_zones="H1",
            vulnerability="独居老人、残疾" if i % 2 else "",
            worker_name=f"网格员{i}",
            worker_phone=f"1370000{i:04d}",
            lon=f"106.{i:03d}",
            lat="29.5",
        )
        for i in range(n)
    ]
    started = datetime.now(UTC)
    report = run_import(db, csv_bytes(rows))
    assert report.created == n
    # What the bulk path wrote reads back equal to what the file says.
    assert run_import(db, csv_bytes(rows)).unchanged == n
    with db.transaction() as session:
        grid = session.scalars(select(Household.grid_id).where(Household.code == "S000")).one()
        assert grid
        # Ordinary ORM inserts after the bulk insert get fresh ids, no clash.
        extra = household(session, grid=session.get_one(Zone, grid), code="AFTER")
        session.add(Worker(name="后来的", phone="+8613100131000", role=WorkerRole.field))
        session.flush()
        assert extra.id > max(
            session.scalars(select(Household.id).where(Household.code != "AFTER"))
        )
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 2 * n + 2
        assert session.scalar(select(func.count()).select_from(household_zones)) == n
        s5 = session.scalars(select(Household).where(Household.code == "S005")).one()
        assert [(p.position, p.phone) for p in s5.people] == [
            (0, "+8613800000005"),
            (1, "+862386010005"),
        ]
        assert s5.worker is not None
        assert s5.worker.name == "网格员5"
        assert (s5.vulnerability, s5.is_vulnerable) == (["elderly_alone", "disabled"], True)
        assert (s5.lon, s5.lat) == (106.005, 29.5)
        assert started <= s5.created_at <= datetime.now(UTC)
        assert s5.people[0].created_at == s5.created_at
