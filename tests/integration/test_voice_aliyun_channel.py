"""The Aliyun voice provider through the official SDK against the simulator."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from broadcaster.sim import SimConfig, create_standalone_app
from channels.base import LookupItem, Message, Outcome, ProviderState, SendItem, SendResult
from tests.integration.aliyun_voice_support import ALERT, SimVoice, account, channel
from tests.stack import ServerThread, free_port, reserve_port


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    port = reserve_port()
    app = create_standalone_app(SimConfig.model_validate({"aliyun_voice": account()}))
    with ServerThread(app, port):
        yield f"http://127.0.0.1:{port}/sim"


@pytest.fixture
def sim(sim_url: str) -> Iterator[SimVoice]:
    with httpx.Client(base_url=sim_url, timeout=30) as control:
        control.post("/api/reset").raise_for_status()
        voice = SimVoice(control)
        voice.configure(**account())
        yield voice


async def send(sim_url: str, *items: SendItem, **overrides: Any) -> list[SendResult]:
    sender = channel(sim_url, **overrides)
    try:
        results = await sender.send_batch(items)
    finally:
        await sender.close()
    return sorted(results, key=lambda r: r.key)


async def test_a_warning_is_an_ivr_call_with_the_template_and_its_parameters(
    sim_url: str, sim: SimVoice
) -> None:
    [result] = await send(sim_url, SendItem(41, "+8613900001111", "", message=ALERT))
    assert result.outcome is Outcome.accepted, result
    [call] = sim.calls()
    assert call["CallId"] == result.provider_id
    assert (call["Action"], call["CalledNumber"], call["OutId"]) == ("IvrCall", "13900001111", "41")
    assert call["StartCode"] == "TTS_310000110"
    assert call["params"] == {
        "sender": "某区防指",
        "level": "红色",
        "hazard": "暴雨",
        "headline": "暴雨红色预警",
    }
    assert call["text"] == result.detail["text"]
    assert call["text"].startswith("某区防指发布红色暴雨预警。暴雨红色预警。确认收到请按1")
    menu = {entry["Key"]: entry for entry in call["MenuKeyMap"]}
    assert (menu["1"]["Code"], menu["2"]["Code"]) == ("TTS_310000116", "TTS_310000117")
    assert (menu["9"]["Code"], menu["9"]["TtsParams"]) == ("TTS_310000110", call["StartTtsParams"])
    assert call["PlayTimes"] == 2


async def test_a_notice_is_a_notification_call_and_landlines_are_dialled_with_their_0(
    sim_url: str, sim: SimVoice
) -> None:
    values = {"sender": "某区防指", "hazard_name": "暴雨", "headline": "雨情趋缓"}
    notice = Message("all_clear", "rain", "red", values)
    [result] = await send(sim_url, SendItem(7, "+862388881234", "", message=notice))
    assert result.outcome is Outcome.accepted, result
    [call] = sim.calls()
    assert (call["Action"], call["TtsCode"], call["CalledNumber"]) == (
        "SingleCallByTts",
        "TTS_310000113",
        "02388881234",
    )
    assert call["MenuKeyMap"] == []
    assert call["text"] == "某区防指通知：暴雨预警已解除。雨情趋缓。"


async def test_a_wrong_secret_or_key_is_refused_by_the_signature_check(
    sim_url: str, sim: SimVoice
) -> None:
    [right] = await send(sim_url, SendItem(1, "+8613900001111", "", message=ALERT))
    [wrong] = await send(
        sim_url, SendItem(2, "+8613900001112", "", message=ALERT), access_key_secret="wrong"
    )
    [unknown] = await send(
        sim_url, SendItem(3, "+8613900001113", "", message=ALERT), access_key_id="LTAI-unknown"
    )
    assert right.outcome is Outcome.accepted
    assert (wrong.outcome, wrong.error_code) == (Outcome.failed, "SignatureDoesNotMatch")
    assert (unknown.outcome, unknown.error_code) == (Outcome.failed, "InvalidAccessKeyId.NotFound")
    assert [c["OutId"] for c in sim.calls()] == ["1"]


async def test_an_unknown_template_is_refused_by_aliyun_and_a_missing_one_before_sending(
    sim_url: str, sim: SimVoice, tmp_path: Path
) -> None:
    book = tmp_path / "voice_aliyun.toml"
    text = Path(channel(sim_url).settings.templates or "").read_text(encoding="utf-8")
    book.write_text(text.replace("TTS_310000110", "TTS_999999999"), encoding="utf-8")
    [unknown] = await send(
        sim_url, SendItem(1, "+8613900001111", "", message=ALERT), templates=book
    )
    assert (unknown.outcome, unknown.error_code) == (Outcome.failed, "isv.TTS_TEMPLATE_ILLEGAL")
    relay = Message("relay", values={"sender": "某区防指"})
    [missing] = await send(sim_url, SendItem(2, "+8613900001112", "", message=relay))
    assert (missing.outcome, missing.error_code) == (Outcome.failed, "template_refused")
    assert "relay" in missing.message
    long = Message(ALERT.kind, ALERT.hazard, ALERT.level, {**ALERT.values, "headline": "长" * 36})
    [over] = await send(sim_url, SendItem(3, "+8613900001113", "", message=long))
    assert (over.outcome, over.error_code) == (Outcome.failed, "template_refused")
    assert sim.calls() == []


async def test_numbers_outside_mainland_china_are_refused_without_a_request(
    sim_url: str, sim: SimVoice
) -> None:
    results = await send(
        sim_url,
        SendItem(1, "+85291234567", "", message=ALERT),
        SendItem(2, "+14155550100", "", message=ALERT),
        SendItem(3, "not a number", "", message=ALERT),
    )
    assert {(r.outcome, r.error_code) for r in results} == {(Outcome.failed, "not_mainland")}
    assert "mainland" in results[0].message
    assert sim.calls() == []


async def test_down_is_retried_later_and_nothing_is_placed(sim_url: str, sim: SimVoice) -> None:
    sim.faults(down=True)
    [down] = await send(sim_url, SendItem(1, "+8613900001111", "", message=ALERT))
    assert (down.outcome, down.error_code) == (Outcome.retry, "ServiceUnavailable")
    assert sim.calls() == []
    sim.faults(down=False)
    [up] = await send(sim_url, SendItem(1, "+8613900001111", "", message=ALERT))
    assert up.outcome is Outcome.accepted


async def test_an_unreachable_endpoint_is_retried_and_a_late_answer_is_unknown(
    sim_url: str, sim: SimVoice
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/sim/dyvmsapi"
    [refused] = await send(
        sim_url, SendItem(1, "+8613900001111", "", message=ALERT), endpoint=nowhere
    )
    assert (refused.outcome, refused.error_code) == (Outcome.retry, "connection")
    sim.faults(timeout_rate=1.0, timeout_seconds=5)
    [late] = await send(
        sim_url, SendItem(2, "+8613900001112", "", message=ALERT), timeout_seconds=0.5
    )
    assert (late.outcome, late.error_code) == (Outcome.unknown, "timeout")
    assert [c["OutId"] for c in sim.calls()] == ["2"]  # placed all the same: never resent


async def test_a_second_call_to_a_number_within_a_minute_is_flow_controlled(
    sim_url: str, sim: SimVoice
) -> None:
    [first] = await send(sim_url, SendItem(1, "+8613900001111", "", message=ALERT))
    [second] = await send(sim_url, SendItem(2, "+8613900001111", "", message=ALERT))
    assert first.outcome is Outcome.accepted
    assert (second.outcome, second.error_code) == (Outcome.retry, "isv.BUSINESS_LIMIT_CONTROL")


async def test_lookup_finds_calls_by_their_call_id(sim_url: str, sim: SimVoice) -> None:
    notice = Message("cancel", "rain", "", {"sender": "某区防指", "hazard_name": "暴雨"})
    results = await send(
        sim_url,
        SendItem(1, "+8613900001111", "", message=ALERT),
        SendItem(2, "+8613900001112", "", message=ALERT),
        SendItem(3, "+8613900001113", "", message=notice),
    )
    ids = [r.provider_id or "" for r in results]
    sim.act(ids[0], "answer")
    sim.act(ids[0], "press", digits="1")
    sim.act(ids[2], "hangup")
    now = dt.datetime.now(dt.UTC)
    items = [LookupItem(n, "", now, "", call_id) for n, call_id in enumerate(ids, 1)]
    items += [LookupItem(4, "", now, "", "1^2"), LookupItem(5, "", now, "", None)]
    sender = channel(sim_url)
    try:
        found = {r.key: r for r in await sender.lookup(items)}
    finally:
        await sender.close()
    assert (found[1].found, found[1].state, found[1].provider_id) == (
        True,
        ProviderState.delivered,
        ids[0],
    )
    assert (found[2].found, found[2].state) == (True, ProviderState.sent)  # still ringing
    assert (found[3].found, found[3].state, found[3].error_code) == (
        True,
        ProviderState.failed,
        "200003",
    )
    assert (found[4].found, found[5].found) == (False, None)


class Paused:
    """The core's circuit breaker, open: every request held back for five seconds."""

    def allow(self) -> float:
        return 5.0


async def test_a_paused_provider_holds_its_calls_back(sim_url: str, sim: SimVoice) -> None:
    sender = channel(sim_url)
    try:
        items = [SendItem(1, "+8613900001111", "", message=ALERT)]
        results = [result async for result in sender.send_stream(items, gate=Paused())]
    finally:
        await sender.close()
    assert [(r.outcome, r.error_code) for r in results] == [(Outcome.retry, "circuit_open")]
    assert sim.calls() == []
