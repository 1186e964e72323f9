"""CAP in through the endpoint: the spec's examples, a Chinese red warning by GB/T 2260 codes,
Update and Cancel of the referenced alert, duplicates, drills."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from broadcaster.alerts.models import Alert, AlertState, AlertStatus, Level, MsgType
from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.delivery.models import DeliveryState, LoudspeakerTask, TaskState
from broadcaster.followup.models import VisitState, VisitTask
from broadcaster.registry.models import Zone, ZoneKind
from tests.api_fixtures import auth
from tests.factories import registry as f
from tests.integration.feeds_support import (
    cap_document,
    counts,
    current,
    deliveries_of,
    fixture,
    located,
    post_cap,
    recipients_of,
    region_registry,
)


def test_the_four_spec_examples_are_taken_in_but_sent_to_nobody_as_they_are_long_over(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    with db.transaction() as session:
        grid = f.zone(session, code="G", kind=ZoneKind.grid)
        inside = located(session, grid, 38.5, -119.9).id  # inside the thunderstorm polygon
        located(session, grid, 38.3, -119.9)  # outside it
    feed = role_keys[Role.feed]
    names = ("homeland_security", "severe_thunderstorm", "earthquake_update", "amber_multilingual")
    answers = {name: post_cap(client, feed, fixture(f"spec_{name}.xml")) for name in names}
    assert {name: a.status_code for name, a in answers.items()} == dict.fromkeys(names, 201)
    alerts = {name: a.json()["alert"] for name, a in answers.items()}
    assert alerts["homeland_security"]["level"] == "orange"  # "Code ORANGE"
    assert alerts["amber_multilingual"]["headline"] == "Amber Alert in Los Angeles County"
    # An Update of an alert never seen is taken as a new alert that keeps its references.
    assert alerts["earthquake_update"]["msg_type"] == "update"
    assert alerts["earthquake_update"]["identifier"] == "TRI13970876.2"
    # The polygon finds the household inside it, but a 2003 warning reaches nobody today.
    assert recipients_of(db, alerts["severe_thunderstorm"]["id"]) == {inside}
    for name in names:
        assert (alerts[name]["state"], alerts[name]["flagged"]) == ("expired", True), name
        assert "nothing was sent" in alerts[name]["note"]
    assert "expired before it arrived" in alerts["severe_thunderstorm"]["note"]
    assert "without an expiry time" in alerts["homeland_security"]["note"]
    assert counts(db)["messages"] == 4
    assert counts(db)["deliveries"] == 0
    again = post_cap(client, feed, fixture("spec_severe_thunderstorm.xml"))
    assert (again.status_code, again.json()["action"]) == (200, "duplicate")


def test_an_area_matching_no_household_is_flagged_not_sent_to_nobody(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    region_registry(db)
    beijing = cap_document(
        "B-1", geocodes=("110101",), polygon="39.9,116.3 39.9,116.5 40,116.4 39.9,116.3"
    )
    alert = post_cap(client, role_keys[Role.feed], beijing).json()["alert"]
    assert (alert["state"], alert["households_targeted"], alert["flagged"]) == ("sending", 0, True)
    assert "no registered household" in alert["note"]
    listed = client.get("/api/v1/alerts", headers=auth(role_keys[Role.officer])).json()
    assert listed[0]["flagged"] is True
    assert counts(db)["deliveries"] == 0


def test_chinese_red_warning_reaches_exactly_the_mapped_zones_after_approval(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    ids = region_registry(db)
    answer = post_cap(client, role_keys[Role.feed], current(fixture("yubei_rainstorm_red.xml")))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    alert = body["alert"]
    assert (alert["level"], alert["hazard"], alert["state"]) == ("red", "rain", "pending_approval")
    assert alert["headline"] == "渝北区气象台发布暴雨红色预警信号"  # the zh-CN info, not en-US
    assert sorted(alert["zone_codes"]) == ["JB", "YB"]  # 500112 and 500105, topmost zones
    expected = set(ids["yubei"] + ids["jiangbei"] + ids["nanan_in_polygon"])
    assert recipients_of(db, alert["id"]) == expected
    assert deliveries_of(db, alert["id"]) == []  # held for an officer: nothing planned
    officer = auth(role_keys[Role.officer])
    pending = client.get("/api/v1/alerts?state=pending_approval", headers=officer).json()
    assert [a["id"] for a in pending] == [alert["id"]]
    approved = client.post(f"/api/v1/alerts/{alert['id']}/approve", headers=officer)
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "sending"
    assert approved.json()["approved_by"].startswith("user:u-officer/")
    planned = deliveries_of(db, alert["id"])
    assert {d.channel for d in planned} == {"sms", "voice"}
    assert len({d.recipient_id for d in planned if d.channel == "sms"}) == len(expected)


def test_update_tops_up_new_households_and_replaces_the_text(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    ids = region_registry(db)
    feed = role_keys[Role.feed]
    first = post_cap(client, feed, cap_document("CMA-1", geocodes=("500105",))).json()["alert"]
    assert recipients_of(db, first["id"]) == set(ids["jiangbei"])
    sms_before = {d.id for d in deliveries_of(db, first["id"]) if d.channel == "sms"}
    assert len(sms_before) == 2
    update = cap_document(
        "CMA-2",
        msg_type="Update",
        references="cma@example.cn,CMA-1,2024-07-01T08:00:00+08:00",
        headline="暴雨黄色预警范围扩大",
        description="降雨范围扩大到渝北区。",
        geocodes=("500105", "500112"),
        sent="2024-07-01T09:00:00+08:00",
    )
    answer = post_cap(client, feed, update)
    assert answer.status_code == 200, answer.text
    assert answer.json()["action"] == "updated"
    assert answer.json()["households_added"] == 3
    assert answer.json()["deliveries"]["sms"] == 3
    assert recipients_of(db, first["id"]) == set(ids["jiangbei"] + ids["yubei"])
    after = deliveries_of(db, first["id"])
    new_sms = [d for d in after if d.channel == "sms" and d.id not in sms_before]
    assert len(new_sms) == 3  # only the new households; the first two got nothing again
    with db.read() as session:
        alert = session.get(Alert, first["id"])
        assert alert is not None
        assert (alert.headline, alert.body) == ("暴雨黄色预警范围扩大", "降雨范围扩大到渝北区。")
        assert alert.msg_type is MsgType.update
        assert sorted(alert.zone_codes) == ["JB", "YB"]
    again = post_cap(client, feed, update)
    assert (again.status_code, again.json()["action"]) == (200, "duplicate")
    assert len(deliveries_of(db, first["id"])) == len(after)
    chained = cap_document(
        "CMA-3",
        msg_type="Update",
        references="cma@example.cn,CMA-2,2024-07-01T09:00:00+08:00",
        event="暴雨橙色预警",
        headline="升级为暴雨橙色预警",
        geocodes=("500105", "500112"),
    )
    third = post_cap(client, feed, chained).json()
    assert (third["action"], third["alert"]["id"], third["alert"]["level"]) == (
        "updated",
        first["id"],
        "orange",
    )
    assert third["households_added"] == 0
    assert counts(db)["alerts"] == 1


def test_cancel_withdraws_queued_sends_and_closes_open_tasks(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    region_registry(db)
    with db.transaction() as session:
        village = session.scalars(select(Zone).where(Zone.code == "YB-T1-V1")).one()
        grid = session.scalars(select(Zone).where(Zone.code == "YB-G1")).one()
        f.loudspeaker(session, zone=village)
        f.household(session, grid=grid, vulnerability=("elderly_alone",))
    feed = role_keys[Role.feed]
    orange = cap_document("CMA-10", event="暴雨橙色预警", severity="Severe")
    alert = post_cap(client, feed, orange).json()["alert"]
    with db.read() as session:
        tasks = session.scalars(select(LoudspeakerTask.state)).all()
        visits = session.scalars(select(VisitTask.state)).all()
    assert (tasks, visits) == ([TaskState.open], [VisitState.open])
    queued = len(deliveries_of(db, alert["id"]))
    cancel = cap_document(
        "CMA-11", msg_type="Cancel", references="cma@example.cn,CMA-10,2024-07-01T08:00:00+08:00"
    )
    answer = post_cap(client, feed, cancel)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["action"], result["withdrawn"], result["tasks_closed"]) == (
        "cancelled",
        queued,
        2,
    )
    assert result["alert"]["state"] == "cancelled"
    assert {d.state for d in deliveries_of(db, alert["id"])} == {DeliveryState.cancelled}
    with db.read() as session:
        assert session.scalars(select(LoudspeakerTask.state)).all() == [TaskState.cancelled]
        assert session.scalars(select(VisitTask.state)).all() == [VisitState.cancelled]
    again = post_cap(client, feed, cancel)
    assert (again.status_code, again.json()["action"]) == (200, "duplicate")


def test_the_same_sender_and_identifier_twice_is_a_duplicate_that_sends_nothing(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    region_registry(db)
    document = cap_document("CMA-20", geocodes=("500112",))
    first = post_cap(client, role_keys[Role.feed], document)
    before = counts(db)
    second = post_cap(client, role_keys[Role.admin], document)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["action"] == "duplicate"
    assert second.json()["alert"]["id"] == first.json()["alert"]["id"]
    assert counts(db) == before
    other_sender = post_cap(client, role_keys[Role.feed], cap_document("CMA-20", sender="b@x.cn"))
    assert other_sender.status_code == 201  # identifiers are unique per sender only
    assert other_sender.json()["alert"]["identifier"] != "CMA-20"


def test_exercise_and_test_become_drills(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    region_registry(db)
    feed = role_keys[Role.feed]
    exercise = post_cap(client, feed, cap_document("D-1", status="Exercise")).json()["alert"]
    test = post_cap(client, feed, cap_document("D-2", status="Test")).json()["alert"]
    assert (exercise["status"], test["status"]) == ("exercise", "test")
    cross = cap_document(
        "D-3",
        msg_type="Update",
        references="cma@example.cn,D-1,2024-07-01T08:00:00+08:00",
    )
    refused = post_cap(client, feed, cross)  # an Actual update of an exercise
    assert refused.status_code == 422
    assert refused.json()["field"] == "alert/status"


def test_an_original_arriving_after_its_update_is_superseded(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    region_registry(db)
    feed = role_keys[Role.feed]
    update = cap_document(
        "U-2", msg_type="Update", references="cma@example.cn,U-1,2024-07-01T07:00:00+08:00"
    )
    created = post_cap(client, feed, update).json()["alert"]
    before = counts(db)
    late = post_cap(client, feed, cap_document("U-1", sent="2024-07-01T07:00:00+08:00"))
    assert (late.status_code, late.json()["action"]) == (200, "superseded")
    assert late.json()["alert"]["id"] == created["id"]
    assert {k: v for k, v in counts(db).items() if k != "messages"} == {
        k: v for k, v in before.items() if k != "messages"
    }


def test_the_level_and_status_are_stored_as_mapped(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    region_registry(db)
    post_cap(client, role_keys[Role.feed], cap_document("L-1", event="干旱蓝色预警"))
    with db.read() as session:
        alert = session.scalars(select(Alert)).one()
    assert (alert.level, alert.status, alert.state) == (
        Level.blue,
        AlertStatus.actual,
        AlertState.sending,
    )
    assert alert.area is not None
    assert alert.area["geocodes"] == [["GB/T 2260", "500112"]]
