"""Shelters (安置点): registered by API (audited, idempotent on the code), imported from a sheet
by API and CLI with every bad row reported, listed for field workers with occupancy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from broadcaster.auth.models import AuditEvent, Role
from broadcaster.db.database import Database
from broadcaster.registry.models import Shelter
from tests.api_fixtures import auth
from tests.cli import run_cli
from tests.factories import registry as f

URL = "/api/v1/registry/shelters"
SHEET = "\n".join([
    "安置点登记表",
    "安置点编号,安置点名称,所属区域编号,可容纳人数,地址,启用",
    "AZ01,一村小学,V1,120,一村学校路1号,是",
    "AZ02,一镇中学,T1,300,,",
    "AZ03,旧礼堂,V1,40,,否",
    "BAD1,未知区域,V9,10,,",
    "BAD2,人数不对,V1,很多,,",
    "BAD3,风险区,H1,10,,",
    ",无编号,V1,10,,",
])  # fmt: skip


def shelters(db: Database) -> dict[str, tuple[Any, ...]]:
    with db.read() as session:
        rows = session.scalars(select(Shelter).order_by(Shelter.code))
        return {s.code: (s.name, s.capacity, s.active) for s in rows}


def test_register_update_and_refuse(
    client: TestClient, db: Database, role_keys: dict[Role, str]
) -> None:
    with db.transaction() as session:
        f.zone_tree(session)
    officer = auth(role_keys[Role.officer])
    body = {"code": "AZ01", "name": "一村小学", "zone": "V1", "capacity": 120}
    made = client.post(URL, json=body, headers=officer)
    assert made.status_code == 201, made.text
    assert made.json()["zone_name"] == "一村"
    again = client.post(URL, json={**body, "capacity": 150}, headers=officer)
    assert again.status_code == 200
    assert again.json()["capacity"] == 150
    for bad, field in (
        ({**body, "zone": "V9"}, "zone"),
        ({**body, "zone": "H1"}, "zone"),
        ({**body, "capacity": -1}, "capacity"),
        ({**body, "capacity": 10**7}, "capacity"),
        ({**body, "name": "\u202e"}, "name"),
        ({**body, "code": "x" * 65}, "code"),
        ({**body, "extra": 1}, "extra"),
    ):
        refused = client.post(URL, json=bad, headers=officer)
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["field"] == field
    assert shelters(db) == {"AZ01": ("一村小学", 150, True)}
    with db.read() as session:
        actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-2:] == ["shelter.create", "shelter.update"]
    listed = client.get(URL, headers=auth(role_keys[Role.field]))
    assert listed.status_code == 200
    assert listed.json()[0]["occupancy"] == 0
    feed = client.post(URL, json=body, headers=auth(role_keys[Role.feed]))
    assert feed.status_code == 403


def test_import_by_api_and_cli(
    client: TestClient, db: Database, role_keys: dict[Role, str], tmp_path: Path
) -> None:
    with db.transaction() as session:
        f.zone_tree(session)
    files = {"file": ("安置点.csv", SHEET.encode("gb18030"), "text/csv")}
    answer = client.post(f"{URL}/import", files=files, headers=auth(role_keys[Role.admin]))
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["created"], report["rejected"], report["total_rows"]) == (3, 4, 7)
    problems = {(p["row"], p["column"].split()[-1]) for p in report["problems"]}
    assert problems == {(6, "zone"), (7, "capacity"), (8, "zone"), (9, "code")}
    assert shelters(db) == {
        "AZ01": ("一村小学", 120, True),
        "AZ02": ("一镇中学", 300, True),
        "AZ03": ("旧礼堂", 40, False),
    }
    path = tmp_path / "安置点.csv"
    path.write_text(SHEET.replace("AZ02,一镇中学,T1,300", "AZ02,一镇中学,T1,350"), "utf-8")
    out = run_cli(db.url, tmp_path, "import", "--shelters", str(path), "--json")
    assert '"updated":1' in out
    assert '"unchanged":2' in out
    assert shelters(db)["AZ02"] == ("一镇中学", 350, True)
    active = client.get(URL, params={"active": True}, headers=auth(role_keys[Role.field]))
    assert [s["code"] for s in active.json()] == ["AZ01", "AZ02"]
