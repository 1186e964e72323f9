"""An alert's SMS through Tencent Cloud SMS end to end (API + worker + the simulator playing
Tencent, official SDK): the approved template with its parameters, batched status pushes
applied, a reply "1" confirms and a "2" opens a help request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.settings import Settings
from tests.factories import registry as f
from tests.integration.tencent_support import APP_ID, HOOK_TOKEN, SECRET_ID, SECRET_KEY
from tests.stack import Stack, running_stack, wait_until

PHONES = [f"+86139100{n:05d}" for n in range(4)]
ALERT = {
    "hazard": "rain",
    "level": "yellow",
    "headline": "暴雨黄色预警",
    "body": "预计未来6小时降雨量将达30毫米以上。",
    "instruction": "低洼地带居民注意防范。",
    "zones": ["V1"],
}
OPTIONS = {
    "secret_id": SECRET_ID,
    "secret_key": SECRET_KEY,
    "sdk_app_id": APP_ID,
    "endpoint": "{sim_url}/tencent",
    "hook_token": HOOK_TOKEN,
}


def seed(db: Database) -> None:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for phone in PHONES:
            f.household(session, grid=zones["G1"], phones=(phone,))


def received(stack: Stack, template: str) -> dict[str, dict[str, Any]]:
    """The simulator's SendSms requests of one template, by number."""
    sms = httpx.get(f"{stack.sim_url}/api/tencent/sms", timeout=30).json()["sms"]
    return {
        number: request
        for request in sms
        if request.get("TemplateId") == template
        for number in request["PhoneNumberSet"]
    }


def sms_states(db: Database, alert_id: int, notice: str | None = None) -> list[DeliveryState]:
    """The states of the alert's SMS (the warnings, or those of one notice)."""
    of_notice = Delivery.notice.is_(None) if notice is None else Delivery.notice == notice
    with db.read() as session:
        return list(
            session.scalars(
                select(Delivery.state).where(
                    Delivery.alert_id == alert_id, Delivery.channel == "sms", of_notice
                )
            )
        )


def test_an_alert_goes_through_tencent_and_replies_confirm_or_ask_for_help(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    seed(db)
    with (
        running_stack(
            db,
            redis_settings,
            tmp_path / "s",
            media={"sms": ["tencent"]},
            channel_options={"sms_tencent": OPTIONS},
        ) as stack,
        stack.client() as api,
    ):
        hooks = f"{stack.api_url}/hooks/tencent/sms"
        tencent = {
            "secrets": {SECRET_ID: SECRET_KEY},
            "apps": [APP_ID],
            "public_base": stack.api_url,
            "thirty_second_limit": None,
            "status_url": f"{hooks}/status?token={HOOK_TOKEN}",
            "reply_url": f"{hooks}/reply?token={HOOK_TOKEN}",
        }
        httpx.post(f"{stack.sim_url}/api/tencent/config", json=tencent).raise_for_status()
        created = api.post("/api/v1/alerts", json=ALERT)
        assert created.status_code == 201, created.text
        alert_id = created.json()["id"]
        stack.start_worker()

        wait_until(lambda: len(received(stack, "1900101")) == len(PHONES))
        for request in received(stack, "1900101").values():
            sender, level, hazard, headline, token = request["TemplateParamSet"]
            assert (level, hazard, headline) == ("黄色", "暴雨", "暴雨黄色预警")
            assert sender
            assert request["SignName"] == "防汛抗旱指挥部"
            assert request["text"].endswith(f"{stack.api_url}/c/{token}")
            assert api.get(f"/c/{token}").status_code == 200  # the personal link works
        assert stack.sim_messages() == []  # nothing went through Twilio

        # the status pushes are applied: every SMS delivered, every household reached
        wait_until(lambda: sms_states(db, alert_id) == [DeliveryState.delivered] * len(PHONES))

        def counts() -> dict[str, Any]:
            found: dict[str, Any] = api.get(f"/api/v1/alerts/{alert_id}").json()["counts"]
            return found

        for phone, text in ((PHONES[0], "1"), (PHONES[1], "2")):
            pushed = httpx.post(
                f"{stack.sim_url}/api/tencent/reply", json={"phone": phone, "text": text}
            ).json()
            assert pushed["ok"], pushed
        wait_until(lambda: counts()["households_confirmed"] == 1)
        help_requests = api.get("/api/v1/help-requests").json()
        assert [h["phones"] for h in help_requests] == [[PHONES[1]]]
        # each reply is answered through Tencent with its approved template
        wait_until(lambda: PHONES[0] in received(stack, "1900107"))
        wait_until(lambda: PHONES[1] in received(stack, "1900108"))

        # the all-clear says the same to everyone: one request for every number, its
        # receipts placed by Tencent's serial numbers (one SessionContext for them all)
        lifted = api.post(f"/api/v1/alerts/{alert_id}/all-clear", json={"note": "雨停了。"})
        assert lifted.status_code == 200, lifted.text
        wait_until(lambda: len(received(stack, "1900104")) == len(PHONES))
        requests = {r["SendStatusSet"][0]["SerialNo"] for r in received(stack, "1900104").values()}
        assert len(requests) == 1
        wait_until(
            lambda: sms_states(db, alert_id, "all_clear") == [DeliveryState.delivered] * len(PHONES)
        )


def test_sends_whose_answer_never_came_are_looked_up_and_not_sent_again(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    seed(db)
    with (
        running_stack(
            db,
            redis_settings,
            tmp_path / "s",
            media={"sms": ["tencent"]},
            channel_options={"sms_tencent": {**OPTIONS, "lookup_settle_seconds": 600}},
        ) as stack,
        stack.client() as api,
    ):
        control = f"{stack.sim_url}/api/tencent/config"
        tencent = {  # no status_url: only a lookup can tell what became of the sends
            "secrets": {SECRET_ID: SECRET_KEY},
            "apps": [APP_ID],
            "timeout_rate": 1.0,
            "timeout_seconds": 8,  # past the stack's provider timeout (3 s)
            "report_delay_ms": 0,
        }
        httpx.post(control, json=tencent).raise_for_status()
        created = api.post("/api/v1/alerts", json=ALERT)
        assert created.status_code == 201, created.text
        alert_id = created.json()["id"]
        stack.start_worker()

        wait_until(lambda: len(received(stack, "1900101")) == len(PHONES))
        wait_until(lambda: DeliveryState.unknown in sms_states(db, alert_id))
        httpx.post(control, json={"timeout_rate": 0.0}).raise_for_status()

        wait_until(lambda: sms_states(db, alert_id) == [DeliveryState.delivered] * len(PHONES))
        sms = httpx.get(f"{stack.sim_url}/api/tencent/sms", timeout=30).json()["sms"]
        sent = [n for r in sms if r.get("TemplateId") == "1900101" for n in r["PhoneNumberSet"]]
        assert sorted(sent) == PHONES  # each phone once: nothing was sent twice


def test_with_twilio_down_the_sms_go_through_tencent_once_each(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    seed(db)
    breaker = {"min_requests": 2, "error_rate": 0.5, "open_seconds": 30, "probes": 1}
    with (
        running_stack(
            db,
            redis_settings,
            tmp_path / "s",
            {"error_500_rate": 1.0},  # Twilio answers every request 500
            media={"sms": ["twilio", "tencent"]},
            channel_options={"sms_tencent": OPTIONS},
            breaker=breaker,
        ) as stack,
        stack.client() as api,
    ):
        hooks = f"{stack.api_url}/hooks/tencent/sms"
        tencent = {
            "secrets": {SECRET_ID: SECRET_KEY},
            "apps": [APP_ID],
            "status_url": f"{hooks}/status?token={HOOK_TOKEN}",
        }
        httpx.post(f"{stack.sim_url}/api/tencent/config", json=tencent).raise_for_status()
        created = api.post("/api/v1/alerts", json=ALERT)
        assert created.status_code == 201, created.text
        alert_id = created.json()["id"]
        stack.start_worker()

        wait_until(lambda: sms_states(db, alert_id) == [DeliveryState.delivered] * len(PHONES))
        sms = httpx.get(f"{stack.sim_url}/api/tencent/sms", timeout=30).json()["sms"]
        sent = [n for r in sms if r.get("TemplateId") == "1900101" for n in r["PhoneNumberSet"]]
        assert sorted(sent) == PHONES  # each phone once, from Tencent
        assert stack.sim_messages() == []  # Twilio refused everything: it sent nothing
        assert stack.sim.store.counters["injected_500"] > 0


def test_a_drill_goes_to_the_simulator_with_the_drill_template(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    seed(db)
    nowhere = {**OPTIONS, "endpoint": "http://127.0.0.1:9/tencent"}  # the "real" Tencent
    with (
        running_stack(
            db,
            redis_settings,
            tmp_path / "s",
            media={"sms": ["tencent"]},
            channel_options={"sms_tencent": nowhere},
        ) as stack,
        stack.client() as api,
    ):
        hooks = f"{stack.api_url}/hooks/tencent/sms"
        tencent = {
            "secrets": {SECRET_ID: SECRET_KEY},
            "apps": [APP_ID],
            "status_url": f"{hooks}/status?token={HOOK_TOKEN}",
        }
        httpx.post(f"{stack.sim_url}/api/tencent/config", json=tencent).raise_for_status()
        created = api.post("/api/v1/alerts", json={**ALERT, "status": "exercise"})
        assert created.status_code == 201, created.text
        alert_id = created.json()["id"]
        stack.start_worker()

        wait_until(lambda: len(received(stack, "1900151")) == len(PHONES))
        for request in received(stack, "1900151").values():
            assert request["text"].startswith("【防汛抗旱指挥部】【演练】")
        assert received(stack, "1900101") == {}  # never the real warning's template
        wait_until(lambda: sms_states(db, alert_id) == [DeliveryState.delivered] * len(PHONES))
