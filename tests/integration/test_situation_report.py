"""The situation report of a red alert with evacuations: per-zone rows add up to their parent
and to the alert's counts, people are counted once per household, the XLSX forms open with
Chinese headers, and a bad evacuation is refused naming its field with nothing changed."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from broadcaster.alerts.models import Recipient
from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.followup.models import VisitReport, VisitTask
from broadcaster.settings import Settings
from tests.api_fixtures import auth
from tests.integration.situation_support import outcome, seed, work_the_district

HOUSEHOLD_FIGURES = (
    "households_targeted", "households_pending", "households_reached", "households_confirmed",
    "households_needs_help", "households_unreachable", "households_visited", "visits_total",
    "visits_done", "households_evacuated", "people_evacuated", "vulnerable_targeted",
    "help_open",
)  # fmt: skip


def report(client: TestClient, alert_id: int, key: str, **params: Any) -> dict[str, Any]:
    answer = client.get(
        f"/api/v1/alerts/{alert_id}/situation-report", params=params, headers=auth(key)
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


# Alert-wide figures the zone rows do not carry.
UNROLLED = ("households_without_channel", "households_unaddressed")


def test_rows_add_up_to_the_alert_and_the_people_evacuated(
    client: TestClient, db: Database, settings: Settings, role_keys: dict[Role, str]
) -> None:
    district = seed(db, settings)
    work_the_district(client, db, district)
    officer = role_keys[Role.officer]
    found = report(client, district.alert_id, officer)
    counts = client.get(f"/api/v1/alerts/{district.alert_id}", headers=auth(officer)).json()
    total = found["total"]
    for name, value in counts["counts"].items():
        if name.startswith("households_") and name not in UNROLLED:
            assert total[name] == value, name
    assert total["households_targeted"] == 9
    assert total["households_evacuated"] == 4  # three at the door, one by SMS
    assert total["people_evacuated"] == 3 + 2 + 5
    assert (total["people_to_shelters"], total["people_to_relatives"]) == (8, 2)
    assert total["evacuated_uncounted"] == 1  # the SMS "已转移" says no number
    assert total["help_open"] == 2
    assert total["vulnerable_targeted"] == 5
    assert (total["loudspeakers_targeted"], total["loudspeakers_played"]) == (1, 1)

    rows = {r["code"]: r for r in found["rows"]}
    assert [r["code"] for r in found["rows"]] == ["D", "T1", "V1", "G1", "G2", "T2", "V2", "G3"]
    assert found["unit"] == "测试区"
    grids = [r for r in found["rows"] if r["kind"] == "grid"]
    for figure in HOUSEHOLD_FIGURES:
        assert sum(r[figure] for r in grids) == total[figure], figure
        assert rows["V1"][figure] == rows["G1"][figure] + rows["G2"][figure], figure
        assert rows["T1"][figure] == rows["V1"][figure], figure
        assert rows["D"][figure] == rows["T1"][figure] + rows["T2"][figure], figure
    assert rows["G3"]["people_evacuated"] == 5
    assert rows["V1"]["loudspeakers_played"] == 1  # counted where the loudspeaker is
    shelters = {s["name"]: s for s in found["shelters"]}
    assert (shelters["一村小学"]["people"], shelters["一村小学"]["occupancy"]) == (3, 3)
    assert shelters["二镇礼堂"]["people"] == 5
    assert shelters["二镇礼堂"]["over_capacity"] is True  # 5 people, room for 4
    listed = {v["state"] for v in found["vulnerable_not_final"]}
    assert listed <= {"pending", "reached", "unreachable"}
    # the alert's audit trail has every finding at its doors, the evacuations with their people
    trail = client.get(f"/api/v1/audit/alerts/{district.alert_id}", headers=auth(officer)).json()
    outcomes = [e for e in trail if e["action"] == "visit.outcome"]
    assert len(outcomes) == 5
    assert {e["action_name"] for e in outcomes} == {"记录上门结果"}
    assert sorted(e["detail"].get("people_moved") or 0 for e in outcomes) == [0, 2, 3, 4, 5]


def test_the_xlsx_forms_have_chinese_headers(
    client: TestClient, db: Database, settings: Settings, role_keys: dict[Role, str]
) -> None:
    district = seed(db, settings)
    work_the_district(client, db, district)
    answer = client.get(
        f"/api/v1/alerts/{district.alert_id}/situation-report",
        params={"format": "xlsx", "unit": "一镇人民政府"},
        headers=auth(role_keys[Role.officer]),
    )
    assert answer.status_code == 200, answer.text
    assert "attachment" in answer.headers["content-disposition"]
    book = load_workbook(io.BytesIO(answer.content))
    assert book.sheetnames == ["灾情报送", "转移人员统计", "重点人群未完成"]
    sheet = [list(r) for r in book["灾情报送"].iter_rows(values_only=True)]
    assert sheet[0][0] == "防汛预警到户及灾情核查报送表"
    assert "暴雨红色预警" in str(sheet[1][0])
    assert sheet[2][0] == "填报单位（盖章）：一镇人民政府"
    assert sheet[4][:5] == ["乡镇（街道）", "村（社区）", "网格", "应通知户数", "已确认"]
    totals = next(r for r in sheet if r[0] == "合计")
    assert totals[3] == 9
    assert any("填报人" in str(r[0]) for r in sheet)
    moved = [list(r) for r in book["转移人员统计"].iter_rows(values_only=True)]
    assert moved[0][0] == "转移人员统计表"
    assert moved[4][3:6] == ["转移户数", "转移人数", "其中：集中安置"]
    assert next(r for r in moved if r[0] == "合计")[3:5] == [4, 10]
    assert any(r[1] == "二镇礼堂" and r[5] == 5 for r in moved)


def snapshot(db: Database) -> list[Any]:
    with db.read() as session:
        reports = session.execute(select(VisitReport.id)).all()
        tasks = session.execute(select(VisitTask.id, VisitTask.state)).all()
        states = session.execute(select(Recipient.id, Recipient.state)).all()
    return [list(reports), list(tasks), list(states)]


def test_a_bad_evacuation_names_its_field_and_changes_nothing(
    client: TestClient, db: Database, settings: Settings
) -> None:
    district = seed(db, settings)
    before = snapshot(db)
    for body, field in (
        ({"outcome": "evacuated", "people_moved": 0}, "people_moved"),
        ({"outcome": "evacuated", "people_moved": 101}, "people_moved"),
        ({"outcome": "safe", "people_moved": 2}, "people_moved"),
        ({"outcome": "evacuated", "people_moved": 2, "shelter_id": 999999}, "shelter_id"),
        ({"outcome": "evacuated", "placement": "shelter"}, "shelter_id"),
        ({"outcome": "evacuated", "placement": "relatives", "shelter_id": 1}, "shelter_id"),
        ({"outcome": "evacuated", "placement": "boat"}, "placement"),
        ({"outcome": "evacuated", "destination": "x" * 201}, "destination"),
    ):
        refused = outcome(client, district, "li", **body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["field"] == field, (body, refused.json())
    assert snapshot(db) == before
    # an older phone's outcome without any of it is still taken (nothing entered is lost)
    assert outcome(client, district, "li", outcome="evacuated").status_code == 200


def test_a_time_window_leaves_drills_out_unless_asked(
    client: TestClient, db: Database, settings: Settings, role_keys: dict[Role, str]
) -> None:
    district = seed(db, settings)
    officer = auth(role_keys[Role.officer])
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    window = client.get("/api/v1/situation-report", params={"since": since}, headers=officer)
    assert window.status_code == 200, window.text
    assert [a["id"] for a in window.json()["alerts"]] == [district.alert_id]
    assert window.json()["total"]["households_targeted"] == 9
    for params, field in (
        ({"since": "2026-01-02T00:00", "until": "2026-01-01T00:00"}, "until"),
        ({"since": "1970-01-01T00:00"}, "since"),
        ({"since": "2020-01-01T00:00", "until": "2026-01-01T00:00"}, "since"),
        ({"since": "yesterday"}, "since"),
    ):
        bad = client.get("/api/v1/situation-report", params=params, headers=officer)
        assert bad.status_code == 422, (params, bad.text)
        assert bad.json()["field"] == field
    missing = client.get("/api/v1/alerts/999999/situation-report", headers=officer)
    assert missing.status_code == 404
    feed = client.get(
        f"/api/v1/alerts/{district.alert_id}/situation-report",
        headers=auth(role_keys[Role.feed]),
    )
    assert feed.status_code == 403
