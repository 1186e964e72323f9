"""The audit trail of an alert or a user, and sign-ins, as JSON, CSV and XLSX."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from broadcaster.auth.audit import Actor, record
from broadcaster.auth.models import Role, User
from broadcaster.db.database import Database
from tests.api_fixtures import auth


def _seed(db: Database) -> int:
    with db.transaction() as session:
        officer = session.scalar(select(User).where(User.username == "u-officer"))
        assert officer is not None
        who = Actor("user:u-officer/key:2", "10.1.2.3")
        record(session, actor=who, action="alert.issue", object_type="alert", object_id=7)
        record(
            session,
            actor=Actor("resident"),
            action="household.confirm",
            object_type="recipient",
            object_id=3,
            alert_id=7,
            answer="safe",
        )
        record(session, actor=who, action="alert.issue", object_type="alert", object_id=8)
        record(
            session,
            actor=Actor("cli"),
            action="user.password",
            object_type="user",
            object_id=officer.id,
        )
        return officer.id


def test_alert_trail_lists_the_alert_and_its_parts(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    _seed(db)
    answer = client.get("/api/v1/audit/alerts/7", headers=auth(role_keys[Role.officer]))
    assert answer.status_code == 200, answer.text
    rows = answer.json()
    assert [r["action"] for r in rows] == ["alert.issue", "household.confirm"]
    assert all(len(r["hash"]) == 64 for r in rows)
    feed = client.get("/api/v1/audit/alerts/7", headers=auth(role_keys[Role.feed]))
    assert feed.status_code == 403


def test_user_trail_is_admin_only_and_complete(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    officer_id = _seed(db)
    answer = client.get(f"/api/v1/audit/users/{officer_id}", headers=auth(role_keys[Role.admin]))
    assert answer.status_code == 200, answer.text
    actions = [r["action"] for r in answer.json()]
    assert actions.count("alert.issue") == 2
    assert "user.password" in actions
    assert "user.create" in actions
    officer = client.get(f"/api/v1/audit/users/{officer_id}", headers=auth(role_keys[Role.officer]))
    assert officer.status_code == 403
    assert (
        client.get("/api/v1/audit/users/99999", headers=auth(role_keys[Role.admin])).status_code
        == 404
    )


def test_exports_have_chinese_headers(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    _seed(db)
    officer = auth(role_keys[Role.officer])
    csv = client.get("/api/v1/audit/alerts/7?format=csv", headers=officer)
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("序号 seq,时间（北京时间） at,操作人 actor")
    assert len(lines) == 3
    assert "household.confirm" in lines[2]
    xlsx = client.get("/api/v1/audit/alerts/7?format=xlsx", headers=officer)
    assert "attachment" in xlsx.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    values = list(sheet.values)
    assert values[0][2] == "操作人 actor"
    assert values[1][3] == "alert.issue"
    assert len(values) == 3
