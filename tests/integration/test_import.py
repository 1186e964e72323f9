"""Household import on SQLite and PostgreSQL: good rows land, bad rows are reported."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.auth.audit import Actor
from broadcaster.auth.models import AuditEvent
from broadcaster.db.database import Database
from broadcaster.errors import ValidationFailed
from broadcaster.registry.importer import ImportReport, import_households
from broadcaster.registry.models import Household, Person, PhoneKind, Worker, WorkerRole
from tests.factories.import_files import (
    HEADER,
    Cell,
    csv_bytes,
    group,
    household_row,
    worker,
    xlsx_bytes,
)
from tests.factories.registry import zone_tree

ADMIN = Actor("admin", source_ip="10.0.0.8")


def setup_registry(db: Database) -> None:
    with db.transaction() as session:
        zone_tree(session)
        group(session, code="WX01")
        worker(session, name="张网格", phone="+8613900139000")


def run_import(db: Database, data: bytes, filename: str = "households.csv") -> ImportReport:
    with db.transaction() as session:
        return import_households(session, data=data, filename=filename, actor=ADMIN)


def count(session: Session, model: type[object]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def by_code(session: Session, code: str) -> Household:
    household = session.scalars(select(Household).where(Household.code == code)).one()
    return household


GOOD_AND_BAD = [
    household_row(
        "A1",
        phones="13800138000；023-86010708",
        hazard_zones="H1",
        vulnerability="独居老人、残疾人",
        worker_name="张网格",
        worker_phone="139-0013-9000",
        lon="106.55",
        lat="29.56",
        group_code="WX01",
    ),
    household_row("B1", grid_code="G9"),
    household_row("A2", phones="１３９ ００１３ ８００１", grid_code="G2"),
    household_row(
        "B2", phones="13800138000；12345", vulnerability="精神病", worker_name="新网格员"
    ),
    household_row("B3", head_name="", address="", grid_code="H1", hazard_zones="H1、G1"),
    household_row("A1", head_name="重复"),
    household_row("B4", worker_phone="13700137000", lon="200", group_code="WX99"),
    # no phone is no problem (a household without one); the rest of the row is
    household_row("B5", lat="29.5", phones="", worker_name="另一个", worker_phone="137001"),
    household_row(
        "A3",
        phones=" 023-86010709 ",
        worker_name="新网格员",
        worker_phone="13600136000",
        vulnerability="无",
    ),
]


def test_good_rows_are_imported_and_every_bad_row_is_reported(db: Database) -> None:
    setup_registry(db)
    blank: list[Cell] = [""] * len(HEADER)
    rows = [*GOOD_AND_BAD[:3], blank, *GOOD_AND_BAD[3:]]  # a blank row (5) is skipped
    report = run_import(db, csv_bytes(rows))

    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    assert (report.rejected, report.total_rows) == (6, 9)
    found = {(p.row, p.column, p.value): p.reason for p in report.problems}
    expected = {
        (3, "grid_code", "G9"): "未知网格编号 / unknown grid code",
        (6, "phones", "12345"): "无效电话号码",
        (6, "vulnerability", "精神病"): "未知重点人群类型",
        (6, "worker_phone", ""): "填写了包保责任人但缺少电话",
        (7, "head_name", ""): "必填 / required",
        (7, "address", ""): "必填 / required",
        (7, "grid_code", "H1"): "该编号不是网格",
        (7, "hazard_zones", "G1"): "该编号不是风险区",
        (8, "household_code", "A1"): "与第 2 行户编号重复 / duplicate of row 2",
        (9, "worker_name", ""): "填写了包保责任人电话但缺少姓名",
        (9, "lon", "200"): "超出范围",
        (9, "lat", ""): "经纬度须同时填写",
        (9, "group_code", "WX99"): "未知微信群编号 / unknown group code",
        (10, "worker_phone", "137001"): "无效电话号码",
        (10, "lon", ""): "经纬度须同时填写",
    }
    assert set(found) == set(expected)
    for key, reason in expected.items():
        assert reason in found[key], (key, found[key])
        assert " / " in found[key]

    with db.sessions() as session:
        assert sorted(session.scalars(select(Household.code))) == ["A1", "A2", "A3"]
        # Nothing of the rejected rows: no "重复" head, no worker 新网格员 from row 6 only…
        assert count(session, Person) == 4
        workers = {w.phone: w for w in session.scalars(select(Worker))}
        assert set(workers) == {"+8613900139000", "+8613600136000"}
        assert workers["+8613600136000"].name == "新网格员"
        assert workers["+8613600136000"].role is WorkerRole.field

        a1 = by_code(session, "A1")
        assert a1.head_name == "王大爷"
        assert a1.grid.code == "G1"
        assert [z.code for z in a1.hazard_zones] == ["H1"]
        assert a1.vulnerability == ["elderly_alone", "disabled"]
        assert a1.is_vulnerable is True
        assert a1.worker is not None
        assert a1.worker.phone == "+8613900139000"
        assert a1.group_id is not None
        assert (a1.lon, a1.lat) == (106.55, 29.56)
        people = [(p.position, p.phone, p.phone_kind, p.name, p.active) for p in a1.people]
        assert people == [
            (0, "+8613800138000", PhoneKind.mobile, "王大爷", True),
            (1, "+862386010708", PhoneKind.landline, None, True),
        ]
        a2 = by_code(session, "A2")
        assert [p.phone for p in a2.people] == ["+8613900138001"]
        assert (a2.vulnerability, a2.is_vulnerable, a2.worker_id) == ([], False, None)
        a3 = by_code(session, "A3")
        assert [(p.phone, p.phone_kind) for p in a3.people] == [
            ("+862386010709", PhoneKind.landline)
        ]
        assert a3.worker is not None
        assert a3.worker.name == "新网格员"
        assert a3.is_vulnerable is False


def test_one_audit_event_with_the_counts(db: Database) -> None:
    setup_registry(db)
    run_import(db, csv_bytes(GOOD_AND_BAD))
    with db.sessions() as session:
        events = list(session.scalars(select(AuditEvent)))
    assert len(events) == 1
    event = events[0]
    assert (event.actor, event.action, event.source_ip) == ("admin", "registry.import", "10.0.0.8")
    assert event.detail["filename"] == "households.csv"
    assert {k: event.detail[k] for k in ("created", "updated", "unchanged", "rejected")} == {
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "rejected": 6,
    }
    assert event.detail["total_rows"] == 9


def test_import_does_not_commit(db: Database) -> None:
    setup_registry(db)
    with db.sessions() as session:
        report = import_households(
            session, data=csv_bytes(GOOD_AND_BAD[:1]), filename="a.csv", actor=ADMIN
        )
        assert report.created == 1
        assert count(session, Household) == 1
        session.rollback()
    with db.sessions() as session:
        assert count(session, Household) == 0
        assert count(session, AuditEvent) == 0


def test_xlsx_with_title_row_numeric_cells_and_blank_rows(db: Database) -> None:
    setup_registry(db)
    empty: list[Cell] = [None] * len(HEADER)
    rows = [
        household_row("X1", phones=13800138000, lon=106.5, lat=29.5),
        empty,
        household_row("X2", phones=13800138001.0, grid_code="G2", vulnerability="卧床"),
        household_row("X3", phones=123.0),
        household_row(1001, phones="13800138002"),
    ]
    data = xlsx_bytes(rows, title_row="一村住户信息登记表")
    report = run_import(db, data, filename="一村.xlsx")
    assert (report.created, report.rejected, report.total_rows) == (3, 1, 4)
    # Title row 1, header row 2, X1 row 3, blank row 4, X2 row 5, X3 row 6.
    assert [(p.row, p.column, p.value) for p in report.problems] == [(6, "phones", "123")]
    with db.sessions() as session:
        assert [p.phone for p in by_code(session, "X1").people] == ["+8613800138000"]
        x2 = by_code(session, "X2")
        assert [p.phone for p in x2.people] == ["+8613800138001"]
        assert x2.vulnerability == ["bedridden"]
        assert by_code(session, "1001").head_name == "王大爷"
        assert (by_code(session, "X1").lon, by_code(session, "X1").lat) == (106.5, 29.5)


def test_gb18030_csv_with_chinese_header_only(db: Database) -> None:
    setup_registry(db)
    header = ["地址", "户主姓名", "联系电话", "户编号", "所属网格", "重点人群", "备注"]
    rows = [
        [
            "龙溪街道嘉州路18号",
            "欧阳淑珍",
            "13800138000、13900139000",
            "GB1",
            "G1",
            "孤寡老人",
            "腿脚不便",
        ],
        ["", "", "", "", "", "", "只有备注的行"],  # nothing in a known column: skipped
    ]
    data = csv_bytes(rows, header=header, encoding="gb18030")
    report = run_import(db, data)
    assert (report.created, report.rejected, report.total_rows) == (1, 0, 1)
    assert any("备注" in warning for warning in report.warnings)
    with db.sessions() as session:
        household = by_code(session, "GB1")
        assert (household.head_name, household.address) == ("欧阳淑珍", "龙溪街道嘉州路18号")
        assert household.vulnerability == ["elderly_alone"]
        assert [p.phone for p in household.people] == ["+8613800138000", "+8613900139000"]
    with db.sessions() as session:
        event = session.scalars(select(AuditEvent)).one()
        assert event.detail["encoding"] == "gb18030"


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"", "x.csv", "文件是空的"),
        (csv_bytes([], header=["户编号", "地址"]), "x.csv", "户主姓名 head_name"),
        (csv_bytes([]), "x.csv", "没有数据行"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), "x.xls", ".xls"),
        (b"name,tel\nx,1\n", "x.csv", "找不到表头"),
    ],
)
def test_unreadable_files_raise_and_change_nothing(
    db: Database, data: bytes, filename: str, message: str
) -> None:
    setup_registry(db)
    with pytest.raises(ValidationFailed, match=message) as info, db.transaction() as session:
        import_households(session, data=data, filename=filename, actor=ADMIN)
    assert info.value.field == "file"
    with db.sessions() as session:
        assert count(session, AuditEvent) == 0


def test_unknown_region_is_refused(db: Database) -> None:
    with pytest.raises(ValidationFailed) as info, db.transaction() as session:
        import_households(session, data=csv_bytes([]), filename="x.csv", actor=ADMIN, region="XX")
    assert info.value.field == "region"
