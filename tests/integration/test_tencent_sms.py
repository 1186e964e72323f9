"""The Tencent SMS channel through the official SDK against the simulator playing Tencent."""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Iterator

import pytest
from tencentcloud.sms.v20210111 import models

from channels.base import LookupItem, Outcome, ProviderState, SendItem, SendResult
from channels.hooks import HookRequest
from channels.sms_tencent import SmsTencent
from channels.tencent_hooks import BY_PROVIDER_ID, reply_push, status_push
from channels.tencent_sdk import Account, Clients
from tests.integration.tencent_support import (
    APP_ID,
    SECRET_ID,
    SECRET_KEY,
    TencentEnv,
    alert_item,
    notice_item,
    tencent_env,
)

PHONE = "+8613900000001"


@pytest.fixture(scope="module")
def env_running() -> Iterator[TencentEnv]:
    with tencent_env() as env:
        yield env


@pytest.fixture
def env(env_running: TencentEnv) -> TencentEnv:
    env_running.restore()
    return env_running


async def send(channel: SmsTencent, items: list[SendItem]) -> dict[int, SendResult]:
    try:
        return {r.key: r async for r in channel.send_stream(items)}
    finally:
        await channel.close()


async def test_alert_is_accepted_with_its_template_and_positional_params(env: TencentEnv) -> None:
    results = await send(env.channel(), [alert_item(7, PHONE, token="abc123")])

    assert results[7].outcome is Outcome.accepted
    [request] = env.received()
    assert request["PhoneNumberSet"] == [PHONE]
    assert request["TemplateId"] == "1900101"
    assert request["TemplateParamSet"] == ["某区防指", "红色", "暴雨", "暴雨将至", "abc123"]
    assert request["SignName"] == "防汛抗旱指挥部"
    assert request["SessionContext"] == "7"
    assert request["text"].endswith("详情及确认：https://warn.example.cn/c/abc123")
    assert request["SendStatusSet"][0]["SerialNo"] == results[7].provider_id


async def test_a_wrong_secret_key_or_unknown_secret_id_is_refused(env: TencentEnv) -> None:
    wrong_key = await send(env.channel(secret_key="not-the-key"), [alert_item(1, PHONE)])
    unknown_id = await send(env.channel(secret_id="AKIDnobody"), [alert_item(2, PHONE)])

    assert wrong_key[1].outcome is Outcome.failed
    assert wrong_key[1].error_code == "AuthFailure.SignatureFailure"
    assert unknown_id[2].error_code == "AuthFailure.SecretIdNotFound"
    assert [r.get("Error") for r in env.received()] == [
        "AuthFailure.SignatureFailure",
        "AuthFailure.SecretIdNotFound",
    ]


async def test_unknown_template_sign_or_app_is_refused(env: TencentEnv) -> None:
    env.configure(templates={"1900199": "别的模板{1}"})
    template = await send(env.channel(), [alert_item(1, PHONE)])
    env.configure(signs=["另一个签名"])
    sign = await send(env.channel(), [alert_item(2, PHONE)])
    app = await send(env.channel(sdk_app_id="1409999999"), [alert_item(3, PHONE)])

    assert template[1].outcome is Outcome.failed
    assert template[1].error_code == "FailedOperation.TemplateIncorrectOrUnapproved"
    assert sign[2].error_code == "FailedOperation.SignatureIncorrectOrUnapproved"
    assert app[3].error_code == "InvalidParameterValue.SdkAppIdNotExist"
    assert [r["Error"] for r in env.received()] == [  # each request listed once
        "FailedOperation.TemplateIncorrectOrUnapproved",
        "FailedOperation.SignatureIncorrectOrUnapproved",
        "InvalidParameterValue.SdkAppIdNotExist",
    ]
    assert env.received()[0]["TemplateId"] == "1900101"  # with what it asked for


async def test_a_message_no_template_can_carry_is_refused_before_any_request(
    env: TencentEnv,
) -> None:
    bare = SendItem(1, PHONE, "free text")
    too_long = alert_item(2, PHONE, headline="很长" * 30)

    results = await send(env.channel(), [bare, too_long])

    assert {r.error_code for r in results.values()} == {"template_refused"}
    assert "headline" in results[2].message
    assert env.received() == []


async def test_over_the_per_number_limit_waits_and_is_not_sent(env: TencentEnv) -> None:
    first = await send(env.channel(), [alert_item(1, PHONE, token="a")])
    second = await send(env.channel(), [alert_item(2, PHONE, token="b")])

    assert first[1].outcome is Outcome.accepted
    assert second[2].outcome is Outcome.retry
    assert second[2].error_code == "LimitExceeded.PhoneNumberThirtySecondLimit"
    assert second[2].detail["retry_after"] == 30
    assert second[2].throttled is True  # not a sick provider: the breaker stays
    env.configure(thirty_second_limit=None, one_hour_limit=1)
    third = await send(env.channel(), [alert_item(3, PHONE, token="c")])
    assert third[3].error_code == "LimitExceeded.PhoneNumberOneHourLimit"


async def test_down_is_a_retry_and_nothing_is_sent(env: TencentEnv) -> None:
    env.control.post("/api/tencent/faults", json={"down": True}).raise_for_status()

    results = await send(env.channel(), [alert_item(1, PHONE)])

    assert results[1].outcome is Outcome.retry
    assert results[1].error_code == "ServerNetworkError"
    assert env.received() == []


async def test_unknown_faults_are_refused(env: TencentEnv) -> None:
    response = env.control.post("/api/tencent/faults", json={"secrets": {}})
    assert response.status_code == 400


async def test_a_timeout_is_unknown_and_the_lookup_finds_the_message(env: TencentEnv) -> None:
    env.configure(timeout_rate=1.0, timeout_seconds=3, report_delay_ms=0)
    since = dt.datetime.now(dt.UTC)
    results = await send(env.channel(timeout_seconds=1), [alert_item(5, PHONE)])
    assert results[5].outcome is Outcome.unknown
    assert results[5].error_code == "timeout"
    env.configure(timeout_rate=0.0)

    channel = env.channel()
    try:
        [found] = await channel.lookup([LookupItem(5, PHONE, since, "tok")])
    finally:
        await channel.close()

    assert found.found is True
    assert found.state is ProviderState.delivered
    assert found.provider_id == env.received()[0]["SendStatusSet"][0]["SerialNo"]


async def test_a_timeout_that_sent_nothing_is_not_found_once_settled(env: TencentEnv) -> None:
    env.configure(timeout_rate=1.0, timeout_seconds=3, timeout_sends=False)
    since = dt.datetime.now(dt.UTC)
    results = await send(env.channel(timeout_seconds=1), [alert_item(5, PHONE)])
    assert results[5].outcome is Outcome.unknown
    env.configure(timeout_rate=0.0)

    waiting = env.channel()
    settled = env.channel(lookup_settle_seconds=0)
    try:
        [early] = await waiting.lookup([LookupItem(5, PHONE, since, "tok")])
        [late] = await settled.lookup([LookupItem(5, PHONE, since, "tok")])
    finally:
        await waiting.close()
        await settled.close()

    assert early.found is None  # no report yet: ask again later
    assert late.found is False


async def test_shared_texts_go_200_numbers_a_request_personal_ones_alone(env: TencentEnv) -> None:
    env.configure(report_delay_ms=0)
    notices = [notice_item(1000 + n, f"+86139{n:08d}") for n in range(450)]
    alerts = [alert_item(2000 + n, f"+86138{n:08d}", token=f"t{n}") for n in range(3)]

    results = await send(env.channel(), [*notices, *alerts])

    assert len(results) == 453
    assert {r.outcome for r in results.values()} == {Outcome.accepted}
    received = env.received()
    sizes = sorted(len(r["PhoneNumberSet"]) for r in received)
    assert sizes == [1, 1, 1, 50, 200, 200]
    assert {r["SessionContext"] for r in received if len(r["PhoneNumberSet"]) == 200} == {
        "1000-1199",
        "1200-1399",
    }
    reports = [r for push in env.pushes.wait("status", 1) for r in status_push(push).receipts]
    while len(reports) < 453:
        reports = [r for push in env.pushes.wait("status", 1) for r in status_push(push).receipts]
    by_sid = {r.provider_id: r for r in reports}
    for key, result in results.items():
        assert result.provider_id is not None
        receipt = by_sid[result.provider_id]
        assert receipt.state is ProviderState.delivered
        assert receipt.delivery_id == (key if key >= 2000 else BY_PROVIDER_ID)
    assert max(len(status_push(p).receipts) for p in env.pushes.requests("status")) <= 100


async def test_a_reply_is_pushed_and_read_as_the_resident_s(env: TencentEnv) -> None:
    answer = env.control.post("/api/tencent/reply", json={"phone": PHONE, "text": "2"})
    assert answer.json()["ok"] is True

    [push] = env.pushes.requests("reply")
    [reply] = reply_push(push).replies
    assert (reply.sender, reply.body) == (PHONE, "2")
    assert reply_push(push).replies[0].provider_id == reply.provider_id  # a retry is the same


def test_pushes_need_the_token_and_an_allowed_source(env: TencentEnv) -> None:
    request = HookRequest("u", "b", {"token": "tencent-hook-token-0123456789"}, {}, {}, b"[]")
    forged = HookRequest("u", "b", {"token": "guess"}, {}, {}, b"[]")
    from_far = HookRequest("u", "b", request.query, {}, {}, b"[]", client="203.0.113.9")
    from_near = HookRequest("u", "b", request.query, {}, {}, b"[]", client="10.1.2.3")

    assert env.channel().verify(request)
    assert not env.channel().verify(forged)
    assert not env.channel(hook_token=None).verify(request)
    allow = env.channel(hook_sources=["10.0.0.0/8"])
    assert allow.verify(from_near)
    assert not allow.verify(from_far)
    assert not allow.verify(request)  # no source address at all


async def test_without_a_template_book_nothing_is_sent(env: TencentEnv) -> None:
    results = await send(env.channel(config_dir=None), [alert_item(1, PHONE)])

    assert results[1].outcome is Outcome.failed
    assert results[1].error_code == "templates"
    assert env.received() == []


class Paused:
    """A circuit breaker that holds every request back."""

    def allow(self) -> float:
        return 5.0


async def test_requests_the_breaker_holds_back_are_not_sent(env: TencentEnv) -> None:
    channel = env.channel()
    try:
        items = [alert_item(1, PHONE), notice_item(2, "+8613900000002")]
        results = [r async for r in channel.send_stream(items, Paused())]
    finally:
        await channel.close()

    assert {(r.outcome, r.error_code) for r in results} == {(Outcome.retry, "circuit_open")}
    assert env.received() == []


async def test_the_simulator_hands_out_each_report_once_in_queue_mode(env: TencentEnv) -> None:
    env.configure(report_delay_ms=0)
    phones = ["+8613900000011", "+8613900000012"]
    results = await send(env.channel(), [notice_item(1, phones[0]), notice_item(2, phones[1])])
    env.pushes.wait("status", 1)
    account = Account(SECRET_ID, SECRET_KEY, APP_ID, "ap-guangzhou", f"{env.sim_url}/tencent", 5)
    client = Clients(account).get()
    pull = models.PullSmsSendStatusRequest()
    pull.from_json_string(json.dumps({"Limit": 10, "SmsSdkAppId": APP_ID}))

    first = client.PullSmsSendStatus(pull).PullSmsSendStatusSet
    again = client.PullSmsSendStatus(pull).PullSmsSendStatusSet

    assert sorted(s.PhoneNumber for s in first) == phones
    assert {s.SerialNo for s in first} == {r.provider_id for r in results.values()}
    assert {s.SessionContext for s in first} == {"1-2"}
    assert again == []


async def test_a_provider_out_of_reach_is_a_retry(env: TencentEnv) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    channel = env.channel(endpoint=f"http://127.0.0.1:{port}/tencent")

    results = await send(channel, [alert_item(1, PHONE)])

    assert (results[1].outcome, results[1].error_code) == (Outcome.retry, "connection")
    assert "connection failed" in results[1].message
