"""The voice channel's answers for refusals and faults, against the simulator's Calls API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from twilio.request_validator import RequestValidator

from broadcaster.sim import NumberConfig, SimConfig, create_standalone_app
from channels.base import Outcome, SendItem, SendResult
from channels.voice_twilio import VoiceTwilio, VoiceTwilioSettings
from tests.integration.sim_support import Hit, Receiver, ServerThread

ACCOUNT = "AC" + "d5" * 16
TOKEN = "voice-channel-token-0123456789"
OUR_NUMBER = "+8613800000077"
RESIDENT = "+8613912340000"


def base() -> dict[str, Any]:
    config = SimConfig(accounts={ACCOUNT: TOKEN}, numbers={OUR_NUMBER: NumberConfig()})
    return config.model_dump(mode="json")


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[httpx.Client, str, Receiver, str]]:
    receiver = Receiver()
    with (
        ServerThread(receiver.app()) as hooks,
        ServerThread(create_standalone_app(SimConfig.model_validate(base()))) as sim,
    ):
        sim_url = f"http://127.0.0.1:{sim.port}/sim"
        with httpx.Client(base_url=sim_url, timeout=60) as control:
            yield control, sim_url, receiver, f"http://127.0.0.1:{hooks.port}/hooks"


@pytest.fixture
def sim(running: tuple[httpx.Client, str, Receiver, str]) -> tuple[httpx.Client, str, str]:
    control, sim_url, receiver, hooks = running
    control.post("/api/config", json=base()).raise_for_status()
    control.post("/api/reset").raise_for_status()
    with receiver.lock:
        receiver.hits.clear()
    return control, sim_url, hooks


async def send(sim_url: str, items: list[SendItem], **settings: Any) -> list[SendResult]:
    options: dict[str, Any] = {
        "account_sid": ACCOUNT,
        "auth_token": TOKEN,
        "from_number": OUR_NUMBER,
        "api_base_url": sim_url,
        **settings,
    }
    channel = VoiceTwilio(VoiceTwilioSettings.model_validate(options))

    try:
        return await channel.send_batch(items)
    finally:
        await channel.close()


def item(key: int, to: str = RESIDENT, hooks: str = "http://127.0.0.1:9/hooks") -> SendItem:
    return SendItem(
        key,
        to,
        "",
        callback_url=f"{hooks}/status?d={key}",
        extra={"twiml_url": f"{hooks}/twiml?d={key}"},
    )


async def test_a_call_is_created_as_twilio_would_and_asks_what_we_set(
    sim: tuple[httpx.Client, str, str],
) -> None:
    control, sim_url, hooks = sim
    [result] = await send(sim_url, [item(1, hooks=hooks)])
    assert result.outcome is Outcome.accepted
    assert result.provider_id
    call = control.get(f"/api/calls/{result.provider_id}").json()
    assert (call["to"], call["from"], call["direction"]) == (RESIDENT, OUR_NUMBER, "outbound-api")
    assert call["url"] == f"{hooks}/twiml?d=1"
    assert call["status_callback"] == f"{hooks}/status?d=1"
    requests = control.get("/api/requests").json()["requests"]
    assert requests[-1]["path"].endswith(f"/Accounts/{ACCOUNT}/Calls.json")
    assert requests[-1]["status"] == 201


async def test_status_callbacks_are_signed_for_each_event(
    sim: tuple[httpx.Client, str, str], running: tuple[httpx.Client, str, Receiver, str]
) -> None:
    control, sim_url, hooks = sim
    receiver = running[2]
    [result] = await send(sim_url, [item(7, hooks=hooks)])
    sid = result.provider_id or ""

    def mine(hit: Hit) -> bool:
        return hit.params.get("CallSid") == sid and hit.url.endswith("?d=7")

    hits = receiver.wait_for(mine, count=2)
    assert [h.params["CallStatus"] for h in hits] == ["initiated", "ringing"]
    control.post(f"/api/calls/{sid}/hangup").raise_for_status()
    hits = receiver.wait_for(mine, count=3)
    assert hits[-1].params["CallStatus"] == "busy"  # declined while ringing
    validator = RequestValidator(TOKEN)
    for n, hit in enumerate(hits):
        assert hit.url == f"{hooks}/status?d=7"
        assert validator.validate(hit.url, hit.params, hit.headers["x-twilio-signature"])
        assert hit.params["SequenceNumber"] == str(n)
        assert hit.params["CallbackSource"] == "call-progress-events"
        assert (hit.params["AccountSid"], hit.params["To"]) == (ACCOUNT, RESIDENT)


async def test_refusals_fail_with_twilio_codes(sim: tuple[httpx.Client, str, str]) -> None:
    _control, sim_url, _hooks = sim
    results = await send(sim_url, [item(1, to="13912340000"), item(2, to="")])
    by_key = {r.key: r for r in results}
    assert (by_key[1].outcome, by_key[1].error_code) == (Outcome.failed, "21211")
    assert (by_key[2].outcome, by_key[2].error_code) == (Outcome.failed, "21201")
    [other] = await send(sim_url, [item(3)], from_number="+8613800000001")
    assert (other.outcome, other.error_code) == (Outcome.failed, "21210")
    [unauthorised] = await send(sim_url, [item(4)], auth_token="wrong")
    assert (unauthorised.outcome, unauthorised.error_code) == (Outcome.failed, "20003")
    [no_url] = await send(sim_url, [SendItem(5, RESIDENT, "")])
    assert (no_url.outcome, no_url.error_code) == (Outcome.failed, "no_twiml_url")


async def test_rate_limits_and_errors_are_retried(sim: tuple[httpx.Client, str, str]) -> None:
    control, sim_url, _hooks = sim
    control.post("/api/config", json={"error_500_rate": 1}).raise_for_status()
    [five_hundred] = await send(sim_url, [item(1)])
    assert (five_hundred.outcome, five_hundred.error_code) == (Outcome.retry, "20500")
    control.post("/api/config", json={"error_500_rate": 0, "error_429_rate": 1})
    [limited] = await send(sim_url, [item(2)])
    assert (limited.outcome, limited.error_code) == (Outcome.retry, "20429")
    assert (limited.throttled, five_hundred.throttled) == (True, False)  # slow down, not unwell
    [refused] = await send("http://127.0.0.1:9/sim", [item(3)])
    assert (refused.outcome, refused.error_code) == (Outcome.retry, "connection")
    assert control.get("/api/calls").json()["calls"] == []


async def test_a_timeout_is_unknown_and_the_call_may_exist(
    sim: tuple[httpx.Client, str, str],
) -> None:
    control, sim_url, _hooks = sim
    # The provider holds the request 30 times longer than our timeout, then answers 201: an
    # answer of "unknown / timeout" can only come from our own timeout giving up first.
    control.post("/api/config", json={"timeout_rate": 1, "timeout_seconds": 60}).raise_for_status()
    [result] = await send(sim_url, [item(1)], timeout_seconds=2)
    assert (result.outcome, result.error_code, result.provider_id) == (
        Outcome.unknown,
        "timeout",
        None,
    )
    [call] = control.get("/api/calls").json()["calls"]
    assert call["to"] == RESIDENT
