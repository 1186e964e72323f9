"""An alert's SMS through Aliyun end to end (API + worker + the official SDK + the simulator
playing Aliyun): accepted with the approved template and the household's variables, receipts
pushed in batches mark deliveries delivered, an SmsUp "1" confirms and a "2" asks for help."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from broadcaster.alerts.models import Recipient, RecipientState
from broadcaster.confirm.models import HelpRequest
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryAttempt, DeliveryState
from broadcaster.registry.models import Person
from broadcaster.settings import Settings
from broadcaster.sim.aliyun_sms_config import DEFAULT_KEY_ID, DEFAULT_KEY_SECRET
from tests.factories import registry as f
from tests.stack import Stack, running_stack, wait_until

HOUSEHOLDS = 6
PHONES = [f"+861390088{n:04d}" for n in range(HOUSEHOLDS)]
PUSH_TOKEN = "aliyun-push-token-e2e-0123456789"
MEDIA = json.dumps({"sms": ["aliyun"]})
ALERT = {
    "hazard": "rain",
    "level": "orange",
    "headline": "暴雨橙色预警",
    "body": "预计未来6小时降雨量将达50毫米以上。",
    "instruction": "危险区人员做好转移准备。",
    "zones": ["V1"],
}


def seed(db: Database) -> None:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for phone in PHONES:
            f.household(session, grid=zones["G1"], phones=(phone,))


def aliyun(stack: Stack, path: str, **body: Any) -> Any:
    url = f"{stack.sim_url}/api/aliyun/{path}"
    answer = httpx.post(url, json=body, timeout=30) if body else httpx.get(url, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def sms_states(db: Database, alert_id: int) -> list[DeliveryState]:
    with db.read() as session:
        return list(
            session.scalars(
                select(Delivery.state).where(
                    Delivery.alert_id == alert_id, Delivery.notice.is_(None)
                )
            )
        )


def recipient_of(db: Database, phone: str) -> RecipientState:
    with db.read() as session:
        state = session.scalar(
            select(Recipient.state)
            .join(Person, Person.household_id == Recipient.household_id)
            .where(Person.phone == phone)
        )
    assert state is not None
    return state


def test_alert_sms_through_aliyun_receipts_and_replies(
    db: Database, redis_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(db)
    monkeypatch.setenv("BROADCASTER_MEDIA", MEDIA)
    options = {
        "aliyun": {
            "access_key_id": DEFAULT_KEY_ID,
            "access_key_secret": DEFAULT_KEY_SECRET,
            "push_token": PUSH_TOKEN,
        },
    }
    with running_stack(db, redis_settings, tmp_path / "s", channel_options=options) as stack:
        options["aliyun"]["endpoint"] = f"{stack.sim_url}/dysmsapi"
        stack.env["BROADCASTER_CHANNEL_OPTIONS__ALIYUN__ENDPOINT"] = f"{stack.sim_url}/dysmsapi"
        stack.env["BROADCASTER_MEDIA"] = MEDIA
        hooks = f"{stack.api_url}/hooks/aliyun"
        aliyun(
            stack,
            "sms/config",
            public_base=stack.api_url,
            report_url=f"{hooks}/sms_report?token={PUSH_TOKEN}",
            up_url=f"{hooks}/sms_up?token={PUSH_TOKEN}",
            report_delay_ms=500,
        )
        with stack.client() as api:
            created = api.post("/api/v1/alerts", json=ALERT)
            assert created.status_code == 201, created.text
            alert_id = created.json()["id"]
        stack.start_worker()

        wait_until(lambda: len(aliyun(stack, "sms")["sms"]) == HOUSEHOLDS)
        sent = aliyun(stack, "sms")["sms"]
        assert sorted(s["phone_number"] for s in sent) == sorted(p[3:] for p in PHONES)
        with db.read() as session:
            deliveries = {
                d.id: d
                for d in session.scalars(select(Delivery).where(Delivery.alert_id == alert_id))
            }
        tokens = set()
        for sms in sent:
            assert (sms["SignName"], sms["TemplateCode"]) == ("防汛抗旱指挥部", "SMS_480000110")
            params = json.loads(sms["TemplateParam"])
            assert params["headline"] == "暴雨橙色预警"
            assert (params["level"], params["hazard"]) == ("橙色", "暴雨")
            delivery = deliveries[int(sms["OutId"])]
            assert delivery.address == "+86" + sms["phone_number"]
            assert sms["text"].endswith(f"{stack.api_url}/c/{params['token']}")
            tokens.add(params["token"])
        assert len(tokens) == HOUSEHOLDS

        # receipts: pushed as JSON arrays, applied in batches, every delivery delivered
        wait_until(lambda: sms_states(db, alert_id) == [DeliveryState.delivered] * HOUSEHOLDS)
        pushes = aliyun(stack, "pushes")["pushes"]
        assert all(p["ok"] for p in pushes)
        assert sum(len(p["items"]) for p in pushes) == HOUSEHOLDS
        assert max(len(p["items"]) for p in pushes) > 1  # batches, not one push each
        with db.read() as session:
            by_id = {d.id: d.provider_id for d in session.scalars(select(Delivery))}
            providers = set(session.scalars(select(DeliveryAttempt.provider)))
        assert {by_id[int(s["OutId"])] for s in sent} == {s["BizId"] for s in sent}
        assert providers == {"aliyun"}

        # replies: "1" confirms the household, "2" opens a help request
        aliyun(stack, "sms/up", phone_number=PHONES[0], content="1")
        aliyun(stack, "sms/up", phone_number=PHONES[1], content="2")
        wait_until(lambda: recipient_of(db, PHONES[0]) is RecipientState.confirmed)
        wait_until(lambda: recipient_of(db, PHONES[1]) is RecipientState.needs_help)
        with db.read() as session:
            assert session.scalar(select(func.count()).select_from(HelpRequest)) == 1
        ups = [p for p in aliyun(stack, "pushes")["pushes"] if p["kind"] == "SmsUp"]
        assert [p["response"] for p in ups] == ['{"code":0,"msg":"成功"}'] * 2
        with db.read() as session:  # acknowledged, or waiting out the per-number limit
            acks = session.scalars(select(Delivery).where(Delivery.notice.is_not(None))).all()
        assert sorted(d.notice or "" for d in acks) == ["ack_help", "ack_safe"]
        assert not any(d.state is DeliveryState.failed for d in acks)


def test_pushes_without_the_token_are_refused(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    token = "t" * 24
    options = {"aliyun": {"access_key_id": "k", "access_key_secret": "s", "push_token": token}}
    with running_stack(db, redis_settings, tmp_path / "s", channel_options=options) as stack:
        url = f"{stack.api_url}/hooks/aliyun/sms_up"
        item = [{"phone_number": PHONES[0], "content": "1", "sequence_id": 7}]
        assert httpx.post(url, json=item, timeout=30).status_code == 403
        assert httpx.post(f"{url}?token=wrong", json=item, timeout=30).status_code == 403
        accepted = httpx.post(f"{url}?token={token}", json=item, timeout=30)
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["code"] == 0


def test_a_timed_out_send_is_looked_up_never_resent(
    db: Database, redis_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SendSms answers after our timeout (but sends): the deliveries are unknown, and
    QuerySendDetails (no pushes configured) finds them delivered; nobody gets a second text."""
    seed(db)
    monkeypatch.setenv("BROADCASTER_MEDIA", MEDIA)
    options = {"aliyun": {"access_key_id": DEFAULT_KEY_ID, "access_key_secret": DEFAULT_KEY_SECRET}}
    with running_stack(db, redis_settings, tmp_path / "s", channel_options=options) as stack:
        stack.env["BROADCASTER_CHANNEL_OPTIONS__ALIYUN__ENDPOINT"] = f"{stack.sim_url}/dysmsapi"
        stack.env["BROADCASTER_MEDIA"] = MEDIA
        aliyun(stack, "sms/config", public_base=stack.api_url)
        aliyun(stack, "faults", timeout_rate=1, timeout_seconds=6)
        with stack.client() as api:
            created = api.post("/api/v1/alerts", json=ALERT)
            assert created.status_code == 201, created.text
            alert_id = created.json()["id"]
        stack.start_worker()

        wait_until(lambda: sms_states(db, alert_id) == [DeliveryState.delivered] * HOUSEHOLDS)
        sent = aliyun(stack, "sms")["sms"]
        assert sorted(s["phone_number"] for s in sent) == sorted(p[3:] for p in PHONES)
        assert {s["fault"] for s in sent} == {"timeout"}
        with db.read() as session:
            attempts = session.scalars(select(DeliveryAttempt)).all()
            rows = session.scalars(select(Delivery).where(Delivery.alert_id == alert_id)).all()
        assert len(rows) == len(attempts) == HOUSEHOLDS  # no resend, no second attempt
        assert {d.provider_id for d in rows} == {f"out:{d.id}" for d in rows}


def test_a_drill_goes_to_the_simulator_never_to_aliyun(
    db: Database, redis_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exercise alert's SMS reach the drill simulator; the simulator playing the real
    Aliyun (the configured endpoint) gets nothing."""
    seed(db)
    monkeypatch.setenv("BROADCASTER_MEDIA", MEDIA)
    options = {"aliyun": {"access_key_id": DEFAULT_KEY_ID, "access_key_secret": DEFAULT_KEY_SECRET}}
    with running_stack(
        db, redis_settings, tmp_path / "s", real_provider=True, channel_options=options
    ) as stack:
        real = stack.settings.twilio.api_base_url
        stack.env["BROADCASTER_CHANNEL_OPTIONS__ALIYUN__ENDPOINT"] = f"{real}/dysmsapi"
        stack.env["BROADCASTER_MEDIA"] = MEDIA
        with stack.client() as api:
            created = api.post("/api/v1/alerts", json={**ALERT, "status": "exercise"})
            assert created.status_code == 201, created.text
            alert_id = created.json()["id"]
        stack.start_worker()

        wait_until(lambda: sms_states(db, alert_id) == [DeliveryState.delivered] * HOUSEHOLDS)
        drills = aliyun(stack, "sms")["sms"]
        assert len(drills) == HOUSEHOLDS
        assert {s["TemplateCode"] for s in drills} == {"SMS_480000160"}  # drill.alert
        assert all("【演练】" in s["text"] for s in drills)
        assert httpx.get(f"{real}/api/aliyun/sms", timeout=30).json() == {"sms": [], "refused": []}


def test_batched_texts_are_delivered_by_their_pushed_receipts(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    """SendBatchSms (one OutId and BizId for the batch): each pushed receipt finds its
    delivery by the batch's BizId and its number; no lookup is asked for (none would come
    in time), so the receipts alone mark every text delivered. (A receipt pushed before the
    worker stored the send's answer finds nothing yet: the lookup of texts long `sent`
    settles those; receipts come a second or more after the send, as carriers report.)"""
    seed(db)
    options = {
        "aliyun": {
            "access_key_id": DEFAULT_KEY_ID,
            "access_key_secret": DEFAULT_KEY_SECRET,
            "push_token": PUSH_TOKEN,
            "endpoint": "{sim_url}/dysmsapi",
        },
        "sms_aliyun": {"batch": True},
    }
    with running_stack(
        db,
        redis_settings,
        tmp_path / "s",
        channel_options=options,
        media={"sms": ["aliyun"]},
        status_lookup_after_seconds=600,
    ) as stack:
        hooks = f"{stack.api_url}/hooks/aliyun"
        aliyun(
            stack,
            "sms/config",
            public_base=stack.api_url,
            report_url=f"{hooks}/sms_report?token={PUSH_TOKEN}",
            report_delay_ms=1500,
        )
        with stack.client() as api:
            created = api.post("/api/v1/alerts", json=ALERT)
            assert created.status_code == 201, created.text
            alert_id = created.json()["id"]
        stack.start_worker()

        wait_until(lambda: sms_states(db, alert_id) == [DeliveryState.delivered] * HOUSEHOLDS)
        sent = aliyun(stack, "sms")["sms"]
        assert {s["Action"] for s in sent} == {"SendBatchSms"}
        pushes = aliyun(stack, "pushes")["pushes"]
        assert all(p["ok"] for p in pushes)
        assert sum(len(p["items"]) for p in pushes) == HOUSEHOLDS  # each receipt pushed once
        with db.read() as session:
            ids = set(session.scalars(select(Delivery.provider_id)))
        assert ids == {f"{s['BizId']}#{s['phone_number']}" for s in sent}
