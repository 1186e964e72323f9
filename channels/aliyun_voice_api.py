"""The official Aliyun voice SDK on a configurable endpoint, its answers read as outcomes."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import phonenumbers
from alibabacloud_dyvmsapi20170525.client import Client
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.exceptions import RetryError, UnretryableException

from channels.base import Outcome

OK = "OK"
# Refusals that mean "nothing was placed, try again later": flow control and the gateway's
# own troubles (Aliyun answers business errors with HTTP 200 and a Code, gateway errors with
# an HTTP status and a Code).
RETRY_CODES = frozenset(
    {
        "isv.BUSINESS_LIMIT_CONTROL",
        "Throttling",
        "Throttling.User",
        "Throttling.Api",
        "ServiceUnavailable",
        "InternalError",
        "isp.SYSTEM_ERROR",
    }
)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
NOT_CONNECTED = "Cannot connect to host"  # aiohttp's words when the connection never opened


def client(
    *, access_key_id: str, access_key_secret: str, endpoint: str, region_id: str, timeout: float
) -> Client:
    """An SDK client; `endpoint` is a host (HTTPS, as Aliyun's) or a whole base URL (the
    simulator's, e.g. http://127.0.0.1:8099/sim/dyvmsapi)."""
    config = Config(
        access_key_id=access_key_id,
        access_key_secret=access_key_secret,
        endpoint=endpoint,
        region_id=region_id,
        protocol="http" if endpoint.startswith("http://") else "https",
        read_timeout=int(timeout * 1000),
        connect_timeout=int(min(timeout, 5.0) * 1000),
    )
    return Client(config)


def mainland_number(address: str) -> str | None:
    """The number as Aliyun dials it (mobile 13800000000, landline 01012345678), or None for a
    number outside mainland China (Aliyun's domestic voice calls nowhere else)."""
    try:
        number = phonenumbers.parse(address, "CN")
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != 86 or not phonenumbers.is_possible_number(number):
        return None
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return "".join(ch for ch in national if ch.isdigit())


@dataclass(frozen=True)
class Answer:
    """What one API call came to: the body's fields, or why there is none."""

    outcome: Outcome
    body: dict[str, Any]
    code: str | None = None
    message: str = ""
    throttled: bool = False  # flow control: slow down, Aliyun is well


def refused(code: str, message: str) -> Answer:
    """Aliyun's Code other than OK: retry for flow control, else a definite refusal."""
    throttled = code == "isv.BUSINESS_LIMIT_CONTROL" or code.startswith("Throttling")
    outcome = Outcome.retry if code in RETRY_CODES or throttled else Outcome.failed
    return Answer(outcome, {}, code, message[:200], throttled)


async def call(request: Awaitable[Any]) -> Answer:
    """The SDK's answer read as ours: accepted (Code OK), refused (retry or failed by the
    Code), never reached (retry), or no answer at all (unknown: the call may be ringing)."""
    try:
        response = await request
    except AlibabaCloudException as exc:
        # the SDK writes a missing Code as the text "None"
        code = str(exc.code) if exc.code not in (None, "", "None") else f"http_{exc.status_code}"
        answer = refused(code, str(exc.message or ""))
        if exc.status_code in RETRY_STATUSES and answer.outcome is Outcome.failed:
            return Answer(Outcome.retry, {}, code, answer.message, exc.status_code == 429)
        return answer
    except UnretryableException as exc:
        inner = getattr(exc, "inner_exception", None)
        text = str(getattr(inner, "message", "") or inner or exc)
        if isinstance(inner, RetryError) and text.startswith(NOT_CONNECTED):
            return Answer(Outcome.retry, {}, "connection", f"连接失败 / connection failed: {text}")
        return Answer(Outcome.unknown, {}, "timeout", f"提供商未应答 / no answer: {text}"[:200])
    body = response.body.to_map() if response.body is not None else {}
    code = str(body.get("Code") or "")
    if code != OK:
        return refused(code or "no_code", str(body.get("Message") or ""))
    return Answer(Outcome.accepted, body)
