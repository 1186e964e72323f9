"""Import of households without a phone (flagged 无电话) and with proxy contacts (代联系人 /
代联系人电话 / 关系 / 代为确认): accepted, updated in place, and every bad row still reported."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from broadcaster.db.database import Database
from broadcaster.errors import ValidationFailed
from broadcaster.registry.models import Household, Person, PhoneKind, Proxy
from tests.factories.import_files import csv_bytes, xlsx_bytes
from tests.factories.registry import zone_tree
from tests.integration.test_import import run_import

HEADER = (
    "户编号",
    "户主姓名",
    "地址",
    "所属网格",
    "联系电话",
    "重点人群",
    "代联系人 proxy_name",
    "代联系人电话",
    "关系 relation",
    "may_confirm",
)


def row(code: str, phones: str = "", *proxy: str, grid: str = "G1", flags: str = "") -> list[str]:
    cells = [*proxy, "", "", "", ""][:4]
    return [code, f"户主{code}", f"一村{code}号", grid, phones, flags, *cells]


GOOD = [
    row("N1", "", "张小明", "13700137001", "儿子", "是", flags="独居老人"),
    row("N2", "无", "张小明；李邻居", "13700137001；023-86010701", "儿子；邻居", "是；否"),
    row("N3", "13800138003"),
]
BAD = [
    row("X1", "", "张小明；李邻居", "13700137001"),  # two proxies, one phone
    row("X2", "13800138004", "王代", "12345"),  # not a number
    row("X3", "", "王代", "13700137002", "女儿", "也许"),  # neither yes nor no
    row("X4", "", "甲；乙", "13700137003；13700137004", "儿子；女儿；邻居"),  # 3 relations for 2
    row("X5", "", grid="G9"),  # no phone is fine, the grid is not
]


def proxies(db: Database) -> dict[str, list[tuple[str, str, PhoneKind, str, bool]]]:
    with db.read() as session:
        found: dict[str, list[tuple[str, str, PhoneKind, str, bool]]] = {}
        for code, p in session.execute(
            select(Household.code, Proxy)
            .join(Proxy, Proxy.household_id == Household.id)
            .order_by(Household.code, Proxy.position)
        ):
            found.setdefault(code, []).append(
                (p.name, p.phone, p.phone_kind, p.relation, p.may_confirm)
            )
        return found


def people(db: Database) -> dict[str, list[tuple[str | None, str | None, bool]]]:
    with db.read() as session:
        found: dict[str, list[tuple[str | None, str | None, bool]]] = {}
        for code, p in session.execute(
            select(Household.code, Person)
            .join(Person, Person.household_id == Household.id)
            .order_by(Household.code, Person.active.desc(), Person.position)
        ):
            found.setdefault(code, []).append((p.name, p.phone, p.active))
        return found


def test_households_without_a_phone_and_with_proxies_are_imported_bad_rows_reported(
    db: Database,
) -> None:
    with db.transaction() as session:
        zone_tree(session)
    report = run_import(db, xlsx_bytes([*GOOD, *BAD], header=HEADER), "households.xlsx")

    assert (report.created, report.rejected, report.total_rows) == (3, 5, 8)
    found = {(p.row, p.column): p.reason for p in report.problems}
    assert set(found) == {
        (5, "proxy_phone"),
        (6, "proxy_phone"),
        (7, "proxy_may_confirm"),
        (8, "proxy_relation"),
        (9, "grid_code"),
    }
    assert "须一一对应" in found[5, "proxy_phone"]
    assert "无效电话号码" in found[6, "proxy_phone"]
    assert "是" in found[7, "proxy_may_confirm"]
    assert all(" / " in reason for reason in found.values())
    assert any("2 户没有任何电话" in warning for warning in report.warnings)

    assert people(db) == {
        "N1": [("户主N1", None, True)],  # the head, without a phone
        "N2": [("户主N2", None, True)],
        "N3": [("户主N3", "+8613800138003", True)],
    }
    son = ("张小明", "+8613700137001", PhoneKind.mobile, "儿子", True)
    assert proxies(db) == {
        "N1": [son],
        "N2": [son, ("李邻居", "+862386010701", PhoneKind.landline, "邻居", False)],
    }
    with db.read() as session:  # nothing of the bad rows
        assert session.scalar(select(func.count()).select_from(Household)) == 3
        assert session.scalar(select(func.count()).select_from(Proxy)) == 3

    # Again, N1 now with a phone and no proxies: the placeholder head retires, proxies go.
    again = [row("N1", "13800138001", flags="独居老人"), *GOOD[1:]]
    report = run_import(db, csv_bytes(again, header=HEADER))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    assert people(db)["N1"] == [("户主N1", "+8613800138001", True), ("户主N1", None, False)]
    assert "N1" not in proxies(db)

    # and back to no phone: the member with the phone is retired, the head without one is back
    report = run_import(db, csv_bytes([row("N1", "", flags="独居老人")], header=HEADER))
    assert (report.updated, report.rejected) == (1, 0)
    assert people(db)["N1"] == [("户主N1", None, True), ("户主N1", "+8613800138001", False)]

    # A file without the proxy columns leaves the proxies as they are.
    plain = [line[:6] for line in GOOD[1:2]]
    report = run_import(db, csv_bytes(plain, header=HEADER[:6]))
    assert (report.unchanged, report.rejected) == (1, 0)
    assert len(proxies(db)["N2"]) == 2


def test_a_proxy_name_column_needs_the_phone_column(db: Database) -> None:
    with db.transaction() as session:
        zone_tree(session)
    header = (*HEADER[:7],)
    data = csv_bytes([line[:7] for line in GOOD], header=header)
    with pytest.raises(ValidationFailed, match="代联系人电话") as refused:
        run_import(db, data)
    assert refused.value.field == "file"
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Household)) == 0
