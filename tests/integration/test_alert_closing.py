"""The all-clear (解除) and the cancel (撤销): everyone the alert reached is told, queued
warnings are withdrawn, open visits and relay tasks close, the alert leaves /public."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from broadcaster.alerts.models import Alert, AlertState, Recipient
from broadcaster.alerts.texts import render
from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState, LoudspeakerTask, TaskState
from broadcaster.followup.models import VisitState, VisitTask
from broadcaster.registry.models import Zone
from broadcaster.relay.models import RelayState, RelayTask
from broadcaster.settings import Settings
from tests.api_fixtures import auth
from tests.factories import alerts as fa
from tests.factories import registry as f
from tests.integration.test_alert_updates import deliveries, issue, village


def sent_to_three(db: Database, alert_id: int) -> set[int]:
    """Three households' SMS went out; the others' still wait in the queue."""
    with db.transaction() as session:
        first = list(
            session.scalars(
                select(Delivery.recipient_id)
                .where(Delivery.alert_id == alert_id, Delivery.recipient_id.is_not(None))
                .order_by(Delivery.recipient_id)
                .distinct()
                .limit(3)
            )
        )
        session.execute(
            update(Delivery)
            .where(Delivery.recipient_id.in_(first))
            .values(state=DeliveryState.delivered, provider_id="SMx")
        )
        session.execute(  # the groups and loudspeakers were posted
            update(Delivery)
            .where(Delivery.alert_id == alert_id, Delivery.recipient_id.is_(None))
            .values(state=DeliveryState.delivered, provider_id="zone")
        )
    return {r for r in first if r is not None}


def test_the_all_clear_reaches_everyone_sent_the_alert_and_ends_it(
    client: TestClient, db: Database, settings: Settings, role_keys: dict[Role, str]
) -> None:
    village(db)
    officer = role_keys[Role.officer]
    alert = issue(client, officer)  # orange: SMS, WeCom, loudspeaker; vulnerable visits
    told = sent_to_three(db, alert["id"])
    with db.transaction() as session:
        recipient = session.scalars(
            select(Delivery.recipient_id).where(Delivery.recipient_id.is_not(None))
        ).first()
        assert recipient is not None
        session.add(
            VisitTask(
                alert_id=alert["id"],
                recipient_id=recipient,
                household_id=1,
                state=VisitState.open,
                created_at=fa.utcnow(),
            )
        )
    assert client.get("/public").text.count("暴雨橙色预警") >= 1
    shown = client.post(f"/api/v1/alerts/{alert['id']}/all-clear/preview", headers=auth(officer))
    assert shown.status_code == 200, shown.text
    assert shown.json()["households_notified"] == 3
    assert "解除" in shown.json()["texts"]["sms"]

    lifted = client.post(
        f"/api/v1/alerts/{alert['id']}/all-clear",
        json={"note": "降雨已减弱。"},
        headers=auth(officer),
    )
    assert lifted.status_code == 200, lifted.text
    out = lifted.json()
    assert (out["kind"], out["alert"]["state"], out["households_notified"]) == (
        "all_clear",
        "closed",
        3,
    )
    assert out["deliveries"] == {"sms": 3, "wecom_group": 1, "loudspeaker": 1}
    rows = deliveries(db, alert["id"])
    notices = [d for d in rows if d.notice == "all_clear"]
    assert {d.recipient_id for d in notices if d.channel == "sms"} == told
    warnings = [d for d in rows if d.notice is None and d.recipient_id not in told]
    assert {d.state for d in warnings if d.recipient_id} == {DeliveryState.cancelled}
    with db.read() as session:
        assert set(session.scalars(select(VisitTask.state))) == {VisitState.cancelled}
        tasks = session.execute(select(LoudspeakerTask.revision, LoudspeakerTask.state)).all()
        assert sorted(tasks) == [(1, TaskState.cancelled), (2, TaskState.open)]
    assert "暴雨橙色预警" not in client.get("/public").text
    cap = client.get(f"/cap/alerts/{alert['id']}.xml")
    assert cap.status_code == 200
    assert "<msgType>Update</msgType>" in cap.text
    assert "<responseType>AllClear</responseType>" in cap.text
    again = client.post(f"/api/v1/alerts/{alert['id']}/all-clear", headers=auth(officer))
    assert again.status_code == 409


def test_cancel_tells_only_those_already_reached_and_a_held_alert_tells_no_one(
    client: TestClient, db: Database, settings: Settings, role_keys: dict[Role, str]
) -> None:
    village(db)
    officer = role_keys[Role.officer]
    alert = issue(client, officer, channels=["sms"])
    told = sent_to_three(db, alert["id"])
    with db.transaction() as session:
        session.add(
            RelayTask(
                alert_id=alert["id"],
                group_id=1,
                owner_phone="+8617400000001",
                state=RelayState.open,
                created_at=fa.utcnow(),
            )
        )
    cancelled = client.post(
        f"/api/v1/alerts/{alert['id']}/cancel", json={"note": "系误发。"}, headers=auth(officer)
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    rows = deliveries(db, alert["id"])
    corrections = [d for d in rows if d.notice == "cancel"]
    assert {d.recipient_id for d in corrections if d.recipient_id} == told
    assert [d.address for d in corrections if d.recipient_id is None] == ["+8617400000001"]
    with db.read() as session:
        assert session.scalar(select(RelayTask.state)) is RelayState.cancelled
        assert session.get_one(Alert, alert["id"]).state is AlertState.cancelled
    held = client.post(
        "/api/v1/alerts",
        json={
            "hazard": "rain",
            "level": "red",
            "headline": "山洪",
            "body": "山洪",
            "zones": ["V1"],
        },
        headers=auth(role_keys[Role.feed]),
    ).json()
    assert held["state"] == "pending_approval"
    assert (
        client.post(f"/api/v1/alerts/{held['id']}/all-clear", headers=auth(officer)).status_code
        == 409
    )
    assert client.post(f"/api/v1/alerts/{held['id']}/cancel", headers=auth(officer)).is_success
    assert [d for d in deliveries(db, held["id"]) if d.notice] == []


def test_a_household_with_only_a_landline_is_called_with_the_all_clear(
    client: TestClient, db: Database, settings: Settings, role_keys: dict[Role, str]
) -> None:
    """Its only way to hear the warning was a call (the orange policy's voice step): the
    all-clear calls it too, and the call speaks the all-clear, not the warning."""
    village(db, households=2)
    with db.transaction() as session:
        grid = session.scalars(select(Zone).where(Zone.code == "G1")).one()
        landline = f.household(session, grid=grid, phones=("+862312345678",)).id
    officer = role_keys[Role.officer]
    alert = issue(client, officer, channels=["sms", "voice"])
    fa.mark_sent(db, alert["id"])
    lifted = client.post(f"/api/v1/alerts/{alert['id']}/all-clear", headers=auth(officer))
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["deliveries"] == {"sms": 2, "voice": 1}
    with db.read() as session:
        called = session.scalars(
            select(Recipient.household_id)
            .join(Delivery, Delivery.recipient_id == Recipient.id)
            .where(Delivery.notice == "all_clear", Delivery.channel == "voice")
        ).all()
        ended = session.get_one(Alert, alert["id"])
        spoken = render(
            ended,
            channel="voice",
            language="zh-CN",
            templates_dir=settings.config_dir / "templates",
            sender=settings.sender_name,
        ).template
    assert called == [landline]
    assert "解除" in spoken
    assert "按1" not in spoken
