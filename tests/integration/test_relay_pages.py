"""Relay tasks through the API and the relay page: planned per WeChat/QQ group of the
village, GET never changes anything, "forwarded" once only, forged or foreign links refused,
escalation once to the zone lead, counts on their own line."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from broadcaster.alerts.models import Alert
from broadcaster.auth.models import AuditEvent, Role
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery
from broadcaster.flows.updates import top_up
from broadcaster.registry.models import Household, Zone
from broadcaster.relay.escalation import cancel_ended, escalate_overdue
from broadcaster.relay.models import RelayState, RelayTask
from broadcaster.relay.service import plan_for_policy, plan_relay
from broadcaster.settings import Settings
from tests.api_fixtures import auth
from tests.factories import registry as f
from tests.factories.alerts import RED_RAIN
from tests.integration.relay_support import link_path, seed_village, tasks_by_group

RELAY_GROUPS = {"WC1", "WC2", "QQ1"}


def issue(client: TestClient, key: str, **overrides: Any) -> dict[str, Any]:
    answer = client.post(
        "/api/v1/alerts", json={**RED_RAIN, "zones": ["V1"], **overrides}, headers=auth(key)
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def snapshot(db: Database) -> list[tuple[Any, ...]]:
    """Every relay task's mutable columns and the audit count: "nothing changed" is equality."""
    with db.read() as session:
        rows = session.execute(
            select(
                RelayTask.id,
                RelayTask.state,
                RelayTask.forwarded_at,
                RelayTask.forwarded_by,
                RelayTask.escalated_at,
                RelayTask.flagged,
            ).order_by(RelayTask.id)
        ).all()
        audit = session.scalar(select(func.count()).select_from(AuditEvent))
    return [tuple(r) for r in rows] + [("audit", audit)]


def test_red_alert_plans_one_relay_task_and_sms_per_wechat_and_qq_group(
    client: TestClient, role_keys: dict[Role, str], db: Database, settings: Settings
) -> None:
    village = seed_village(db)
    alert = issue(client, role_keys[Role.officer])
    tasks = tasks_by_group(db, alert["id"])
    assert set(tasks) == RELAY_GROUPS  # not the WeCom robot group, not the other village's
    with db.read() as session:
        sms = dict(
            session.execute(
                select(Delivery.id, Delivery.address).where(Delivery.channel == "relay")
            ).all()
        )
    assert {t.delivery_id for t in tasks.values()} == set(sms)
    assert sorted(sms.values()) == sorted(village.owner_phones.values())
    for task in tasks.values():
        assert task.state is RelayState.open
        assert task.due_at - task.created_at == dt.timedelta(minutes=10)  # red relay_after
    counts = client.get(f"/api/v1/alerts/{alert['id']}", headers=auth(role_keys[Role.officer]))
    assert counts.json()["counts"]["groups"] == {
        "targeted": 3,
        "relayed": 0,
        "escalated": 0,
        "members_targeted": 240,
        "members_relayed": 0,
    }


def test_relay_page_shows_the_text_and_only_post_records_forwarded(
    client: TestClient, role_keys: dict[Role, str], db: Database, settings: Settings
) -> None:
    village = seed_village(db)
    alert = issue(client, role_keys[Role.officer], status="exercise")
    tasks = tasks_by_group(db, alert["id"])
    link = link_path(settings, tasks["WC1"].id, village.holders["WC1"])
    before = snapshot(db)
    for _ in range(3):  # a chat app's link preview, then the owner, then a reload
        page = client.get(link)
        assert page.status_code == 200
        assert "一村居民群" in page.text
        assert "【演练】" in page.text
        assert f"/public/alerts/{alert['id']}" in page.text  # the public link in the text
        assert "回复短信 1" in page.text  # how households confirm
        assert 'src="/static/relay.js"' in page.text
        assert 'method="post"' in page.text
        assert page.headers["cache-control"] == "no-store"
    assert snapshot(db) == before
    assert client.get("/static/relay.js").status_code == 200

    done = client.post(link)
    assert done.status_code == 200, done.text
    assert "已记录" in done.text
    assert "王网格" in done.text
    after = tasks_by_group(db, alert["id"])["WC1"]
    assert after.state is RelayState.forwarded
    assert after.forwarded_by == "王网格"
    assert after.forwarded_by_worker_id == village.holders["WC1"]
    assert after.forwarded_at is not None

    settled = snapshot(db)
    again = client.post(link)
    assert again.status_code == 409
    assert "已记录转发" in again.text
    assert "already recorded" in again.text
    assert snapshot(db) == settled  # the second "forwarded" changed nothing

    qq = link_path(settings, tasks["QQ1"].id, village.holders["QQ1"])
    assert client.post(qq).status_code == 200
    assert tasks_by_group(db, alert["id"])["QQ1"].forwarded_by == village.owner_phones["QQ1"]
    counts = client.get(f"/api/v1/alerts/{alert['id']}", headers=auth(role_keys[Role.officer]))
    body = counts.json()["counts"]
    assert body["groups"]["relayed"] == 2
    assert body["groups"]["members_relayed"] == 160
    assert body["households_confirmed"] == 0  # group reach is no household confirmation


def test_unknown_forged_and_foreign_links_are_refused_and_change_nothing(
    client: TestClient, role_keys: dict[Role, str], db: Database, settings: Settings
) -> None:
    village = seed_village(db)
    alert = issue(client, role_keys[Role.officer])
    tasks = tasks_by_group(db, alert["id"])
    genuine = link_path(settings, tasks["WC1"].id, village.holders["WC1"])
    forged = genuine[:-3] + ("AAA" if not genuine.endswith("AAA") else "BBB")
    unknown_task = link_path(settings, 999_999, village.holders["WC1"])
    # A genuine link of the WC2 owner pointed at WC1's task: someone else's relay task.
    foreign = link_path(settings, tasks["WC1"].id, village.holders["WC2"])
    confirm_style = "/relay/" + "x" * 3
    before = snapshot(db)
    for path, status, words in (
        (forged, 404, "链接无效"),
        (unknown_task, 404, "链接无效"),
        (confirm_style, 404, "链接无效"),
        ("/relay/" + "%00" * 8, 404, "链接无效"),
        (foreign, 403, "不是您的转发任务"),
    ):
        for method in ("GET", "POST"):
            answer = client.request(method, path)
            assert answer.status_code == status, (path, method, answer.text)
            assert words in answer.text
    assert snapshot(db) == before


def test_overdue_task_escalates_once_to_the_zone_lead_after_the_policy_delay(
    client: TestClient, role_keys: dict[Role, str], db: Database, settings: Settings
) -> None:
    village = seed_village(db)
    alert = issue(client, role_keys[Role.officer])
    tasks = tasks_by_group(db, alert["id"])
    for code in ("WC1", "WC2"):
        assert (
            client.post(link_path(settings, tasks[code].id, village.holders[code])).status_code
            == 200
        )
    issued = tasks["QQ1"].created_at
    with db.transaction() as session:  # one second before the policy's 10 minutes
        assert (
            escalate_overdue(session, now=issued + dt.timedelta(minutes=10, seconds=-1)).tasks == 0
        )
    with db.transaction() as session:
        done = escalate_overdue(session, now=issued + dt.timedelta(minutes=10))
    assert done.tasks == 1
    assert done.sms == {alert["id"]: (done.sms[alert["id"]][0], 1)}
    with db.transaction() as session:  # later ticks, or a second worker's tick: nothing more
        assert escalate_overdue(session, now=issued + dt.timedelta(hours=1)).tasks == 0
    qq = tasks_by_group(db, alert["id"])["QQ1"]
    assert qq.state is RelayState.escalated
    assert qq.flagged
    assert qq.escalated_to_worker_id == village.lead_id
    with db.read() as session:
        lead_sms = session.scalars(
            select(Delivery.address).where(Delivery.id == qq.lead_delivery_id)
        ).all()
        events = session.scalar(select(func.count()).where(AuditEvent.action == "relay.escalated"))
    assert lead_sms == [village.lead_phone]
    assert events == 1

    officer = auth(role_keys[Role.officer])
    board = client.get(
        "/api/v1/relay-tasks",
        params={"alert_id": alert["id"], "state": "escalated"},
        headers=officer,
    ).json()
    assert [(t["group_code"], t["flagged"], t["escalated_to_name"]) for t in board] == [
        ("QQ1", True, "李组长")
    ]
    counts = client.get(f"/api/v1/alerts/{alert['id']}", headers=officer).json()["counts"]
    assert counts["groups"] == {
        "targeted": 3,
        "relayed": 2,
        "escalated": 1,
        "members_targeted": 240,
        "members_relayed": 200,
    }
    # The lead's own link works; the owner's link still works too (forwarding late counts).
    lead_link = link_path(settings, qq.id, village.lead_id)
    assert client.get(lead_link).status_code == 200
    assert client.post(lead_link).status_code == 200
    late = tasks_by_group(db, alert["id"])["QQ1"]
    assert late.state is RelayState.forwarded
    assert late.forwarded_by == "李组长"
    assert not late.flagged
    assert late.escalated_at == qq.escalated_at


def test_tasks_of_a_cancelled_alert_are_cancelled_not_escalated(
    client: TestClient, role_keys: dict[Role, str], db: Database, settings: Settings
) -> None:
    village = seed_village(db)
    officer = auth(role_keys[Role.officer])
    alert = issue(client, role_keys[Role.officer])
    assert client.post(f"/api/v1/alerts/{alert['id']}/cancel", headers=officer).status_code == 200
    # the cancel closes them itself (issue 15); the tick finds nothing left to cancel
    assert {t.state for t in tasks_by_group(db, alert["id"]).values()} == {RelayState.cancelled}
    with db.transaction() as session:
        assert escalate_overdue(session, now=utcnow() + dt.timedelta(hours=1)).tasks == 0
        assert cancel_ended(session) == 0
    task = tasks_by_group(db, alert["id"])["WC1"]
    assert task.state is RelayState.cancelled
    link = link_path(settings, task.id, village.holders["WC1"])
    assert "无需转发" in client.get(link).text
    answer = client.post(link)
    assert answer.status_code == 409
    assert "预警已结束" in answer.text


def test_officer_records_forwarding_for_an_owner_and_the_board_filters(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    seed_village(db)
    officer = auth(role_keys[Role.officer])
    alert = issue(client, role_keys[Role.officer])
    tasks = tasks_by_group(db, alert["id"])
    url = f"/api/v1/relay-tasks/{tasks['WC2'].id}/forwarded"
    first = client.post(url, headers=officer)
    assert first.status_code == 200, first.text
    assert first.json()["state"] == "forwarded"
    assert "u-officer" in first.json()["forwarded_by"]
    second = client.post(url, headers=officer)
    assert second.status_code == 409
    assert "already recorded" in second.json()["message"]
    assert client.post("/api/v1/relay-tasks/999999/forwarded", headers=officer).status_code == 404
    board = client.get("/api/v1/relay-tasks", params={"alert_id": alert["id"]}, headers=officer)
    assert {t["group_code"] for t in board.json()} == RELAY_GROUPS
    wrong = client.get("/api/v1/relay-tasks", params={"state": "lost"}, headers=officer)
    assert wrong.status_code == 422
    assert "state" in wrong.text
    field = client.get("/api/v1/relay-tasks", headers=auth(role_keys[Role.field]))
    assert field.status_code == 403


def test_policy_without_relay_plans_none_and_explicit_relay_channel_does(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    seed_village(db)
    blue = issue(client, role_keys[Role.officer], level="blue")  # the blue policy has no relay
    assert tasks_by_group(db, blue["id"]) == {}
    asked = issue(client, role_keys[Role.officer], level="blue", channels=["sms", "relay"])
    assert set(tasks_by_group(db, asked["id"])) == RELAY_GROUPS
    with db.transaction() as session:  # planning again (an update, a race) adds nothing
        alert = session.get_one(Alert, asked["id"])
        assert plan_relay(session, alert=alert, now=utcnow()) == 0
        assert plan_for_policy(session, alert=alert, now=utcnow()) == {}
    assert len(tasks_by_group(db, asked["id"])) == 3


def test_an_update_reaching_another_village_relays_to_its_groups(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    village = seed_village(db)
    alert = issue(client, role_keys[Role.officer])
    assert set(tasks_by_group(db, alert["id"])) == RELAY_GROUPS
    with db.transaction() as session:  # a household in V2, then the update that reaches it
        grid = session.scalars(select(Zone).where(Zone.code == "V2G1")).one()
        f.household(session, grid=grid)
        red = session.get_one(Alert, alert["id"])
        added, counts = top_up(
            session, alert=red, households=select(Household.id).where(Household.grid_id == grid.id),
            now=utcnow(),
        )  # fmt: skip
    assert added == 1
    assert counts.get("relay") == 1  # one SMS to the owner of the new village's group
    tasks = tasks_by_group(db, alert["id"])
    assert set(tasks) == RELAY_GROUPS | {village.other_village_group}
