"""Sensor readings: thresholds raise one alert, a higher level updates it, hysteresis and
cooldown keep quiet, impossible or late readings never trigger."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from broadcaster.alerts.models import Alert, MsgType
from broadcaster.auth.models import Role
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery
from broadcaster.feeds.models import AlertMessage, StationState
from broadcaster.settings import Settings
from tests.api_fixtures import auth
from tests.factories import registry as f
from tests.integration.feeds_support import config_copy, counts

RULES = """
[stations.GAUGE-1]
name = "测试水文站"
zones = ["V1"]
[stations.GAUGE-1.water_level]
unit = "m"
plausible = [150.0, 200.0]
warning_level = 180.0
guarantee_level = 183.0
hysteresis = 0.5
cooldown = "1h"

[stations.RAIN-1]
name = "测试雨量站"
zones = ["G2"]
[stations.RAIN-1.rainfall_1h]
thresholds = { yellow = 30.0, red = 80.0 }
hysteresis = 5.0
cooldown = "30m"
"""
START = utcnow().replace(microsecond=0) - dt.timedelta(hours=5)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        data_dir=tmp_path / "var",
        public_base_url="http://testserver",
        config_dir=config_copy(tmp_path, rules=RULES),
    )


def seed(db: Database) -> None:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for grid in ("G1", "G1", "G2"):
            f.household(session, grid=zones[grid])


def reading(station: str, kind: str, value: float, minute: int, unit: str = "m") -> dict[str, Any]:
    at = START + dt.timedelta(minutes=minute)
    return {
        "station": station,
        "kind": kind,
        "value": value,
        "unit": unit,
        "observed_at": at.isoformat(),
    }


def level(value: float, minute: int) -> dict[str, Any]:
    return reading("GAUGE-1", "water_level", value, minute)


def rain(value: float, minute: int) -> dict[str, Any]:
    return reading("RAIN-1", "rainfall_1h", value, minute, "mm")


def post(client: TestClient, key: str, *items: dict[str, Any]) -> list[dict[str, Any]]:
    answer = client.post(
        "/api/v1/feeds/readings", json={"readings": list(items)}, headers=auth(key)
    )
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


def outcomes(client: TestClient, key: str, *items: dict[str, Any]) -> list[str]:
    return [r["outcome"] for r in post(client, key, *items)]


def test_water_level_through_warning_and_guarantee_is_one_alert_and_one_update(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    seed(db)
    feed = role_keys[Role.feed]
    assert outcomes(client, feed, level(178.0, 0), level(180.2, 10), level(181.5, 20)) == [
        "recorded",
        "alert",
        "recorded",
    ]
    with db.read() as session:
        alert = session.scalars(select(Alert)).one()
    assert (alert.level.value, alert.state.value, alert.households_targeted) == (
        "orange",
        "sending",
        3,
    )
    assert "警戒水位" in alert.headline
    assert "180.2米" in alert.body
    with db.read() as session:
        sms_before = session.scalar(select(func.count()).where(Delivery.channel == "sms"))
    rose = post(client, feed, level(183.1, 30))
    with db.read() as session:
        sms_after = session.scalar(select(func.count()).where(Delivery.channel == "sms"))
    assert sms_before
    assert sms_after == 2 * sms_before  # red reaches every unconfirmed home again
    assert (rose[0]["outcome"], rose[0]["alert_id"], rose[0]["level"]) == (
        "update",
        alert.id,
        "red",
    )
    # Falling inside the band (183.0 − 0.5) and rising again: nothing.
    assert outcomes(client, feed, level(182.8, 40), level(183.4, 50)) == ["recorded", "recorded"]
    # Below the band, then past the guarantee level again while the alert is still red: nothing.
    assert outcomes(client, feed, level(182.0, 60), level(183.2, 70)) == [
        "recorded",
        "already_alerted",
    ]
    with db.read() as session:
        alerts = session.scalars(select(Alert)).all()
        updates = session.scalars(
            select(AlertMessage).where(AlertMessage.msg_type == MsgType.update)
        ).all()
        state = session.scalars(select(StationState)).one()
    assert len(alerts) == 1
    assert len(updates) == 1
    assert (alerts[0].level.value, alerts[0].msg_type) == ("red", MsgType.update)
    assert "保证水位" in alerts[0].headline
    assert (state.level, state.last_value, state.alert_id) == (alerts[0].level, 183.2, alert.id)


def test_late_readings_never_trigger(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    seed(db)
    feed = role_keys[Role.feed]
    assert outcomes(client, feed, level(179.0, 30)) == ["recorded"]
    late = post(client, feed, level(185.0, 20), level(185.0, 30))
    assert [r["outcome"] for r in late] == ["late", "late"]
    assert counts(db)["alerts"] == 0
    # A backlog older than the alert would run (12 h by default) never warns.
    stale = post(client, feed, rain(95.0, -8 * 60))[0]
    assert (stale["outcome"], stale["alert_id"]) == ("stale", None)
    # In one batch the readings are taken in the order observed, whatever the order sent.
    assert outcomes(client, feed, level(181.0, 50), level(179.5, 40)) == ["alert", "recorded"]


def test_cooldown_after_an_ended_alert_then_a_new_one(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    seed(db)
    feed, officer = role_keys[Role.feed], auth(role_keys[Role.officer])
    first = post(client, feed, rain(35.0, 0))[0]
    assert first["outcome"] == "alert"
    assert client.post(f"/api/v1/alerts/{first['alert_id']}/cancel", headers=officer).is_success
    assert outcomes(client, feed, rain(10.0, 10), rain(40.0, 20)) == ["recorded", "cooldown"]
    again = post(client, feed, rain(42.0, 35))[0]
    assert again["outcome"] == "alert"
    assert again["alert_id"] != first["alert_id"]


def test_a_red_reading_waits_for_an_officer(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    seed(db)
    result = post(client, role_keys[Role.feed], rain(85.0, 0))[0]
    assert (result["outcome"], result["level"]) == ("alert", "red")
    with db.read() as session:
        alert = session.get(Alert, result["alert_id"])
        assert alert is not None
        assert alert.state.value == "pending_approval"
    assert counts(db)["deliveries"] == 0


def test_impossible_readings_are_rejected_one_by_one_and_good_ones_count(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    seed(db)
    now = utcnow()
    batch = [
        rain(12.0, 0),
        reading("NOWHERE", "rainfall_1h", 5.0, 0, "mm"),
        rain(-3.0, 1),
        level(250.0, 0),
        reading("GAUGE-1", "water_level", 17950.0, 1, "cm"),
        reading("GAUGE-1", "rainfall_24h", 1.0, 1, "mm"),
        {"station": "RAIN-1", "kind": "rainfall_1h", "unit": "mm", "observed_at": now.isoformat()},
        {**rain(1.0, 2), "observed_at": "2024-07-01T08:00:00"},
        {**rain(1.0, 2), "observed_at": (now + dt.timedelta(hours=2)).isoformat()},
        level(179.0, 2),
    ]
    results = post(client, role_keys[Role.feed], *batch)
    assert [r["outcome"] for r in results] == ["recorded"] + ["rejected"] * 8 + ["recorded"]
    reasons = [r["reason"] for r in results]
    assert "unknown station NOWHERE" in reasons[1]
    assert "rainfall cannot be negative" in reasons[2]
    assert "plausible range [150.0, 200.0]" in reasons[3]
    assert "unit mismatch: expected m, got cm" in reasons[4]
    assert "does not measure rainfall_24h" in reasons[5]
    assert reasons[6].startswith("value:")
    assert "time zone" in reasons[7]
    assert "future" in reasons[8]
    assert counts(db)["stations"] == 2


def test_only_feeds_and_admins_post_readings(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    answer = client.post(
        "/api/v1/feeds/readings",
        json={"readings": [rain(1.0, 0)]},
        headers=auth(role_keys[Role.officer]),
    )
    assert answer.status_code == 403
    assert counts(db)["stations"] == 0
