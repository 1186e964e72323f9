"""Group import through the API: a GB18030 CSV with Chinese headers; good rows applied, every
bad row reported with row, column and reason; importing again changes nothing."""

from __future__ import annotations

import io
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import select

from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.registry.models import Group, GroupKind
from tests.api_fixtures import auth
from tests.factories import registry as f

URL = "/api/v1/registry/groups/import"
HEADER = "序号,群编号,群名称,类型,所属区域编号,群主手机,群成员数,机器人密钥"


def seed(db: Database) -> str:
    """The zone tree and a worker whose phone owns a group in the file."""
    with db.transaction() as session:
        f.zone_tree(session)
        return f.worker(session, name="王网格").phone


def upload(client: TestClient, key: str, text: str) -> Any:
    files = {"file": ("群登记表.csv", text.encode("gb18030"), "text/csv")}
    return client.post(URL, files=files, headers=auth(key))


def groups(db: Database) -> dict[str, tuple[Any, ...]]:
    with db.read() as session:
        rows = session.scalars(select(Group).order_by(Group.code)).all()
        return {
            g.code: (g.name, g.kind, g.owner_worker_id is not None, g.owner_phone, g.member_count)
            for g in rows
        }


def test_good_rows_are_applied_bad_rows_reported_and_a_second_import_changes_nothing(
    client: TestClient, db: Database, role_keys: dict[Role, str]
) -> None:
    worker_phone = seed(db)
    text = "\n".join([
        "一村群登记表",  # a title row above the header is skipped
        HEADER,
        f"1,WC1,一村居民群,微信,V1,{worker_phone},120,",
        "2,QQ1,一村防汛QQ群,QQ,G1,13800138000,40,",
        "3,WE1,一村工作群,企业微信,V1,,15,robot-key-0123",
        "4,BAD1,坏类型群,钉钉,V1,13800138000,10,",
        "5,BAD2,未知区域群,微信,V9,13800138000,10,",
        "6,BAD3,无群主群,微信,V1,,10,",
        "7,BAD4,坏号码群,QQ,V1,12345,10,",
        "8,BAD5,人数不对,微信,V1,13800138000,很多,",
        "9,BAD6,无密钥,企业微信,V1,,10,",
    ])  # fmt: skip
    admin = role_keys[Role.admin]
    answer = upload(client, admin, text)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["created"], report["rejected"], report["total_rows"]) == (3, 6, 9)
    problems = {(p["row"], p["column"].split()[-1]) for p in report["problems"]}
    assert problems == {
        (6, "kind"), (7, "zone"), (8, "owner"), (9, "owner"), (10, "member_count"),
        (11, "webhook_key"),
    }  # fmt: skip
    assert all("/" in p["reason"] for p in report["problems"])  # Chinese / English
    saved = groups(db)
    assert set(saved) == {"WC1", "QQ1", "WE1"}
    assert saved["WC1"] == ("一村居民群", GroupKind.wechat, True, None, 120)  # the worker owns it
    assert saved["QQ1"] == ("一村防汛QQ群", GroupKind.qq, False, "+8613800138000", 40)

    again = upload(client, admin, text).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)
    assert groups(db) == saved
    renamed = upload(client, admin, HEADER + "\n1,QQ1,一村防汛QQ群（新）,QQ,G1,13800138000,45,")
    assert renamed.json()["updated"] == 1
    assert groups(db)["QQ1"][0::4] == ("一村防汛QQ群（新）", 45)


def test_unreadable_files_and_other_roles_change_nothing(
    client: TestClient, db: Database, role_keys: dict[Role, str]
) -> None:
    seed(db)
    admin = role_keys[Role.admin]
    no_header = upload(client, admin, "a,b,c\n1,2,3")
    assert no_header.status_code == 422
    assert no_header.json()["field"] == "file"
    assert upload(client, admin, HEADER).status_code == 422  # no data rows
    good = HEADER + "\n1,WC1,一村居民群,微信,V1,13800138000,120,"
    assert upload(client, role_keys[Role.officer], good).status_code == 403
    assert groups(db) == {}


def test_a_spreadsheet_with_number_cells_imports(
    client: TestClient, db: Database, role_keys: dict[Role, str]
) -> None:
    seed(db)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["group_code", "name", "kind", "zone", "owner_phone", "members"])
    sheet.append(["QQ7", "七组QQ群", "qq", "G2", 13800138000, 88.0])  # numbers as Excel has them
    data = io.BytesIO()
    book.save(data)
    files = {"file": ("groups.xlsx", data.getvalue(), "application/octet-stream")}
    answer = client.post(URL, files=files, headers=auth(role_keys[Role.admin]))
    assert answer.status_code == 200, answer.text
    assert answer.json()["created"] == 1
    assert groups(db)["QQ7"] == ("七组QQ群", GroupKind.qq, False, "+8613800138000", 88)
