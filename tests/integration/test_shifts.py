"""Duty shifts: the roster refuses overlaps and bad times; a handover lists every open item at
that moment, goes to the next officer on the roster, is acknowledged once by them only; the
handover log exports with Chinese headers and both steps are in the audit trail export."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select, update

from broadcaster.alerts.models import Alert, AlertState
from broadcaster.auth import service as auth_service
from broadcaster.auth.audit import SYSTEM
from broadcaster.auth.models import Role, User
from broadcaster.confirm.models import Answer
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.models import LoudspeakerTask, TaskState
from broadcaster.followup.models import VisitTask
from broadcaster.registry.models import Zone
from broadcaster.relay.models import RelayState, RelayTask
from broadcaster.settings import Settings
from tests.api_fixtures import auth
from tests.factories import alerts as fa
from tests.factories import registry as f
from tests.integration.situation_support import answer, seed

KINDS = ("alerts_in_progress", "approvals_waiting", "help_open", "speakers_unplayed",
         "relay_escalated", "visits_open", "visits_flagged")  # fmt: skip


def officers(db: Database) -> dict[str, str]:
    keys: dict[str, str] = {}
    with db.transaction() as session:
        for name, shown in (("li", "值班员小李"), ("zhao", "值班员老赵")):
            user = auth_service.create_user(
                session, username=name, role=Role.officer, display_name=shown, actor=SYSTEM
            )
            _row, keys[name] = auth_service.create_api_key(session, user=user, actor=SYSTEM)
    return keys


def open_work(db: Database, settings: Settings) -> int:
    """One of each open item: help request, unplayed loudspeaker, escalated relay, flagged
    visit, an alert held for approval (beside the alert in progress)."""
    district = seed(db, settings)
    answer(db, district, "d", Answer.needs_help)
    held = fa.issue(db, settings, zones=["V2"], level="yellow", headline="暴雨黄色预警")
    with db.transaction() as session:
        session.execute(
            update(Alert).where(Alert.id == held.alert.id).values(state=AlertState.pending_approval)
        )
        v1 = session.scalars(select(Zone).where(Zone.code == "V1")).one()
        speaker = f.loudspeaker(session, zone=v1)
        session.add(LoudspeakerTask(alert_id=district.alert_id, loudspeaker_id=speaker.id,
                                    state=TaskState.open, created_at=utcnow()))  # fmt: skip
        group = f.wecom_group(session, zone=v1, key="robot")
        session.add(RelayTask(alert_id=district.alert_id, group_id=group.id, created_at=utcnow(),
                              state=RelayState.escalated, escalated_at=utcnow()))  # fmt: skip
        session.execute(
            update(VisitTask).where(VisitTask.id == district.tasks["he"]).values(flagged=True)
        )
    return district.alert_id


def post(client: TestClient, path: str, key: str, body: dict[str, Any]) -> Any:
    return client.post(f"/api/v1/shifts{path}", json=body, headers=auth(key))


def test_roster_refuses_overlaps_and_bad_times(
    client: TestClient, db: Database, role_keys: dict[Role, str]
) -> None:
    keys = officers(db)
    now = utcnow()
    shift = {"username": "li", "starts_at": (now - dt.timedelta(hours=2)).isoformat(),
             "ends_at": (now + dt.timedelta(hours=1)).isoformat()}  # fmt: skip
    made = post(client, "", keys["zhao"], shift)
    assert made.status_code == 201, made.text
    assert made.json()["name"] == "值班员小李"
    overlap = post(client, "", keys["zhao"], {**shift, "post": "officer"})
    assert overlap.status_code == 409
    for bad, field in (
        ({**shift, "ends_at": shift["starts_at"]}, "ends_at"),
        ({**shift, "ends_at": (now + dt.timedelta(days=4)).isoformat()}, "ends_at"),
        ({**shift, "username": "nobody"}, "username"),
        ({**shift, "username": "u-field"}, "username"),
        ({**shift, "starts_at": "0001-01-01T00:00"}, "starts_at"),
        ({**shift, "post": "boss"}, "post"),
    ):
        refused = post(client, "", keys["zhao"], bad)
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["field"] == field
    local = post(
        client,
        "",
        keys["zhao"],
        {
            "username": "zhao",
            "starts_at": "2031-07-01T08:00",
            "ends_at": "2031-07-01T20:00",
            "post": "leader",
        },
    )
    assert local.json()["starts_at"].startswith("2031-07-01T00:00")  # Beijing 08:00 is 00:00 UTC
    gone = post(client, f"/{made.json()['id']}/cancel", keys["zhao"], {})
    assert gone.json()["cancelled_at"] is not None
    assert post(client, f"/{made.json()['id']}/cancel", keys["zhao"], {}).status_code == 409


def test_handover_lists_open_items_and_is_acknowledged_once(
    client: TestClient, db: Database, settings: Settings, role_keys: dict[Role, str]
) -> None:
    keys = officers(db)
    alert_id = open_work(db, settings)
    now = utcnow()
    for name, start, end in (("li", -10, 1), ("zhao", 1, 13)):
        turn = {"username": name, "starts_at": (now + dt.timedelta(hours=start)).isoformat(),
                "ends_at": (now + dt.timedelta(hours=end)).isoformat()}  # fmt: skip
        assert post(client, "", keys["li"], turn).status_code == 201
    current = client.get("/api/v1/shifts/current", headers=auth(keys["li"])).json()
    assert [s["username"] for s in current["on_duty"]] == ["li"]
    assert [s["username"] for s in current["next"]] == ["zhao"]
    for bad, field in (({"to": "li"}, "to"), ({"to": "nobody"}, "to"),
                       ({"note": "x" * 4001}, "note"), ({"note": "\x00"}, "note")):  # fmt: skip
        refused = post(client, "/handover", keys["li"], bad)
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["field"] == field
    note = "二村孙家老人已送二镇礼堂；一村喇叭未播，已电话催操作员。"
    given = post(client, "/handover", keys["li"], {"note": note})
    assert given.status_code == 201, given.text
    handover = given.json()
    assert (handover["from_name"], handover["to_username"]) == ("值班员小李", "zhao")
    assert handover["shift_id"] is not None
    counts = handover["counts"]
    assert {k: counts[k] for k in KINDS if k != "visits_open"} == {
        "alerts_in_progress": 1, "approvals_waiting": 1, "help_open": 1,
        "speakers_unplayed": 1, "relay_escalated": 1, "visits_flagged": 1,
    }  # fmt: skip
    assert counts["visits_open"] == 6  # five due, and the call for help visited at once
    items = handover["items"]
    assert items["alerts_in_progress"][0]["id"] == alert_id
    assert items["approvals_waiting"][0]["headline"] == "暴雨黄色预警"
    assert items["help_open"][0]["alert_id"] == alert_id
    assert items["visits_flagged"][0]["flagged"] is True

    hid = handover["id"]
    assert post(client, f"/handovers/{hid}/acknowledge", keys["li"], {}).status_code == 403
    admin = role_keys[Role.admin]
    assert post(client, f"/handovers/{hid}/acknowledge", admin, {}).status_code == 403
    taken = post(client, f"/handovers/{hid}/acknowledge", keys["zhao"], {"note": "已接班"})
    assert taken.status_code == 200, taken.text
    assert taken.json()["acknowledged_username"] == "zhao"
    assert taken.json()["ack_counts"]["help_open"] == 1
    assert post(client, f"/handovers/{hid}/acknowledge", keys["zhao"], {}).status_code == 409
    pending = client.get("/api/v1/shifts/current", headers=auth(keys["zhao"])).json()
    assert pending["pending_handovers"] == []

    log = client.get("/api/v1/shifts/handovers", params={"format": "xlsx"},
                     headers=auth(keys["zhao"]))  # fmt: skip
    rows = list(load_workbook(io.BytesIO(log.content)).active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert rows[0][:3] == ("编号 id", "交班时间 handed_over_at", "交班人 from")
    assert rows[1][2] == "值班员小李（li）"
    assert rows[1][5] == "值班员老赵（zhao）"
    assert rows[1][6] == note
    assert "待处理求助" in str(rows[1][-1])
    csv = client.get("/api/v1/shifts/handovers", params={"format": "csv"},
                     headers=auth(keys["li"]))  # fmt: skip
    assert "值班员小李（li）" in csv.content.decode("utf-8-sig")
    with db.read() as session:
        ids = dict(session.execute(select(User.username, User.id)).all())
    for name, action, label in (("li", "shift.handover", "交班"),
                                ("zhao", "shift.acknowledge", "接班确认")):  # fmt: skip
        trail = client.get(f"/api/v1/audit/users/{ids[name]}", params={"format": "xlsx"},
                           headers=auth(admin))  # fmt: skip
        lines = list(load_workbook(io.BytesIO(trail.content)).active.iter_rows(values_only=True))  # type: ignore[union-attr]
        found = [line for line in lines if line[3] == action]
        assert len(found) == 1, (name, lines)
        assert found[0][10] == label
        assert found[0][5] == str(hid)
