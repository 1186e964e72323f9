"""Calls through Aliyun voice end to end (and failing over from it), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from broadcaster.alerts.models import Recipient, RecipientState
from broadcaster.confirm.models import Answer, Confirmation, ConfirmVia, HelpRequest
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryAttempt, DeliveryState
from broadcaster.registry.models import Person
from broadcaster.settings import Settings
from channels.voice_aliyun import SIM_PATH
from tests.factories import registry as f
from tests.integration.aliyun_voice_support import SimVoice, account, options, push_urls
from tests.stack import Stack, running_stack, wait_until

PHONES = [f"+86139000200{n:02d}" for n in range(4)]
BUSY = PHONES[3]
RED = {
    "hazard": "rain",
    "level": "red",
    "headline": "暴雨红色预警",
    "body": "预计未来3小时降雨量将达100毫米以上。",
    "instruction": "危险区人员立即转移。",
    "zones": ["V1"],
    "channels": ["voice"],
}
MEDIA = {"voice": ["aliyun"]}


def seed(db: Database) -> None:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for phone in PHONES:
            f.household(session, grid=zones["G1"], phones=(phone,))


def calls(db: Database) -> dict[str, tuple[DeliveryState, str | None, str | None]]:
    """Each phone's call delivery: state, error code, provider id."""
    with db.read() as session:
        rows = session.execute(
            select(
                Delivery.address, Delivery.state, Delivery.error_code, Delivery.provider_id
            ).where(Delivery.channel == "voice")
        ).all()
    return {address: (state, code, call_id) for address, state, code, call_id in rows}


def household(db: Database, phone: str) -> RecipientState:
    with db.read() as session:
        state = session.scalar(
            select(Recipient.state)
            .join(Person, Person.household_id == Recipient.household_id)
            .where(Person.phone == phone)
        )
    assert state is not None
    return state


@contextmanager
def aliyun_stack(
    db: Database, redis_settings: Settings, data_dir: Path, media: Any = MEDIA, **stack: Any
) -> Iterator[Stack]:
    """The stack with voice carried by Aliyun, calling the simulator that plays the provider
    (the API reads BROADCASTER_MEDIA from the environment, the workers from theirs)."""
    with running_stack(
        db, redis_settings, data_dir, channel_options={"aliyun": options()}, **stack
    ) as running:
        assert running.settings.media == media
        running.env["BROADCASTER_MEDIA"] = json.dumps(media)
        running.env["BROADCASTER_VOICE__PER_NUMBER_PER_MINUTE"] = "5"
        provider = running.settings.twilio.api_base_url or running.sim_url
        endpoint = f"{provider}/{SIM_PATH}"
        running.env["BROADCASTER_CHANNEL_OPTIONS__VOICE_ALIYUN__ENDPOINT"] = endpoint
        running.env["BROADCASTER_CHANNEL_OPTIONS__VOICE_ALIYUN__PER_NUMBER_PER_MINUTE"] = "5"
        yield running


@pytest.fixture
def stack(
    db: Database, redis_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    seed(db)
    monkeypatch.setenv("BROADCASTER_MEDIA", json.dumps(MEDIA))
    with aliyun_stack(db, redis_settings, tmp_path / "s") as running:
        yield running


def test_a_red_alerts_calls_go_through_aliyun_and_keys_confirm_or_ask_for_help(
    stack: Stack, db: Database
) -> None:
    with httpx.Client(base_url=stack.sim_url, timeout=30) as control, stack.client() as api:
        sim = SimVoice(control)
        sim.configure(**account(**push_urls(stack.settings), number_fates={BUSY[3:]: "busy"}))
        created = api.post("/api/v1/alerts", json=RED)
        assert created.status_code == 201, created.text
        stack.start_worker()

        wait_until(lambda: len(sim.calls()) == len(PHONES))
        placed = {call["CalledNumber"]: call for call in sim.calls()}
        assert set(placed) == {phone[3:] for phone in PHONES}  # dialled without +86
        for call in placed.values():
            assert (call["Action"], call["StartCode"]) == ("IvrCall", "TTS_310000110")
            assert call["params"]["headline"] == "暴雨红色预警"
            assert call["params"]["level"] == "红色"
            assert call["text"].startswith(f"{stack.settings.sender_name}发布红色暴雨预警")
        wait_until(
            lambda: all(c[0] is DeliveryState.sent for p, c in calls(db).items() if p != BUSY)
        )
        by_phone = calls(db)
        for phone in PHONES:
            assert by_phone[phone][2] == placed[phone[3:]]["CallId"]
            assert placed[phone[3:]]["OutId"] == str(_delivery_id(db, phone))

        safe, helped, silent = (placed[p[3:]]["CallId"] for p in PHONES[:3])
        sim.act(safe, "answer")
        sim.act(safe, "press", digits="1")
        sim.act(helped, "answer")
        sim.act(helped, "press", digits="92")  # hears it again, then asks for help
        sim.act(silent, "answer")
        sim.act(silent, "press", digits="")
        sim.act(silent, "press", digits="")  # no key at all: the call still reached them

        wait_until(lambda: household(db, PHONES[0]) is RecipientState.confirmed)
        wait_until(lambda: household(db, PHONES[1]) is RecipientState.needs_help)
        wait_until(lambda: calls(db)[PHONES[2]][0] is DeliveryState.delivered)
        wait_until(lambda: calls(db)[BUSY][:2] == (DeliveryState.failed, "200002"))
        wait_until(lambda: calls(db)[PHONES[0]][0] is DeliveryState.delivered)
        assert calls(db)[PHONES[1]][0] is DeliveryState.delivered
        assert household(db, PHONES[2]) is RecipientState.reached
        assert household(db, BUSY) is RecipientState.pending

        with db.read() as session:
            confirmations = session.scalars(select(Confirmation)).all()
            helps = session.scalars(select(HelpRequest)).all()
            providers = set(session.scalars(select(DeliveryAttempt.provider)))
        assert {(c.via, c.answer) for c in confirmations} == {
            (ConfirmVia.keypress, Answer.safe),
            (ConfirmVia.keypress, Answer.needs_help),
        }
        assert len(helps) == 1
        assert providers == {"aliyun"}
        # every report pushed once, answered {"code":0}: one per ended call, one per key
        wait_until(lambda: len(pushed(sim)) == len(PHONES) + 3)
        assert all(p["ok"] and p["attempts"] == 1 for p in pushed(sim))
        assert sorted(p["kind"] for p in pushed(sim)) == ["VoiceCallReport"] * 3 + [
            "VoiceReport"
        ] * len(PHONES)


def pushed(sim: SimVoice) -> list[dict[str, Any]]:
    return [push for call in sim.calls() for push in call["pushes"]]


def _delivery_id(db: Database, phone: str) -> int:
    with db.read() as session:
        found = session.scalar(
            select(Delivery.id).where(Delivery.channel == "voice", Delivery.address == phone)
        )
    assert found is not None
    return found


def test_a_drills_calls_reach_the_simulator_only(
    db: Database, redis_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(db)
    monkeypatch.setenv("BROADCASTER_MEDIA", json.dumps(MEDIA))
    with aliyun_stack(db, redis_settings, tmp_path / "s", real_provider=True) as stack:
        real_url = stack.settings.twilio.api_base_url or ""
        with (
            httpx.Client(base_url=stack.sim_url, timeout=30) as drill_control,
            httpx.Client(base_url=real_url, timeout=30) as real_control,
            stack.client() as api,
        ):
            drill_sim, real_sim = SimVoice(drill_control), SimVoice(real_control)
            for sim in (drill_sim, real_sim):
                sim.configure(**account(per_number_per_minute=None, **push_urls(stack.settings)))
            stack.start_worker()
            drill = api.post("/api/v1/alerts", json={**RED, "status": "exercise"})
            assert drill.status_code == 201, drill.text
            wait_until(lambda: len(drill_sim.calls()) == len(PHONES))
            assert real_sim.calls() == []
            actual = api.post("/api/v1/alerts", json={**RED, "headline": "暴雨红色预警（实发）"})
            assert actual.status_code == 201, actual.text
            wait_until(lambda: len(real_sim.calls()) == len(PHONES))
            assert len(drill_sim.calls()) == len(PHONES)
            assert {c["params"]["headline"] for c in real_sim.calls()} == {"暴雨红色预警（实发）"}


def test_with_aliyun_down_the_calls_fail_over_to_the_next_provider_and_none_is_placed_twice(
    db: Database, redis_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(db)
    media = {"voice": ["aliyun", "twilio"]}
    monkeypatch.setenv("BROADCASTER_MEDIA", json.dumps(media))
    breaker = {"min_requests": 2, "error_rate": 0.5, "open_seconds": 60, "probes": 1}
    with (
        aliyun_stack(db, redis_settings, tmp_path / "s", media, breaker=breaker) as stack,
        httpx.Client(base_url=stack.sim_url, timeout=30) as control,
        stack.client() as api,
    ):
        sim = SimVoice(control)
        sim.configure(**account(**push_urls(stack.settings)))
        sim.faults(down=True)
        created = api.post("/api/v1/alerts", json=RED)
        assert created.status_code == 201, created.text
        stack.start_worker()

        def twilio_calls() -> list[str]:
            found = control.get("/api/calls", params={"limit": 100}).json()["calls"]
            return sorted(call["to"] for call in found)

        wait_until(lambda: twilio_calls() == sorted(PHONES))
        wait_until(lambda: all(c[0] is DeliveryState.sent for c in calls(db).values()))
        assert sim.calls() == []  # Aliyun placed none: it refused every request
        with db.read() as session:
            attempts = session.execute(
                select(DeliveryAttempt.provider, DeliveryAttempt.error_code)
            ).all()
        carried = [provider for provider, code in attempts if code is None]
        assert sorted(carried) == ["twilio"] * len(PHONES)
        assert {code for provider, code in attempts if provider == "aliyun"} <= {
            "ServiceUnavailable",
            "circuit_open",
        }
