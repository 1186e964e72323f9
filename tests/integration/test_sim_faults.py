"""Injected provider faults as the real twilio client sees them: 500, 429, timeouts, retries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from tests.integration.sim_support import (
    OUR_NUMBER,
    TOKEN,
    WAIT_SECONDS,
    SimEnv,
    running_env,
)

RESIDENT = "+8613955550000"


@pytest.fixture(scope="module")
def env_running() -> Iterator[SimEnv]:
    with running_env() as env:
        yield env


@pytest.fixture
def env(env_running: SimEnv) -> SimEnv:
    env_running.restore()
    return env_running


async def create(env: SimEnv, *, timeout: float = 30.0, callback: str | None = None) -> Any:
    async with env.twilio(timeout=timeout) as twilio:
        return await twilio.client.messages.create_async(
            to=RESIDENT, from_=OUR_NUMBER, body="水位超警戒", status_callback=callback
        )


def stats(env: SimEnv) -> dict[str, Any]:
    data: dict[str, Any] = env.control.get("/api/stats").json()
    return data


def wait_counter(env: SimEnv, name: str, value: int, timeout: float = WAIT_SECONDS) -> int:
    """The counter once it reaches value, or whatever it is at the (generous) deadline."""
    deadline = time.monotonic() + timeout
    while True:
        current = int(stats(env)["counters"].get(name, 0))
        if current >= value or time.monotonic() > deadline:
            return current
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("knob", "status", "code"), [("error_500_rate", 500, 20500), ("error_429_rate", 429, 20429)]
)
async def test_injected_errors_create_nothing(
    env: SimEnv, knob: str, status: int, code: int
) -> None:
    env.configure(**{knob: 1.0})
    with pytest.raises(TwilioRestException) as caught:
        await create(env)
    assert (caught.value.status, caught.value.code) == (status, code)
    data = stats(env)
    assert data["messages"] == 0
    assert data["counters"][f"injected_{status}"] == 1


async def test_error_rates_are_honoured_roughly(env: SimEnv) -> None:
    env.configure(error_500_rate=0.5)

    async with env.twilio() as twilio:
        results = await asyncio.gather(
            *(
                twilio.client.messages.create_async(to=RESIDENT, from_=OUR_NUMBER, body="x")
                for _ in range(200)
            ),
            return_exceptions=True,
        )
    failures = [r for r in results if isinstance(r, TwilioRestException)]
    assert all(f.status == 500 for f in failures)
    assert 40 < len(failures) < 160
    assert stats(env)["messages"] == 200 - len(failures)


async def test_timeout_creates_message_whose_fate_is_unknown_to_the_caller(env: SimEnv) -> None:
    env.configure(timeout_rate=1.0, timeout_seconds=30.0)  # 60 times our 0.5 s
    with pytest.raises((asyncio.TimeoutError, TimeoutError)):
        await create(env, timeout=0.5, callback=env.hook("status"))
    listed = env.control.get("/api/messages", params={"to": RESIDENT}).json()["messages"]
    assert len(listed) == 1
    sid = listed[0]["sid"]
    hits = env.receiver.wait_for(lambda hit: hit.params.get("MessageSid") == sid, count=2)
    assert [hit.params["MessageStatus"] for hit in hits] == ["sent", "delivered"]
    assert stats(env)["counters"]["injected_timeout"] == 1

    env.configure(timeout_rate=0.0)

    async with env.twilio() as twilio:
        assert (await twilio.client.messages(sid).fetch_async()).status == "delivered"


async def test_timeout_without_creation_leaves_nothing(env: SimEnv) -> None:
    env.configure(timeout_rate=1.0, timeout_seconds=30.0, timeout_creates_message=False)
    with pytest.raises((asyncio.TimeoutError, TimeoutError)):
        await create(env, timeout=0.5)
    assert stats(env)["messages"] == 0


async def test_rate_limit_answers_429(env: SimEnv) -> None:
    env.configure(rate_limit_per_second=0.01)  # one request, then none for 100 s

    async with env.twilio() as twilio:
        results = await asyncio.gather(
            *(
                twilio.client.messages.create_async(to=RESIDENT, from_=OUR_NUMBER, body="x")
                for _ in range(5)
            ),
            return_exceptions=True,
        )
    limited = [r for r in results if isinstance(r, TwilioRestException)]
    assert len(limited) == 4
    assert {(r.status, r.code) for r in limited} == {(429, 20429)}
    assert stats(env)["counters"]["rate_limited"] == 4


async def test_callback_retried_after_5xx_then_recorded(env: SimEnv) -> None:
    env.configure(callback_retry_delay_ms=10)
    with env.receiver.lock:
        env.receiver.fail_first["flaky"] = 2
    message = await create(env, callback=env.hook("flaky"))
    hits = env.receiver.wait_for(lambda hit: hit.name == "flaky", count=4)
    assert [hit.params["MessageStatus"] for hit in hits] == ["sent", "sent", "sent", "delivered"]
    assert len({hit.headers["x-twilio-signature"] for hit in hits[:3]}) == 1
    assert len({hit.headers["i-twilio-idempotency-token"] for hit in hits[:3]}) == 1
    validator = RequestValidator(TOKEN)
    assert all(validator.validate(h.url, h.params, h.headers["x-twilio-signature"]) for h in hits)
    sent = [c for c in env.message(message.sid)["callbacks"] if c["status"] == "sent"]
    assert sent[0]["attempts"] == 3
    assert sent[0]["ok"] is True


async def test_callback_gives_up_on_unreachable_url_and_counts_it(env: SimEnv) -> None:
    env.configure(callback_retries=1, callback_retry_delay_ms=10)
    message = await create(env, callback="http://127.0.0.1:9/unreachable")
    assert wait_counter(env, "callbacks_failed", 2) == 2
    assert env.message(message.sid)["status"] == "delivered"
    assert all(c["attempts"] == 2 and not c["ok"] for c in env.message(message.sid)["callbacks"])


async def test_callbacks_off_still_moves_status(env: SimEnv) -> None:
    env.configure(callbacks=False)
    message = await create(env, callback=env.hook("status"))
    assert env.wait_status(message.sid, "delivered")["status"] == "delivered"
    assert env.receiver.matching(lambda hit: hit.name == "status") == []


def test_bad_config_is_rejected_and_changes_nothing(env: SimEnv) -> None:
    before = env.control.get("/api/config").json()
    response = env.control.post("/api/config", json={"error_500_rate": 2})
    assert response.status_code == 422
    assert env.control.post("/api/config", json={"no_such_knob": 1}).status_code == 422
    assert env.control.get("/api/config").json() == before


async def test_callback_delay_spaces_the_status_changes(env: SimEnv) -> None:
    env.configure(callback_delay_ms=3000)
    message = await create(env, callback=env.hook("status"))
    assert env.message(message.sid)["status"] == "queued"  # 3 s before the first change
    hits = env.receiver.wait_for(lambda hit: hit.params.get("MessageSid") == message.sid, 2)
    assert [hit.params["MessageStatus"] for hit in hits] == ["sent", "delivered"]


async def test_duplicate_callbacks_when_asked(env: SimEnv) -> None:
    env.configure(duplicate_callback_rate=1.0)
    message = await create(env, callback=env.hook("status"))
    hits = env.receiver.wait_for(lambda hit: hit.params.get("MessageSid") == message.sid, 4)
    statuses = [hit.params["MessageStatus"] for hit in hits]
    assert statuses == ["sent", "sent", "delivered", "delivered"]
    assert wait_counter(env, "callbacks_duplicated", 2) == 2


async def test_messaging_service_is_accepted_then_queued_sent_delivered(env: SimEnv) -> None:
    service = "MG" + "3" * 32

    async with env.twilio() as twilio:
        message = await twilio.client.messages.create_async(
            to=RESIDENT,
            messaging_service_sid=service,
            body="预警" * 40,
            status_callback=env.hook("status"),
        )
    assert (message.status, message.messaging_service_sid) == ("accepted", service)
    assert message.num_segments == "0"  # as Twilio answers for messaging-service sends
    hits = env.receiver.wait_for(lambda hit: hit.params.get("MessageSid") == message.sid, 3)
    assert [hit.params["MessageStatus"] for hit in hits] == ["queued", "sent", "delivered"]
    assert all(hit.params["MessagingServiceSid"] == service for hit in hits)
    assert env.message(message.sid)["num_segments"] == "2"
