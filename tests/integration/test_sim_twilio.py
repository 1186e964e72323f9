"""The official twilio client against the simulator: messages, signed callbacks, replies."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest.api.v2010.account.message import MessageInstance

from tests.integration.sim_support import (
    ACCOUNT,
    OUR_NUMBER,
    TOKEN,
    Hit,
    SimEnv,
    running_env,
)

RESIDENT = "+8613912345678"
SID = re.compile(r"^SM[0-9a-f]{32}$")


@pytest.fixture(scope="module")
def env_running() -> Iterator[SimEnv]:
    with running_env() as env:
        yield env


@pytest.fixture
def env(env_running: SimEnv) -> SimEnv:
    env_running.restore()
    return env_running


async def send(
    env: SimEnv, *, to: str = RESIDENT, body: str = "hello", callback: str | None = None
) -> MessageInstance:
    async with env.twilio() as twilio:
        return await twilio.client.messages.create_async(
            to=to, from_=OUR_NUMBER, body=body, status_callback=callback
        )


def of_sid(sid: str) -> Callable[[Hit], bool]:
    return lambda hit: hit.params.get("MessageSid") == sid


async def test_create_answers_like_twilio_and_fetch_follows_status(env: SimEnv) -> None:
    message = await send(env, body="Flood warning: move to high ground")
    assert SID.match(message.sid)
    assert message.status == "queued"
    assert message.account_sid == ACCOUNT
    assert (message.to, message.from_) == (RESIDENT, OUR_NUMBER)
    assert message.num_segments == "1"
    assert message.direction == "outbound-api"
    assert message.date_created is not None

    assert env.wait_status(message.sid, "delivered")["status"] == "delivered"

    async with env.twilio() as twilio:
        fetched = await twilio.client.messages(message.sid).fetch_async()
    assert fetched.sid == message.sid
    assert fetched.status == "delivered"
    assert fetched.date_sent is not None


async def test_fetch_unknown_sid_is_404_20404(env: SimEnv) -> None:
    async with env.twilio() as twilio:
        with pytest.raises(TwilioRestException) as caught:
            await twilio.client.messages("SM" + "0" * 32).fetch_async()
    assert (caught.value.status, caught.value.code) == (404, 20404)


async def test_status_callbacks_are_sent_then_delivered_and_signed(env: SimEnv) -> None:
    url = env.hook("status", "delivery=42&kind=sms")
    message = await send(env, callback=url)
    hits = env.receiver.wait_for(of_sid(message.sid), count=2)
    assert [hit.params["MessageStatus"] for hit in hits] == ["sent", "delivered"]
    validator = RequestValidator(TOKEN)
    for hit in hits:
        params = hit.params
        assert params["SmsStatus"] == params["MessageStatus"]
        assert params["SmsSid"] == message.sid
        assert (params["AccountSid"], params["ApiVersion"]) == (ACCOUNT, "2010-04-01")
        assert (params["From"], params["To"]) == (OUR_NUMBER, RESIDENT)
        assert "ErrorCode" not in params
        assert hit.url == url
        assert validator.validate(hit.url, params, hit.headers["x-twilio-signature"])
        tampered = {**params, "MessageStatus": "failed"}
        assert not validator.validate(hit.url, tampered, hit.headers["x-twilio-signature"])
        assert not RequestValidator("other-token").validate(
            hit.url, params, hit.headers["x-twilio-signature"]
        )


@pytest.mark.parametrize(
    ("fate", "expected"),
    [("undelivered", ["sent", "undelivered"]), ("failed", ["failed"])],
)
async def test_unhappy_fates_carry_error_codes(env: SimEnv, fate: str, expected: list[str]) -> None:
    env.configure(number_fates={RESIDENT: fate})
    message = await send(env, callback=env.hook("status"))
    hits = env.receiver.wait_for(of_sid(message.sid), count=len(expected))
    assert [hit.params["MessageStatus"] for hit in hits] == expected
    assert hits[-1].params["ErrorCode"].startswith("300")
    stored = env.wait_status(message.sid, fate)
    assert stored["error_code"] == int(hits[-1].params["ErrorCode"])
    validator = RequestValidator(TOKEN)
    assert all(validator.validate(h.url, h.params, h.headers["x-twilio-signature"]) for h in hits)


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("a" * 160, "1"),
        ("a" * 161, "2"),
        ("{" * 80, "1"),
        ("{" * 81, "2"),
        ("暴雨红色预警" * 11 + "请转移", "1"),  # 69 UCS-2 characters
        ("暴" * 70, "1"),
        ("暴" * 71, "2"),
        ("暴" * 134, "2"),
        ("暴" * 135, "3"),
        ("Flood warning 洪水预警", "1"),
    ],
)
async def test_segment_counts(env: SimEnv, body: str, segments: str) -> None:
    assert (await send(env, body=body)).num_segments == segments


async def test_wrong_token_is_401_20003(env: SimEnv) -> None:
    async with env.twilio(token="wrong") as twilio:
        with pytest.raises(TwilioRestException) as caught:
            await twilio.client.messages.create_async(to=RESIDENT, from_=OUR_NUMBER, body="x")
    assert (caught.value.status, caught.value.code) == (401, 20003)
    assert env.control.get("/api/stats").json()["messages"] == 0


@pytest.mark.parametrize(
    ("to", "body", "code"),
    [("", "x", 21604), ("13912345678", "x", 21211), (RESIDENT, "", 21602)],
)
async def test_validation_errors_like_twilio(env: SimEnv, to: str, body: str, code: int) -> None:
    with pytest.raises(TwilioRestException) as caught:
        await send(env, to=to, body=body)
    assert (caught.value.status, caught.value.code) == (400, code)
    assert env.control.get("/api/stats").json()["messages"] == 0


async def test_reply_posts_signed_inbound_sms_and_records_twiml_answer(env: SimEnv) -> None:
    message = await send(env)
    response = env.control.post(f"/api/messages/{message.sid}/reply", json={"body": "1"})
    assert response.status_code == 200, response.text
    result = response.json()
    hits = env.receiver.wait_for(lambda hit: hit.name == "sms")
    assert len(hits) == 1
    hit: Hit = hits[0]
    params = hit.params
    assert (params["From"], params["To"], params["Body"]) == (RESIDENT, OUR_NUMBER, "1")
    assert SID.match(params["MessageSid"])
    assert params["MessageSid"] != message.sid
    assert (params["AccountSid"], params["NumMedia"], params["SmsStatus"]) == (
        ACCOUNT,
        "0",
        "received",
    )
    assert RequestValidator(TOKEN).validate(hit.url, params, hit.headers["x-twilio-signature"])
    assert not RequestValidator(TOKEN).validate(
        hit.url, {**params, "Body": "2"}, hit.headers["x-twilio-signature"]
    )
    assert result["webhook"]["ok"] is True
    assert result["message"]["direction"] == "inbound"
    assert [reply["body"] for reply in result["replies"]] == ["收到，谢谢"]
    assert result["replies"][0]["to"] == RESIDENT


def test_inbound_not_tied_to_a_message(env: SimEnv) -> None:
    payload = {"from": "+8613700000001", "to": OUR_NUMBER, "body": "求助"}
    assert env.control.post("/api/inbound", json=payload).status_code == 200
    hits = env.receiver.wait_for(lambda hit: hit.name == "sms")
    assert hits[0].params["Body"] == "求助"
    assert RequestValidator(TOKEN).validate(
        hits[0].url, hits[0].params, hits[0].headers["x-twilio-signature"]
    )


def test_inbound_to_number_without_webhook_is_refused(env: SimEnv) -> None:
    env.control.post("/api/numbers", json={"number": OUR_NUMBER, "sms_url": None})
    payload = {"from": RESIDENT, "to": OUR_NUMBER, "body": "1"}
    assert env.control.post("/api/inbound", json=payload).status_code == 409
    assert env.control.get("/api/stats").json()["messages"] == 0


async def test_adapter_reuses_one_pooled_session(env: SimEnv) -> None:
    async with env.twilio() as twilio:
        await twilio.client.messages.create_async(to=RESIDENT, from_=OUR_NUMBER, body="a")
        first = twilio.http.session
        await asyncio.gather(
            *(
                twilio.client.messages.create_async(to=RESIDENT, from_=OUR_NUMBER, body="b")
                for _ in range(50)
            )
        )
        assert twilio.http.session is first
        assert first is not None
        limit = first.connector.limit if first.connector else 0
    assert limit == 100
    listed = env.control.get("/api/messages", params={"to": RESIDENT, "limit": 1000}).json()
    assert len(listed["messages"]) == 51
