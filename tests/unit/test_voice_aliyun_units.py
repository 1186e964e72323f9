"""Aliyun voice without a network: numbers, pushes, signatures, templates."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_tea_openapi.utils import Utils
from darabonba.request import DaraRequest
from pydantic import SecretStr

from broadcaster.sim.aliyun_signing import Verifier
from broadcaster.sim.aliyun_voice_config import (
    TEMPLATES,
    AliyunVoiceSimConfig,
    approved_templates,
)
from channels.aliyun_voice_api import mainland_number
from channels.aliyun_voice_hooks import ivr_report, voice_report
from channels.base import ChannelError, Outcome, ProviderState, SendItem
from channels.config import Deployment
from channels.hooks import HookRejected, HookRequest, KeyPress, Receipt
from channels.templated import load_book
from channels.voice_aliyun import VoiceAliyun, VoiceAliyunSettings

BOOK = Path(__file__).resolve().parents[2] / "config/templates/providers/voice_aliyun.toml"


def push(entries: Any, *, token: str = "tok", client: str = "10.1.2.3") -> HookRequest:
    return HookRequest(
        url=f"https://example.org/hooks/aliyun/voice_report?token={token}",
        base="https://example.org/hooks/aliyun",
        query={"token": token},
        headers={"content-type": "application/json"},
        form={},
        body=json.dumps(entries).encode(),
        client=client,
    )


def channel(**settings: Any) -> VoiceAliyun:
    return VoiceAliyun(
        VoiceAliyunSettings(access_key_id="k", access_key_secret=SecretStr("s"), **settings)
    )


@pytest.mark.parametrize(
    ("address", "dialled"),
    [
        ("+8613800000001", "13800000001"),
        ("+861088881234", "01088881234"),
        ("+8657188880000", "057188880000"),
        ("13800000001", "13800000001"),
        ("+85291234567", None),
        ("+14155550100", None),
        ("garbage", None),
    ],
)
def test_only_mainland_numbers_are_dialled(address: str, dialled: str | None) -> None:
    assert mainland_number(address) == dialled


def test_call_reports_become_receipts_and_their_keys_key_presses() -> None:
    answer = voice_report(
        push(
            [
                {"call_id": "1^1", "out_id": "11", "status_code": "200000", "dtmf": "91"},
                {"call_id": "2^2", "out_id": "12", "status_code": "200002", "dtmf": ""},
                {"call_id": "3^3", "out_id": "13", "status_code": "200001"},
                {"call_id": "4^4", "out_id": "not-ours", "status_code": "200000"},
                {"call_id": "5^5", "out_id": "15", "status_code": "300000", "dtmf": "1"},
            ]
        )
    )
    assert list(answer.receipts) == [
        Receipt(11, "1^1", ProviderState.delivered),
        Receipt(12, "2^2", ProviderState.failed, "200002"),
        Receipt(13, "3^3", ProviderState.delivered),
    ]
    assert list(answer.keys) == [KeyPress(11, "9", "1^1"), KeyPress(11, "1", "1^1")]
    assert json.loads(answer.body) == {"code": 0, "msg": "接收成功"}


def test_key_reports_become_key_presses() -> None:
    answer = ivr_report(
        push(
            [
                {"call_id": "1^1", "out_id": "11", "status_code": "300000", "dtmf": "2"},
                {"call_id": "2^2", "out_id": "12", "status_code": "200101"},
            ]
        )
    )
    assert (list(answer.keys), list(answer.receipts)) == ([KeyPress(11, "2", "1^1")], [])


@pytest.mark.parametrize("body", [b"not json", b'"a string"', b"[" + b"{}," * 1000 + b"{}]"])
def test_a_push_that_is_not_a_json_array_is_rejected(body: bytes) -> None:
    request = push([])
    with pytest.raises(HookRejected):
        voice_report(HookRequest(**{**request.__dict__, "body": body}))


def test_pushes_need_the_secret_token_and_an_allowed_source() -> None:
    assert not channel().verify(push([], token=""))  # no token configured: refused
    guarded = channel(push_token=SecretStr("tok"), push_allow=["10.1.0.0/16", "192.0.2.7"])
    assert guarded.verify(push([], token="tok"))
    assert guarded.verify(push([], token="tok", client="192.0.2.7"))
    assert not guarded.verify(push([], token="other"))
    assert not guarded.verify(push([], token="tok", client="203.0.113.9"))
    assert not guarded.verify(push([], token="tok", client="not-an-address"))
    assert channel(push_token=SecretStr("tok")).verify(push([], token="tok", client="8.8.8.8"))


def sdk_signed(secret: str, query: dict[str, str]) -> dict[str, str]:
    """Headers of a request signed by the SDK's own signer."""
    request = DaraRequest()
    request.method, request.pathname, request.query = "POST", "/", query
    request.headers = {
        "host": "http://127.0.0.1:9/sim/dyvmsapi",
        "x-acs-version": "2017-05-25",
        "x-acs-action": "IvrCall",
        "x-acs-date": Utils.get_timestamp(),
        "x-acs-signature-nonce": Utils.get_nonce(),
        "x-acs-content-sha256": hashlib.sha256(b"").hexdigest(),
        "accept": "application/json",
    }
    request.headers["authorization"] = Utils.get_authorization(
        request, "ACS3-HMAC-SHA256", request.headers["x-acs-content-sha256"], "AK1", secret
    )
    return dict(request.headers)


def test_the_simulator_checks_the_sdk_signature_and_refuses_replays() -> None:
    query = {"CalledNumber": "13800000001", "StartTtsParams": '{"a": "暴雨 红色"}'}
    headers, verifier = sdk_signed("s3cret", query), Verifier()

    def check(**changes: Any) -> str | None:
        args = {"query": query, "headers": headers, "body": b"", **changes}
        _key, refusal = verifier.check(method="POST", path="/", secrets={"AK1": "s3cret"}, **args)
        return refusal.code if refusal else None

    assert check(query={**query, "CalledNumber": "13800000002"}) == "SignatureDoesNotMatch"
    assert check(body=b"x") == "InvalidPayload"
    assert check(headers={**headers, "authorization": ""}) == "IncompleteSignature"
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert check(now=later) == "InvalidTimeStamp.Expired"
    assert check() is None
    assert check() == "SignatureNonceUsed"
    other = sdk_signed("wrong", query)
    assert check(headers=other) == "SignatureDoesNotMatch"


def test_the_simulated_account_approved_exactly_the_shipped_templates() -> None:
    book = load_book(BOOK)
    assert {t.code: t.text for t in book.templates.values()} == TEMPLATES
    assert AliyunVoiceSimConfig().templates == TEMPLATES
    assert approved_templates(BOOK.with_name("missing.toml")) == TEMPLATES


def test_drills_call_the_simulator_only_and_the_book_comes_from_the_deployment() -> None:
    options = {"access_key_id": "k", "access_key_secret": "s", "endpoint": "dyvmsapi.aliyuncs.com"}
    where = Deployment(simulator_url="http://127.0.0.1:8099/sim/", config_dir=BOOK.parents[2])
    real = VoiceAliyun.configure(dict(options), where)
    drill = VoiceAliyun.configure(dict(options), replace(where, drill=True))
    assert isinstance(real, VoiceAliyunSettings)
    assert isinstance(drill, VoiceAliyunSettings)
    assert real.endpoint == "dyvmsapi.aliyuncs.com"
    assert drill.endpoint == "http://127.0.0.1:8099/sim/dyvmsapi"
    assert real.templates == BOOK
    with pytest.raises(ChannelError) as refused:
        VoiceAliyun.configure(dict(options), Deployment(drill=True))
    assert refused.value.code == "drill_without_simulator"


def test_calls_declare_the_accounts_rate_and_per_number_limits() -> None:
    limits = channel(per_number_per_hour=4).limits()
    assert (limits.rate_per_second, limits.per_minute, limits.per_hour) == (100.0, 1, 4)
    assert limits.credential == "aliyun-voice:k"
    assert limits.per_address


async def test_an_unconfigured_account_fails_its_calls_and_refuses_pushes() -> None:
    unconfigured = VoiceAliyun.configure({}, Deployment())
    assert isinstance(unconfigured, VoiceAliyunSettings)
    sender = VoiceAliyun(unconfigured)
    [result] = await sender.send_batch([SendItem(1, "+8613800000001", "")])
    assert (result.outcome, result.error_code) == (Outcome.failed, "no_credentials")
    assert not sender.verify(push([], token=""))
