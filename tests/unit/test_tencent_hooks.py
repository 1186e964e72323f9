"""Tencent SMS pushes read without the service: SessionContext ids, reports, replies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from channels.base import ProviderState
from channels.config import Deployment
from channels.hooks import HookRejected, HookRequest
from channels.sms_tencent import SmsTencent
from channels.tencent_hooks import BY_PROVIDER_ID, decode_ids, encode_ids, reply_push, status_push


def push(entries: object) -> HookRequest:
    return HookRequest("u", "b", {}, {}, {}, json.dumps(entries).encode())


@pytest.mark.parametrize(
    ("ids", "context"),
    [([7], "7"), ([3, 1, 2, 9, 10, 12], "1-3,9-10,12"), ([5, 5], "5"), ([], "")],
)
def test_delivery_ids_make_a_short_session_context_and_back(ids: list[int], context: str) -> None:
    assert encode_ids(ids) == context
    assert decode_ids(context) == sorted(set(ids))


@pytest.mark.parametrize("foreign", ["order-17", "3-1", "1-999999", "7,x", None])
def test_a_session_context_that_is_not_ours_names_nothing(foreign: str | None) -> None:
    assert decode_ids(foreign) == []


def test_reports_name_our_delivery_when_ext_is_one_id_else_the_serial_number() -> None:
    answer = status_push(
        push(
            [
                {"sid": "a", "report_status": "SUCCESS", "ext": "41"},
                {"sid": "b", "report_status": "FAIL", "errmsg": "MK:0005", "ext": "40-42"},
                {"sid": "c", "report_status": "SUCCESS"},
                {"sid": "", "report_status": "SUCCESS"},  # unplaceable: skipped
                {"sid": "d", "report_status": "SENDING"},  # not a report we know: skipped
            ]
        )
    )
    assert [(r.delivery_id, r.provider_id, r.state, r.error_code) for r in answer.receipts] == [
        (41, "a", ProviderState.delivered, None),
        (BY_PROVIDER_ID, "b", ProviderState.failed, "MK:0005"),
        (BY_PROVIDER_ID, "c", ProviderState.delivered, None),
    ]
    assert json.loads(answer.body) == {"result": 0, "errmsg": "OK"}
    assert status_push(push([])).receipts == []


def test_replies_come_in_e164_and_a_bad_number_is_rejected() -> None:
    one = {"mobile": "13900000001", "nationcode": "86", "text": "求助", "time": 1, "sign": "x"}
    [reply] = reply_push(push(one)).replies
    assert (reply.sender, reply.body) == ("+8613900000001", "求助")
    with pytest.raises(HookRejected):
        reply_push(push([{**one, "mobile": "12"}]))
    with pytest.raises(HookRejected):
        reply_push(HookRequest("u", "b", {}, {}, {}, b"not json"))


def test_settings_from_the_environment_are_read_as_strings() -> None:
    options = {
        "secret_id": "AKID",
        "secret_key": "k",
        "sdk_app_id": "1400000001",
        "rate_per_second": "0",
        "hook_sources": "10.0.0.0/8, 192.0.2.1",
    }
    settings = SmsTencent.configure(options, Deployment())
    assert settings.rate_per_second is None  # type: ignore[attr-defined]
    assert settings.hook_sources == ["10.0.0.0/8", "192.0.2.1"]  # type: ignore[attr-defined]
    listed = SmsTencent.configure({**options, "hook_sources": '["10.0.0.1"]'}, Deployment())
    assert listed.hook_sources == ["10.0.0.1"]  # type: ignore[attr-defined]


def test_the_provider_declares_its_book_and_its_limits() -> None:
    config_dir = Path(__file__).resolve().parents[2] / "config"
    book = SmsTencent.template_book(Deployment(config_dir=config_dir))
    assert book is not None
    assert book.templates["alert"].code == "1900101"
    options = {"secret_id": "AKID", "secret_key": "k", "sdk_app_id": "1400000001"}
    limited = {**options, "per_minute": 1, "per_hour": 5, "per_day": 10}
    settings = SmsTencent.configure(limited, Deployment())
    limits = SmsTencent(settings).limits()  # type: ignore[arg-type]
    assert (limits.per_minute, limits.per_hour, limits.per_day) == (1, 5, 10)
    assert limits.credential == "tencent:1400000001"
