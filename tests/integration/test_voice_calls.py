"""Whole calls over real HTTP: the voice channel (official twilio client) places calls at the
simulator, which fetches the service's TwiML and posts signed keys and statuses back to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from broadcaster.alerts.models import RecipientState
from broadcaster.confirm.models import Answer, Confirmation, ConfirmVia, HelpRequest
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.models import DeliveryState
from channels.base import LookupItem, ProviderState
from channels.voice_twiml import PHRASES
from tests.integration.voice_env import (
    Env,
    delivery,
    household,
    place,
    placed,
    running,
    sim_config,
    spoken,
)
from tests.integration.voice_support import GATHER, STATUS, TWIML, plan_calls
from tests.stack import wait_until

ZH = PHRASES["cmn-CN"]


@pytest.fixture(scope="module")
def servers(migrated_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with running(migrated_db, Path(tmp_path_factory.mktemp("voice"))) as env:
        yield env


@pytest.fixture
def env(servers: Env, db: Database) -> Env:
    """A clean database and a simulator back at its base configuration."""
    servers.control.post("/api/config", json=sim_config().model_dump(mode="json"))
    servers.control.post("/api/reset").raise_for_status()
    return servers


async def test_pressing_1_confirms_the_household_by_keypress(env: Env) -> None:
    rows, sids = await placed(env, households=2)
    answered = env.act(sids[0], "answer")
    assert (answered["status"], answered["answered_by"]) == ("in-progress", "human")
    assert answered["waiting_for_key"]
    first = answered["transcript"][0]
    assert first["language"] == "cmn-CN"
    assert "暴雨红色预警" in first["text"]
    assert "确认收到请按1" in spoken(answered)[1]
    twiml_request = answered["requests"][0]
    assert twiml_request["url"] == env.settings.public_url(f"{TWIML}?d={rows[0].delivery_id}")
    assert twiml_request["http_status"] == 200

    done = env.act(sids[0], "press", digits="1")
    assert (done["status"], spoken(done)[-1], done["keys"]) == ("completed", ZH.thanks, ["1"])
    assert household(env, rows[0].recipient_id) == RecipientState.confirmed
    assert delivery(env, rows[0].delivery_id)[:2] == (DeliveryState.delivered, None)
    with env.db.read() as session:
        [confirmation] = session.scalars(select(Confirmation)).all()
        assert (confirmation.via, confirmation.answer) == (ConfirmVia.keypress, Answer.safe)
        assert confirmation.by == f"call:{rows[0].phone}"
    assert household(env, rows[1].recipient_id) == RecipientState.pending
    assert env.call(sids[1])["status"] == "ringing"
    assert delivery(env, rows[1].delivery_id)[0] == DeliveryState.sent


async def test_pressing_2_opens_a_help_request(env: Env) -> None:
    rows, sids = await placed(env)
    env.act(sids[0], "answer")
    done = env.act(sids[0], "press", digits="2")
    assert "已通知值班人员" in spoken(done)[-1]
    assert done["status"] == "completed"
    assert household(env, rows[0].recipient_id) == RecipientState.needs_help
    with env.db.read() as session:
        assert [h.recipient_id for h in session.scalars(select(HelpRequest))] == [
            rows[0].recipient_id
        ]


async def test_pressing_9_replays_the_message(env: Env) -> None:
    rows, sids = await placed(env, status="exercise")
    first = spoken(env.act(sids[0], "answer"))[0]
    assert first.startswith("这是一次演练。")
    replayed = env.act(sids[0], "press", digits="9")
    assert replayed["waiting_for_key"]
    assert spoken(replayed).count(first) == 2
    urls = [request["url"] for request in replayed["requests"]]
    base = env.settings.public_base_url
    assert urls[-2:] == [
        f"{base}{GATHER}?d={rows[0].delivery_id}&attempt=1",
        f"{base}{TWIML}?d={rows[0].delivery_id}&attempt=2",
    ]
    done = env.act(sids[0], "press", digits="1")
    assert done["status"] == "completed"
    assert household(env, rows[0].recipient_id) == RecipientState.confirmed


async def test_silence_repeats_once_then_says_goodbye(env: Env) -> None:
    rows, sids = await placed(env)
    env.act(sids[0], "answer")
    again = env.act(sids[0], "press", digits="")
    assert again["waiting_for_key"]
    assert len(again["requests"]) == 2
    done = env.act(sids[0], "press", digits="")
    assert (done["status"], spoken(done)[-1]) == ("completed", ZH.goodbye)
    assert delivery(env, rows[0].delivery_id)[:2] == (DeliveryState.delivered, None)
    assert household(env, rows[0].recipient_id) == RecipientState.reached


async def test_a_wrong_key_prompts_again(env: Env) -> None:
    rows, sids = await placed(env)
    env.act(sids[0], "answer")
    again = env.act(sids[0], "press", digits="4")
    assert again["waiting_for_key"]
    assert spoken(again)[-1].startswith("按键无效")
    env.act(sids[0], "press", digits="1")
    assert household(env, rows[0].recipient_id) == RecipientState.confirmed


@pytest.mark.parametrize("fate", ["busy", "no-answer", "failed"])
async def test_unanswered_calls_fail_with_their_reason(env: Env, fate: str) -> None:
    phone = "+8613700000001"
    env.configure(number_fates={phone: fate})
    alert_id, rows = plan_calls(env.db, env.settings, phones=[phone])
    sid = (await place(env, alert_id))[rows[0].delivery_id].provider_id
    wait_until(lambda: delivery(env, rows[0].delivery_id)[0] == DeliveryState.failed, timeout=60)
    assert delivery(env, rows[0].delivery_id) == (DeliveryState.failed, fate, sid)
    call = env.call(sid or "")
    assert (call["status"], call["transcript"], call["requests"]) == (fate, [], [])
    assert household(env, rows[0].recipient_id) == RecipientState.pending


async def test_a_machine_answering_fails_the_call_as_machine(env: Env) -> None:
    phone = "+8613700000002"
    env.configure(number_fates={phone: "machine"})
    alert_id, rows = plan_calls(env.db, env.settings, phones=[phone])
    sid = (await place(env, alert_id))[rows[0].delivery_id].provider_id or ""
    done = env.act(sid, "answer")
    assert (done["status"], done["answered_by"], done["transcript"]) == (
        "completed",
        "machine_start",
        [],
    )
    assert done["requests"][0]["params"]["AnsweredBy"] == "machine_start"
    assert delivery(env, rows[0].delivery_id)[:2] == (DeliveryState.failed, "machine")


async def test_async_detection_plays_the_message_and_still_fails_a_machine(env: Env) -> None:
    phone = "+8613700000003"
    env.configure(number_fates={phone: "machine"})
    alert_id, rows = plan_calls(env.db, env.settings, phones=[phone])
    sid = (await place(env, alert_id, async_amd=True))[rows[0].delivery_id].provider_id or ""
    done = env.act(sid, "answer")
    assert done["status"] == "completed"
    assert spoken(done)[-1] == ZH.goodbye
    assert "AnsweredBy" not in done["requests"][0]["params"]
    assert delivery(env, rows[0].delivery_id)[:2] == (DeliveryState.failed, "machine")


async def test_auto_answer_and_auto_press_confirm_without_a_test_driving(env: Env) -> None:
    env.configure(auto_answer=True, answer_after_ms=0, auto_press="1")
    rows, _sids = await placed(env, households=3)
    for row in rows:
        wait_until(lambda r=row: household(env, r.recipient_id) == RecipientState.confirmed)  # type: ignore[misc]
        wait_until(lambda r=row: delivery(env, r.delivery_id)[0] == DeliveryState.delivered)  # type: ignore[misc]


async def test_lookup_fetches_the_call_by_its_sid(env: Env) -> None:
    rows, sids = await placed(env, households=2)
    env.act(sids[0], "answer")
    env.act(sids[0], "press", digits="2")
    now = utcnow()
    items = [
        LookupItem(1, rows[0].phone, now, "", sids[0]),
        LookupItem(2, rows[1].phone, now, "", sids[1]),
        LookupItem(3, rows[1].phone, now, "", "CA" + "0" * 32),
        LookupItem(4, rows[1].phone, now, "", None),
    ]
    sender = env.channel()
    try:
        found = {result.key: result for result in await sender.lookup(items)}
    finally:
        await sender.close()
    assert (found[1].found, found[1].state, found[1].provider_id) == (
        True,
        ProviderState.delivered,
        sids[0],
    )
    assert (found[2].found, found[2].state) == (True, ProviderState.sent)
    assert (found[3].found, found[4].found) == (False, None)


async def test_forged_webhooks_over_http_are_403(env: Env) -> None:
    rows, sids = await placed(env)
    params = {"CallSid": sids[0], "CallStatus": "completed", "Digits": "2"}
    for path in (TWIML, GATHER, STATUS):
        url = f"{env.api_url}{path}?d={rows[0].delivery_id}&attempt=1"
        answer = httpx.post(url, data=params, headers={"X-Twilio-Signature": "Zm9yZ2Vk"})
        assert answer.status_code == 403, answer.text
    assert household(env, rows[0].recipient_id) == RecipientState.pending
    assert delivery(env, rows[0].delivery_id)[0] == DeliveryState.sent
