"""Alert API: idempotency under concurrency, bad input is a 422 that creates nothing, cancel."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from broadcaster.alerts.models import Alert, Recipient
from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.settings import Settings
from tests.api_fixtures import auth
from tests.factories import registry as f
from tests.factories.alerts import RED_RAIN
from tests.stack import ADMIN_KEY, running_stack


def seed(db: Database, households: int = 5) -> None:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for n in range(households):
            f.household(session, grid=zones["G1"], hazard_zones=(zones["H1"],) if n < 2 else ())


def count(db: Database, model: type) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


async def test_hundred_concurrent_posts_with_one_key_create_one_alert(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    seed(db)
    body = {**RED_RAIN, "zones": ["V1"]}
    with running_stack(db, redis_settings, tmp_path / "stack") as stack:
        async with httpx.AsyncClient(
            base_url=stack.api_url, timeout=60, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        ) as api:
            answers = await asyncio.gather(
                *(
                    api.post("/api/v1/alerts", json=body, headers={"Idempotency-Key": "storm-1"})
                    for _ in range(100)
                )
            )
    assert {a.status_code for a in answers} <= {200, 201}
    assert sum(a.status_code == 201 for a in answers) == 1
    assert len({a.json()["id"] for a in answers}) == 1
    assert count(db, Alert) == 1
    assert count(db, Recipient) == 5


def test_same_key_with_another_body_is_a_conflict(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    seed(db)
    headers = {**auth(role_keys[Role.officer]), "Idempotency-Key": "k-2"}
    first = client.post("/api/v1/alerts", json={**RED_RAIN, "zones": ["V1"]}, headers=headers)
    again = client.post("/api/v1/alerts", json={**RED_RAIN, "zones": ["V1"]}, headers=headers)
    other = client.post("/api/v1/alerts", json={**RED_RAIN, "zones": ["G2"]}, headers=headers)
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert again.json()["id"] == first.json()["id"]
    assert count(db, Alert) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"zones": ["V1", "NOPE"]}, "zones"),
        ({"zones": []}, "zones"),
        ({"headline": "  "}, "headline"),
        ({"level": "purple"}, "level"),
        ({"hazard": "meteor"}, "hazard"),
        ({"status": "rehearsal"}, "status"),
        ({"channels": ["pigeon"]}, "channels"),
        ({"expires_at": "2026-12-01T10:00:00"}, "expires_at"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_input_names_the_field_and_creates_nothing(
    client: TestClient,
    role_keys: dict[Role, str],
    db: Database,
    change: dict[str, object],
    field: str,
) -> None:
    seed(db)
    answer = client.post(
        "/api/v1/alerts",
        json={**RED_RAIN, "zones": ["V1"], **change},
        headers=auth(role_keys[Role.officer]),
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field
    assert (count(db, Alert), count(db, Recipient), count(db, Delivery)) == (0, 0, 0)


def test_hazard_zone_targets_its_members_and_cancel_withdraws_queued(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    seed(db)
    officer = auth(role_keys[Role.officer])
    created = client.post("/api/v1/alerts", json={**RED_RAIN, "zones": ["H1"]}, headers=officer)
    assert created.status_code == 201
    alert_id = created.json()["id"]
    assert created.json()["households_targeted"] == 2
    cancelled = client.post(f"/api/v1/alerts/{alert_id}/cancel", headers=officer)
    assert cancelled.json()["state"] == "cancelled"
    with db.transaction() as session:
        states = set(session.scalars(select(Delivery.state)))
    assert states == {DeliveryState.cancelled}
    again = client.post(f"/api/v1/alerts/{alert_id}/cancel", headers=officer)
    assert again.status_code == 409


def test_recipients_filters_and_order(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for n in range(6):
            f.household(
                session,
                grid=zones["G1"] if n % 2 else zones["G2"],
                vulnerability=("disabled",) if n == 5 else (),
            )
    officer = auth(role_keys[Role.officer])
    alert_id = client.post(
        "/api/v1/alerts", json={**RED_RAIN, "zones": ["V1"]}, headers=officer
    ).json()["id"]
    page = client.get(f"/api/v1/alerts/{alert_id}/recipients?limit=2", headers=officer).json()
    assert page["total"] == 6
    assert len(page["items"]) == 2
    assert page["items"][0]["is_vulnerable"] is True
    in_g2 = client.get(f"/api/v1/alerts/{alert_id}/recipients?zone=G2", headers=officer).json()
    assert in_g2["total"] == 3
    assert {i["grid_code"] for i in in_g2["items"]} == {"G2"}
    vulnerable = client.get(
        f"/api/v1/alerts/{alert_id}/recipients?vulnerable=true", headers=officer
    ).json()
    assert vulnerable["total"] == 1
    unknown = client.get(f"/api/v1/alerts/{alert_id}/recipients?zone=XX", headers=officer)
    assert unknown.status_code == 422


def test_preview_shows_every_channel_and_saves_nothing(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    seed(db)
    body = {k: v for k, v in RED_RAIN.items() if k != "channels"}
    answer = client.post(
        "/api/v1/alerts/preview",
        json={**body, "zones": ["V1"], "status": "exercise"},
        headers=auth(role_keys[Role.officer]),
    )
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert shown["households"] == 5
    assert shown["channels"] == ["sms", "voice", "wecom_group", "loudspeaker"]
    sms = shown["sms"]
    assert sms["text"].startswith("【演练】")
    assert "/c/" in sms["text"]
    assert sms["encoding"] == "UCS-2"
    assert sms["segments"] == -(-sms["length"] // 67) if sms["length"] > 70 else 1
    assert "演练" in shown["voice"]
    assert "/c/" not in shown["voice"]
    assert "/public/alerts/" in shown["wecom_group"]
    assert "一百毫米" in shown["loudspeaker_spoken"]
    assert (count(db, Alert), count(db, Recipient), count(db, Delivery)) == (0, 0, 0)
