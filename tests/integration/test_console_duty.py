"""The console's situation report, duty and audit pages: the figures of the district, the
handover form posted with the session (CSRF), who may acknowledge, trails in Chinese."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select

from broadcaster.auth.models import User
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.settings import Settings
from tests.integration.console_support import login, users
from tests.integration.situation_support import seed, work_the_district


def test_situation_page_shows_the_district_and_its_people(
    client: TestClient, db: Database, settings: Settings
) -> None:
    district = seed(db, settings)
    work_the_district(client, db, district)
    users(db)
    login(client, "officer")
    page = client.get(f"/console/alerts/{district.alert_id}/situation?unit=一镇人民政府").text
    assert "防汛预警到户及灾情核查报送表" in page
    assert "填报单位（盖章）：一镇人民政府" in page
    assert '<td data-figure="targeted">9</td>' in page
    assert '<td data-figure="people">10</td>' in page
    assert "二镇礼堂" in page
    assert "超员" in page  # 5 people in a hall for 4
    assert "unit=%E4%B8%80%E9%95%87" in page  # the XLSX link carries the unit
    assert "一村一网格" in page  # a few grids: all shown
    villages = client.get(f"/console/alerts/{district.alert_id}/situation?grids=0").text
    assert "一村一网格" not in villages
    assert "显示 3 个网格" in villages
    bad = client.get(f"/console/alerts/{district.alert_id}/situation?unit=%E2%80%AE")
    assert bad.status_code == 422
    english = client.get(f"/console/alerts/{district.alert_id}/situation?lang=en").text
    assert "Flood warning reach and situation report" in english
    assert "People evacuated" in english
    window = client.get("/console/situation?lang=zh-CN").text
    assert "统计时段" in window
    assert client.get("/console/situation?since=yesterday").status_code == 422


def test_handover_from_the_duty_page_and_who_may_take_it(
    client: TestClient, db: Database, settings: Settings
) -> None:
    users(db)
    token = login(client, "officer")
    now = utcnow()
    turn = {"username": "officer2", "post": "officer",
            "starts_at": (now + dt.timedelta(hours=1)).astimezone().isoformat(),
            "ends_at": (now + dt.timedelta(hours=9)).astimezone().isoformat()}  # fmt: skip
    made = client.post("/api/v1/shifts", json=turn, headers={"X-CSRF-Token": token})
    assert made.status_code == 201, made.text
    without = client.post("/api/v1/shifts/handover", json={"note": "x"})
    assert without.status_code == 403  # a session's write needs its CSRF token
    given = client.post(
        "/api/v1/shifts/handover",
        json={"note": "一村喇叭坏了，已报修。", "to": ""},  # the form's "by the roster"
        headers={"X-CSRF-Token": token},
    )
    assert given.status_code == 201, given.text
    assert given.json()["to_username"] == "officer2"
    hid = given.json()["id"]
    page = client.get("/console/duty").text
    assert "一村喇叭坏了，已报修。" in page
    assert f'data-api="/api/v1/shifts/handovers/{hid}/acknowledge"' not in page  # not mine
    assert "等待接班确认" in page
    board = client.get("/console").text
    assert "待接班确认的交班" in board
    client.cookies.clear()
    token = login(client, "officer2")
    assert (
        f'data-api="/api/v1/shifts/handovers/{hid}/acknowledge"' in client.get("/console/duty").text
    )
    taken = client.post(
        f"/api/v1/shifts/handovers/{hid}/acknowledge",
        json={"note": "已接班"},
        headers={"X-CSRF-Token": token},
    )
    assert taken.status_code == 200, taken.text
    client.cookies.clear()
    login(client, "admin")
    with db.read() as session:
        officer = session.scalars(select(User).where(User.username == "officer")).one()
    trail = client.get(f"/console/audit?user={officer.id}").text
    assert "交班" in trail
    assert "交接班" in trail
    assert client.get("/console/audit?alert=999").status_code == 404
    client.cookies.clear()
    login(client, "officer2")
    assert client.get(f"/console/audit?user={officer.id}").status_code == 403
