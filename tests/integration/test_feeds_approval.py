"""Approval: held alerts have households but no deliveries until a second person approves."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from broadcaster.auth import service as auth_service
from broadcaster.auth.audit import SYSTEM
from broadcaster.auth.models import Role, User
from broadcaster.db.database import Database
from broadcaster.settings import PACKAGE_CONFIG_DIR, Settings
from tests.api_fixtures import auth
from tests.factories import registry as f
from tests.factories.alerts import RED_RAIN
from tests.integration.feeds_support import config_copy, counts, deliveries_of

YELLOW = {**RED_RAIN, "level": "yellow", "headline": "暴雨黄色预警"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Red alerts by a person need a second person (two_person = true)."""
    policies = (PACKAGE_CONFIG_DIR / "policies.toml").read_text(encoding="utf-8")
    assert "two_person = false" in policies
    return Settings(
        env="test",
        data_dir=tmp_path / "var",
        public_base_url="http://testserver",
        config_dir=config_copy(
            tmp_path, policies=policies.replace("two_person = false", "two_person = true")
        ),
    )


def seed(db: Database) -> None:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for _ in range(3):
            f.household(session, grid=zones["G1"])


def second_key(db: Database, username: str) -> str:
    with db.transaction() as session:
        user = session.query(User).filter_by(username=username).one()
        _row, key = auth_service.create_api_key(session, user=user, actor=SYSTEM)
    return key


def other_officer(db: Database) -> str:
    with db.transaction() as session:
        user = auth_service.create_user(
            session, username="u-officer-2", role=Role.officer, actor=SYSTEM
        )
        _row, key = auth_service.create_api_key(session, user=user, actor=SYSTEM)
    return key


def test_two_person_rule_for_a_red_alert_by_an_officer(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    seed(db)
    officer = auth(role_keys[Role.officer])
    created = client.post("/api/v1/alerts", json={**RED_RAIN, "zones": ["V1"]}, headers=officer)
    assert created.status_code == 201, created.text
    alert = created.json()
    assert (alert["state"], alert["households_targeted"], alert["issued_at"]) == (
        "pending_approval",
        3,
        None,
    )
    assert deliveries_of(db, alert["id"]) == []
    listed = client.get("/api/v1/alerts", params={"state": "pending_approval"}, headers=officer)
    assert [a["id"] for a in listed.json()] == [alert["id"]]
    url = f"/api/v1/alerts/{alert['id']}/approve"
    own = client.post(url, headers=officer)
    assert own.status_code == 409
    assert "two-person" in own.json()["message"]
    same_person = client.post(url, headers=auth(second_key(db, "u-officer")))
    assert same_person.status_code == 409
    assert deliveries_of(db, alert["id"]) == []
    approved = client.post(url, headers=auth(other_officer(db)))
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "sending"
    assert approved.json()["issued_at"] is not None
    assert approved.json()["approved_by"].startswith("user:u-officer-2/")
    assert len([d for d in deliveries_of(db, alert["id"]) if d.channel == "sms"]) == 3
    again = client.post(url, headers=auth(role_keys[Role.admin]))
    assert again.status_code == 409


def test_reject_ends_the_alert_unsent_with_the_reason(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    seed(db)
    created = client.post(
        "/api/v1/alerts", json={**RED_RAIN, "zones": ["V1"]}, headers=auth(role_keys[Role.admin])
    ).json()
    rejected = client.post(
        f"/api/v1/alerts/{created['id']}/reject",
        json={"reason": "误报 / false alarm"},
        headers=auth(role_keys[Role.officer]),
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["state"] == "cancelled"
    assert "false alarm" in rejected.json()["note"]
    assert counts(db)["deliveries"] == 0
    late = client.post(
        f"/api/v1/alerts/{created['id']}/approve", headers=auth(role_keys[Role.officer])
    )
    assert late.status_code == 409


def test_a_feed_red_alert_waits_and_lower_levels_go_at_once(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    seed(db)
    feed = auth(role_keys[Role.feed])
    red = client.post("/api/v1/alerts", json={**RED_RAIN, "zones": ["V1"]}, headers=feed).json()
    yellow = client.post("/api/v1/alerts", json={**YELLOW, "zones": ["V1"]}, headers=feed).json()
    assert (red["state"], yellow["state"]) == ("pending_approval", "sending")
    assert deliveries_of(db, red["id"]) == []
    assert len(deliveries_of(db, yellow["id"])) == 3
    approved = client.post(
        f"/api/v1/alerts/{red['id']}/approve", headers=auth(role_keys[Role.officer])
    )
    assert approved.status_code == 200


def test_an_officer_red_alert_goes_at_once_without_the_two_person_rule(
    client: TestClient, role_keys: dict[Role, str], db: Database, settings: Settings
) -> None:
    (settings.config_dir / "policies.toml").write_text(
        (PACKAGE_CONFIG_DIR / "policies.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    seed(db)
    created = client.post(
        "/api/v1/alerts", json={**RED_RAIN, "zones": ["V1"]}, headers=auth(role_keys[Role.officer])
    )
    assert created.json()["state"] == "sending"
    assert len(deliveries_of(db, created.json()["id"])) == 3


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_feeds_and_operators_cannot_approve(
    client: TestClient, role_keys: dict[Role, str], action: str
) -> None:
    for role in (Role.feed, Role.operator, Role.field):
        answer = client.post(f"/api/v1/alerts/1/{action}", headers=auth(role_keys[role]))
        assert answer.status_code == 403
