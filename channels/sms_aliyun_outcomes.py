"""What Aliyun's SMS answers mean for one item: its business codes (HTTP 200 with a Code), its
gateway errors (the SDK's exceptions), and failures on the way (SendSms is not idempotent:
anything that may have reached Aliyun is `unknown`, never `retry`)."""

from __future__ import annotations

from typing import Any

import aiohttp
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from darabonba.exceptions import RetryError, UnretryableException

from channels.base import Outcome, SendItem, SendResult

# Business codes on which nothing was sent and a later try may pass.
THROTTLED = "isv.BUSINESS_LIMIT_CONTROL"  # flow control: slow down, Aliyun is well
RETRY_CODES = frozenset({"isp.SYSTEM_ERROR", THROTTLED})
# Per-number flow control: the minute window passes; the hour and day ones do not in time to
# matter for a warning, so the household escalates (another medium) instead of waiting.
MINUTE_LIMIT = "分钟级"
MINUTE = 60.0
# Gateway errors on which nothing was sent and a later try may pass.
TOO_MANY = 429
RETRY_STATUSES = frozenset({TOO_MANY, 503})
UNKNOWN = {
    "timeout": "提供商未应答 / no answer",
    "error": "提供商出错，可能已发出 / provider error, may have been sent",
}


def _result(
    item: SendItem,
    outcome: Outcome,
    code: str,
    message: str,
    detail: dict[str, Any],
    throttled: bool = False,
) -> SendResult:
    return SendResult(
        item.key,
        outcome,
        error_code=code[:32],
        message=message[:200],
        detail=detail,
        throttled=throttled,
    )


def business(item: SendItem, code: str, message: str, detail: dict[str, Any]) -> SendResult:
    """A SendSms answered with a Code other than OK: nothing was sent."""
    extra = dict(detail)
    if code == THROTTLED:
        if MINUTE_LIMIT not in message:
            return _result(item, Outcome.failed, code, f"号码限流 / number limit: {message}", extra)
        extra["retry_after"] = MINUTE
    outcome = Outcome.retry if code in RETRY_CODES else Outcome.failed
    text = f"阿里云拒绝 / refused by Aliyun: {message}"
    return _result(item, outcome, code, text, extra, throttled=code == THROTTLED)


def failure(item: SendItem, exc: BaseException, detail: dict[str, Any]) -> SendResult:
    """The outcome of a SendSms that raised: refused by the gateway, never reached, or unknown."""
    extra = dict(detail)
    if isinstance(exc, AlibabaCloudException):
        code = str(exc.code or exc.status_code or "error")
        status = int(exc.status_code or 0)
        text = str(exc.message or code)
        if code.startswith("Throttling") or status in RETRY_STATUSES:
            throttled = code.startswith("Throttling") or status == TOO_MANY
            busy = f"阿里云暂不受理 / Aliyun busy: {text}"
            return _result(item, Outcome.retry, code, busy, extra, throttled=throttled)
        if status >= 500:  # the gateway failed after taking the request: maybe sent
            return _result(item, Outcome.unknown, code, f"{UNKNOWN['error']}: {text}", extra)
        return _result(item, Outcome.failed, code, f"阿里云拒绝 / refused by Aliyun: {text}", extra)
    cause = _cause(exc)
    if isinstance(cause, aiohttp.ClientConnectorError) and not isinstance(cause, TimeoutError):
        return _result(
            item,
            Outcome.retry,
            "connection",
            f"连接失败 / connection failed: {type(cause).__name__}",
            extra,
        )
    code = "timeout" if isinstance(cause, TimeoutError) else "error"
    return _result(item, Outcome.unknown, code, f"{UNKNOWN[code]}: {type(cause).__name__}", extra)


def _cause(exc: BaseException) -> BaseException:
    """The network error under the SDK's wrappers (it re-raises I/O errors as RetryError)."""
    if isinstance(exc, UnretryableException):
        inner = getattr(exc, "inner_exception", None)
        if isinstance(inner, BaseException):
            exc = inner
    context = exc.__context__ if isinstance(exc, RetryError) else None
    return context if context is not None else exc
