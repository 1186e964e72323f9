"""The Aliyun SMS channel through the official SDK against the simulator over HTTP: templates,
signatures, refusals, limits, faults, look-ups."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest

from channels.base import ChannelError, LookupItem, Outcome, ProviderState, SendItem, SendResult
from channels.config import Deployment
from channels.sms_aliyun import SmsAliyun, SmsAliyunSettings
from channels.sms_aliyun_hooks import sms_report
from tests.integration.aliyun_support import AliyunEnv, alert_message, aliyun_env, pushed

RESIDENT = "+8613912345678"
OTHER = "+8613912345679"


@pytest.fixture(scope="module")
def env_running() -> Iterator[AliyunEnv]:
    with aliyun_env() as env:
        yield env


@pytest.fixture
def env(env_running: AliyunEnv) -> AliyunEnv:
    env_running.restore()
    return env_running


def item(key: int = 101, address: str = RESIDENT, **message: str) -> SendItem:
    return SendItem(key, address, "(our own rendering)", message=alert_message(**message))


async def send(channel: SmsAliyun, *items: SendItem) -> list[SendResult]:
    try:
        return sorted(await channel.send_batch(items), key=lambda r: r.key)
    finally:
        await channel.close()


async def test_accepted_with_the_approved_template_and_its_variables(env: AliyunEnv) -> None:
    channel = env.channel()
    [result] = await send(channel, item(101))
    assert result.outcome is Outcome.accepted, result
    [sms] = env.sms()["sms"]
    assert result.provider_id == sms["BizId"]
    assert sms["PhoneNumbers"] == sms["phone_number"] == "13912345678"
    assert (sms["SignName"], sms["TemplateCode"], sms["OutId"]) == (
        "防汛抗旱指挥部",
        "SMS_480000110",
        "101",
    )
    assert json.loads(sms["TemplateParam"]) == {
        "sender": "某区防指",
        "level": "橙色",
        "hazard": "暴雨",
        "headline": "暴雨橙色预警",
        "token": "tok123",
    }
    filled = channel.fill(item(101))
    assert sms["text"] == filled.text
    assert sms["text"].startswith("【防汛抗旱指挥部】某区防指发布橙色暴雨预警")
    assert "https://bc.example.cn/c/tok123" in sms["text"]
    assert result.detail["segments"] == filled.segments == sms["sms_size"]


async def test_wrong_secret_and_unknown_key_are_refused_by_the_gateway(env: AliyunEnv) -> None:
    [wrong] = await send(env.channel(access_key_secret="not-the-secret"), item())
    [stranger] = await send(env.channel(access_key_id="LTAI5tNobodyKnowsMe"), item())
    assert (wrong.outcome, wrong.error_code) == (Outcome.failed, "SignatureDoesNotMatch")
    assert (stranger.outcome, stranger.error_code) == (
        Outcome.failed,
        "InvalidAccessKeyId.NotFound",
    )
    assert env.sms()["sms"] == []


async def test_unknown_template_and_signature_are_refused(env: AliyunEnv) -> None:
    templates = dict(env.configure()["templates"])
    del templates["SMS_480000110"]
    env.configure(templates=templates)
    [template] = await send(env.channel(), item())
    [sign] = await send(env.channel(sign_name="某公司"), item(102, OTHER))
    assert (template.outcome, template.error_code) == (Outcome.failed, "isv.SMS_TEMPLATE_ILLEGAL")
    assert (sign.outcome, sign.error_code) == (Outcome.failed, "isv.SMS_SIGNATURE_ILLEGAL")
    assert env.sms()["sms"] == []
    assert [r["Code"] for r in env.sms()["refused"]] == [
        "isv.SMS_TEMPLATE_ILLEGAL",
        "isv.SMS_SIGNATURE_ILLEGAL",
    ]


async def test_what_no_template_carries_is_failed_before_anything_is_sent(env: AliyunEnv) -> None:
    bare = SendItem(1, RESIDENT, "free text")
    long = item(2, headline="很长的标题" * 10)
    abroad = item(3, address="+14155550100")
    results = await send(env.channel(), bare, long, abroad)
    assert [(r.outcome, r.error_code) for r in results] == [
        (Outcome.failed, "no_message"),
        (Outcome.failed, "template_refused"),
        (Outcome.failed, "not_mainland"),
    ]
    assert "headline" in results[1].message
    assert env.sms() == {"sms": [], "refused": []}


async def test_over_the_per_number_limits(env: AliyunEnv) -> None:
    channel = env.channel()
    [first] = await send(channel, item(1))
    [again] = await send(channel, item(2))
    assert first.outcome is Outcome.accepted
    assert (again.outcome, again.error_code) == (Outcome.retry, "isv.BUSINESS_LIMIT_CONTROL")
    assert again.detail["retry_after"] == 60
    assert again.throttled  # flow control, not an unwell provider
    env.configure(per_minute=100, per_hour=1)
    [hourly] = await send(channel, item(3))
    assert (hourly.outcome, hourly.error_code) == (Outcome.failed, "isv.BUSINESS_LIMIT_CONTROL")
    assert "小时级" in hourly.message
    assert len(env.sms()["sms"]) == 1


async def test_faults_down_throttled_error_unreachable(env: AliyunEnv) -> None:
    env.faults(down=True)
    [down] = await send(env.channel(), item(1))
    env.faults(down=False, throttle_rate=1)
    [throttled] = await send(env.channel(), item(2))
    env.faults(throttle_rate=0, error_rate=1)
    [error] = await send(env.channel(), item(3))
    env.faults(error_rate=0)
    [closed] = await send(env.channel(endpoint="http://127.0.0.1:9/dysmsapi"), item(4))
    assert (down.outcome, down.error_code) == (Outcome.retry, "ServiceUnavailable")
    assert (throttled.outcome, throttled.error_code) == (Outcome.retry, "Throttling.User")
    assert (error.outcome, error.error_code) == (Outcome.unknown, "InternalError")
    assert (closed.outcome, closed.error_code) == (Outcome.retry, "connection")
    assert [r.throttled for r in (down, throttled, error, closed)] == [False, True, False, False]
    assert env.sms()["sms"] == []


async def test_a_timeout_is_unknown_and_the_lookup_resolves_it(env: AliyunEnv) -> None:
    env.faults(timeout_rate=1, timeout_seconds=3)
    channel = env.channel(timeout_seconds=0.5)
    since = dt.datetime.now(dt.UTC)
    [sent, lost] = await send(channel, item(1), item(2, OTHER))
    assert (sent.outcome, sent.error_code) == (Outcome.unknown, "timeout")
    assert lost.outcome is Outcome.unknown
    env.pushes.wait("report", 2)
    env.faults(timeout_rate=0)
    found = await env.channel().lookup(
        [LookupItem(1, RESIDENT, since, "tok123"), LookupItem(7, OTHER, since, "x")]
    )
    assert found[0].found is True
    assert (found[0].state, found[0].provider_id) == (ProviderState.delivered, "out:1")
    assert found[1].found is False  # OTHER's message carries OutId 2, not 7


async def test_a_timeout_that_sent_nothing_is_found_missing(env: AliyunEnv) -> None:
    env.faults(timeout_rate=1, timeout_seconds=3, timeout_sends=False)
    since = dt.datetime.now(dt.UTC)
    [result] = await send(env.channel(timeout_seconds=0.5), item(5))
    assert result.outcome is Outcome.unknown
    env.faults(timeout_rate=0)
    [found] = await env.channel().lookup([LookupItem(5, RESIDENT, since, "tok123")])
    assert found.found is False


async def test_lookup_by_biz_id_follows_the_receipt(env: AliyunEnv) -> None:
    env.configure(number_fates={"13912345679": "MN:0001"})
    since = dt.datetime.now(dt.UTC)
    ok, bad = await send(env.channel(), item(11), item(12, OTHER))
    env.pushes.wait("report", 2)
    found = await env.channel().lookup(
        [
            LookupItem(11, RESIDENT, since, "", ok.provider_id),
            LookupItem(12, OTHER, since, "", bad.provider_id),
        ]
    )
    assert [(r.found, r.state, r.provider_id) for r in found] == [
        (True, ProviderState.delivered, ok.provider_id),
        (True, ProviderState.failed, bad.provider_id),
    ]
    assert found[1].error_code == "MN:0001"


async def test_a_failed_lookup_says_ask_again(env: AliyunEnv) -> None:
    env.faults(down=True)
    since = dt.datetime.now(dt.UTC)
    [found] = await env.channel().lookup([LookupItem(1, RESIDENT, since, "")])
    assert found.found is None


def test_drills_go_to_the_simulator_only() -> None:
    options = {"access_key_id": "k", "access_key_secret": "s", "endpoint": "dysmsapi.aliyuncs.com"}
    real = SmsAliyun.configure(options, Deployment(simulator_url="http://127.0.0.1:8000/sim"))
    drill = SmsAliyun.configure(
        options, Deployment(drill=True, simulator_url="http://127.0.0.1:8000/sim")
    )
    assert isinstance(real, SmsAliyunSettings)
    assert isinstance(drill, SmsAliyunSettings)
    assert (real.endpoint, real.protocol) == ("dysmsapi.aliyuncs.com", "HTTPS")
    assert (drill.endpoint, drill.protocol) == ("127.0.0.1:8000/sim/dysmsapi", "HTTP")
    with pytest.raises(ChannelError) as nowhere:
        SmsAliyun.configure(options, Deployment(drill=True))
    assert nowhere.value.code == "drill_without_simulator"


async def test_batch_mode_sends_up_to_batch_size_numbers_a_call(env: AliyunEnv) -> None:
    phones = [f"+86139000000{n:02d}" for n in range(5)]
    items = [item(300 + n, phone) for n, phone in enumerate(phones)]
    since = dt.datetime.now(dt.UTC)
    results = await send(env.channel(batch=True, batch_size=2), SendItem(299, RESIDENT, ""), *items)
    assert (results[0].outcome, results[0].error_code) == (Outcome.failed, "no_message")
    accepted = results[1:]
    assert {r.outcome for r in accepted} == {Outcome.accepted}
    assert [r.detail["batch"] for r in accepted] == [2, 2, 2, 2, 1]
    sent = env.sms()["sms"]
    assert sorted(s["phone_number"] for s in sent) == sorted(p[3:] for p in phones)
    assert {s["Action"] for s in sent} == {"SendBatchSms"}
    assert {s["TemplateCode"] for s in sent} == {"SMS_480000110"}
    assert len({s["BizId"] for s in sent}) == 3
    # each message known by its batch's BizId and its number; receipts matched by that
    ids = {r.provider_id for r in accepted}
    assert ids == {f"{s['BizId']}#{s['phone_number']}" for s in sent}
    arrays = env.pushes.wait("report", 5)
    receipts = [r for a in arrays for r in sms_report(pushed(a)).receipts]
    assert {(r.delivery_id, r.state) for r in receipts} == {(0, ProviderState.delivered)}
    assert sorted(r.provider_id for r in receipts) == sorted(ids)
    found = await env.channel().lookup(
        [LookupItem(r.key, phones[r.key - 300], since, "", r.provider_id) for r in accepted]
    )
    assert {(f.found, f.state) for f in found} == {(True, ProviderState.delivered)}
    assert [f.provider_id for f in found] == [r.provider_id for r in accepted]


def test_limits_default_to_aliyuns_and_zero_lifts_them() -> None:
    options = {"access_key_id": "k", "access_key_secret": "s"}
    default = SmsAliyun(SmsAliyunSettings.model_validate(options)).limits()
    assert (default.rate_per_second, default.per_minute, default.per_hour) == (100, 1, 5)
    assert default.credential == "aliyun-dysms:k"
    lifted = SmsAliyun.configure(
        {**options, "rate_per_second": "0", "per_minute": 0, "per_hour": "0"}, Deployment()
    )
    assert isinstance(lifted, SmsAliyunSettings)
    assert (lifted.rate_per_second, lifted.per_minute, lifted.per_hour) == (None, None, None)
    kept = SmsAliyun.configure(options, Deployment())
    assert isinstance(kept, SmsAliyunSettings)
    assert kept.rate_per_second == 100
