"""Aliyun down from the start, Twilio next in the SMS list: the breaker opens on Aliyun's
ServiceUnavailable and every household's text goes through Twilio, once, at once — a refused
Aliyun attempt does not hold the number's per-number window."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryAttempt, DeliveryState
from broadcaster.settings import Settings
from broadcaster.sim.aliyun_sms_config import DEFAULT_KEY_ID, DEFAULT_KEY_SECRET
from tests.factories import registry as f
from tests.stack import running_stack, wait_until

HOUSEHOLDS = 20
PHONES = [f"+861390077{n:04d}" for n in range(HOUSEHOLDS)]
MEDIA = json.dumps({"sms": ["aliyun", "twilio"]})
ALERT = {
    "hazard": "rain",
    "level": "orange",
    "headline": "暴雨橙色预警",
    "body": "预计未来6小时降雨量将达50毫米以上。",
    "zones": ["V1"],
}
BREAKER = {"min_requests": 5, "error_rate": 0.6, "open_seconds": 30, "probes": 1}


def test_aliyun_down_sends_through_twilio_once_each(
    db: Database, redis_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for phone in PHONES:
            f.household(session, grid=zones["G1"], phones=(phone,))
    monkeypatch.setenv("BROADCASTER_MEDIA", MEDIA)
    # Aliyun's default per-number limits (1 a minute): a refused attempt gives its count back
    options = {"aliyun": {"access_key_id": DEFAULT_KEY_ID, "access_key_secret": DEFAULT_KEY_SECRET}}
    with running_stack(
        db, redis_settings, tmp_path / "s", channel_options=options, breaker=BREAKER
    ) as stack:
        stack.env["BROADCASTER_CHANNEL_OPTIONS__ALIYUN__ENDPOINT"] = f"{stack.sim_url}/dysmsapi"
        stack.env["BROADCASTER_MEDIA"] = MEDIA
        httpx.post(f"{stack.sim_url}/api/aliyun/faults", json={"down": True}).raise_for_status()
        with stack.client() as api:
            created = api.post("/api/v1/alerts", json=ALERT)
            assert created.status_code == 201, created.text
            alert_id = created.json()["id"]
        stack.start_worker()

        def delivered() -> bool:
            with db.read() as session:
                states = session.scalars(
                    select(Delivery.state).where(Delivery.alert_id == alert_id)
                ).all()
            return len(states) == HOUSEHOLDS and set(states) == {DeliveryState.delivered}

        wait_until(delivered)
        texts = [m.to for m in stack.sim_messages() if m.direction == "outbound-api"]
        assert sorted(texts) == sorted(PHONES)  # through Twilio, once each
        aliyun = httpx.get(f"{stack.sim_url}/api/aliyun/sms", timeout=30).json()
        assert aliyun["sms"] == []
        with db.read() as session:
            attempts = session.scalars(select(DeliveryAttempt)).all()
        assert {a.provider for a in attempts if a.outcome is DeliveryState.delivered} == {"twilio"}
        # no text waited for a minute its refused Aliyun attempt had taken
        assert "number_limit" not in {a.error_code for a in attempts}
