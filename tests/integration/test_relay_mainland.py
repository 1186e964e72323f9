"""Relay through the mainland SMS providers end to end (API, worker, the official SDKs, the
simulator playing Aliyun and Tencent): a red alert's group owners get the approved `relay`
template with their relay link's token, the link opens the relay page, and the pushed
receipts mark the relay deliveries delivered — no Twilio involved."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryAttempt, DeliveryState
from broadcaster.settings import Settings
from broadcaster.sim.aliyun_sms_config import DEFAULT_KEY_ID, DEFAULT_KEY_SECRET
from tests.factories.alerts import RED_RAIN
from tests.integration.relay_support import seed_village, tasks_by_group
from tests.stack import running_stack, wait_until

ALERT = {**RED_RAIN, "zones": ["V1"]}
GROUP_NAMES = {"WC1": "一村居民群", "WC2": "一村一网格群", "QQ1": "一村防汛QQ群"}
OWNERS = len(GROUP_NAMES)  # the relay village's two WeChat groups and one QQ group
ALIYUN_RELAY = "SMS_480000118"  # the relay template of the shipped Aliyun SMS book
TENCENT_RELAY = "1900109"  # and of the Tencent one
PUSH_TOKEN = "relay-push-token-0123456789abcdef"
TENCENT = {
    "secret_id": "AKIDrelay0123456789abcdef",
    "secret_key": "relay-tencent-secret-key-0123456789",
    "sdk_app_id": "1400000002",
    "endpoint": "{sim_url}/tencent",
    "hook_token": PUSH_TOKEN,
}


def relay_deliveries(db: Database, alert_id: int) -> dict[int, Delivery]:
    with db.read() as session:
        rows = session.scalars(
            select(Delivery).where(Delivery.alert_id == alert_id, Delivery.channel == "relay")
        ).all()
        session.expunge_all()
    return {d.id: d for d in rows}


def relay_states(db: Database, alert_id: int) -> list[DeliveryState]:
    return [d.state for d in relay_deliveries(db, alert_id).values()]


def attempt_providers(db: Database, delivery_ids: list[int]) -> set[str]:
    with db.read() as session:
        return set(
            session.scalars(
                select(DeliveryAttempt.provider).where(
                    DeliveryAttempt.delivery_id.in_(delivery_ids)
                )
            )
        )


def test_relay_texts_through_aliyun_with_the_relay_template_and_receipts(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    village = seed_village(db)
    options = {
        "aliyun": {
            "access_key_id": DEFAULT_KEY_ID,
            "access_key_secret": DEFAULT_KEY_SECRET,
            "push_token": PUSH_TOKEN,
        },
        "sms_aliyun": {"endpoint": "{sim_url}/dysmsapi"},  # the relay shares the SMS table
    }
    with (
        running_stack(
            db, redis_settings, tmp_path / "s", media={"relay": ["aliyun"]}, channel_options=options
        ) as stack,
        stack.client() as api,
        httpx.Client(timeout=30) as phone,
    ):
        hooks = f"{stack.api_url}/hooks/aliyun"
        config = {
            "public_base": stack.api_url,
            "report_url": f"{hooks}/sms_report?token={PUSH_TOKEN}",
            "report_delay_ms": 200,
        }
        httpx.post(f"{stack.sim_url}/api/aliyun/sms/config", json=config).raise_for_status()
        created = api.post("/api/v1/alerts", json=ALERT)
        assert created.status_code == 201, created.text
        alert_id = created.json()["id"]
        stack.start_worker()

        def relayed() -> list[dict[str, Any]]:
            sms = httpx.get(f"{stack.sim_url}/api/aliyun/sms", timeout=30).json()["sms"]
            return [s for s in sms if s["TemplateCode"] == ALIYUN_RELAY]

        wait_until(lambda: len(relayed()) == OWNERS)
        deliveries = relay_deliveries(db, alert_id)
        assert set(tasks_by_group(db, alert_id)) == set(GROUP_NAMES)
        owner_of = {p[3:]: code for code, p in village.owner_phones.items()}
        assert sorted(owner_of) == sorted(s["phone_number"] for s in relayed())
        for sms in relayed():
            assert sms["SignName"] == "防汛抗旱指挥部"
            params = json.loads(sms["TemplateParam"])
            assert (params["level"], params["hazard"]) == ("红色", "暴雨")
            assert params["headline"] == "暴雨红色预警"
            code = owner_of[sms["phone_number"]]
            assert params["group"].endswith(f"「{GROUP_NAMES[code]}」")
            link = f"{stack.api_url}/relay/{params['token']}"
            assert sms["text"].endswith(f"转发内容：{link}")
            assert deliveries[int(sms["OutId"])].address == "+86" + sms["phone_number"]
            assert phone.get(link).status_code == 200  # the owner's relay page opens
        assert not [m for m in stack.sim_messages() if "/relay/" in m.body]  # none by Twilio

        # the SmsReport pushes find the relay deliveries by their OutId
        wait_until(lambda: relay_states(db, alert_id) == [DeliveryState.delivered] * OWNERS)
        done = relay_deliveries(db, alert_id)
        assert {d.provider_id for d in done.values()} == {s["BizId"] for s in relayed()}
        assert attempt_providers(db, list(done)) == {"aliyun"}


def test_relay_texts_through_tencent_with_the_relay_template_and_receipts(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    village = seed_village(db)
    with (
        running_stack(
            db,
            redis_settings,
            tmp_path / "s",
            media={"relay": ["tencent"]},
            channel_options={"sms_tencent": TENCENT},
        ) as stack,
        stack.client() as api,
    ):
        hooks = f"{stack.api_url}/hooks/tencent/sms"
        config = {
            "secrets": {TENCENT["secret_id"]: TENCENT["secret_key"]},
            "apps": [TENCENT["sdk_app_id"]],
            "public_base": stack.api_url,
            "thirty_second_limit": None,
            "status_url": f"{hooks}/status?token={PUSH_TOKEN}",
        }
        httpx.post(f"{stack.sim_url}/api/tencent/config", json=config).raise_for_status()
        created = api.post("/api/v1/alerts", json=ALERT)
        assert created.status_code == 201, created.text
        alert_id = created.json()["id"]
        stack.start_worker()

        def relayed() -> dict[str, dict[str, Any]]:
            sms = httpx.get(f"{stack.sim_url}/api/tencent/sms", timeout=30).json()["sms"]
            return {
                number: request
                for request in sms
                if request.get("TemplateId") == TENCENT_RELAY
                for number in request["PhoneNumberSet"]
            }

        wait_until(lambda: len(relayed()) == OWNERS)
        assert sorted(relayed()) == sorted(village.owner_phones.values())
        for request in relayed().values():
            sender, level, hazard, group, headline, token = request["TemplateParamSet"]
            assert (level, hazard, headline) == ("红色", "暴雨", "暴雨红色预警")
            assert sender
            assert group.endswith("」")
            assert request["text"].endswith(f"{stack.api_url}/relay/{token}")
            assert api.get(f"/relay/{token}").status_code == 200

        wait_until(lambda: relay_states(db, alert_id) == [DeliveryState.delivered] * OWNERS)
        assert attempt_providers(db, list(relay_deliveries(db, alert_id))) == {"tencent"}
