"""What Aliyun's answers mean for one item: nothing that may have been sent is ever `retry`;
how batches are cut and their messages named."""

from __future__ import annotations

import aiohttp
from aiohttp.client_reqrep import ConnectionKey
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException
from darabonba.exceptions import RetryError, UnretryableException
from darabonba.policy.retry import RetryPolicyContext

from channels.base import Outcome, SendItem
from channels.sms_aliyun_batch import batch_id, biz_of, chunks
from channels.sms_aliyun_outcomes import business, failure
from channels.templated import Filled

ITEM = SendItem(7, "+8613912345678", "")


def outcome_of(code: str, message: str = "") -> tuple[Outcome, str | None]:
    result = business(ITEM, code, message, {"segments": 1})
    return result.outcome, result.error_code


def test_business_codes() -> None:
    assert outcome_of("isv.MOBILE_NUMBER_ILLEGAL") == (Outcome.failed, "isv.MOBILE_NUMBER_ILLEGAL")
    assert outcome_of("isp.SYSTEM_ERROR") == (Outcome.retry, "isp.SYSTEM_ERROR")
    assert outcome_of("isv.SOMETHING_NEW") == (Outcome.failed, "isv.SOMETHING_NEW")
    minute = business(ITEM, "isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1", {})
    assert (minute.outcome, minute.detail["retry_after"]) == (Outcome.retry, 60)
    assert minute.throttled  # flow control: the breaker is not fed
    day = business(ITEM, "isv.BUSINESS_LIMIT_CONTROL", "触发天级流控Permits:10", {})
    assert day.outcome is Outcome.failed
    assert not business(ITEM, "isp.SYSTEM_ERROR", "", {}).throttled


def wrapped(cause: BaseException) -> UnretryableException:
    """How the SDK raises a network failure: RetryError (cause as context) in an envelope."""
    try:
        try:
            raise cause
        except OSError as exc:
            raise RetryError(str(exc)) from None
    except RetryError as error:
        error.__context__ = cause
        return UnretryableException(RetryPolicyContext(retries_attempted=1, exception=error))


def test_gateway_and_network_failures() -> None:
    throttled = ClientException(status_code=400, code="Throttling.User", message="flow control")
    refused = ClientException(status_code=400, code="SignatureDoesNotMatch", message="no")
    down = ServerException(status_code=503, code="ServiceUnavailable", message="down")
    broken = ServerException(status_code=500, code="InternalError", message="oops")
    key = ConnectionKey("127.0.0.1", 9, False, True, None, None, None)
    unreachable = wrapped(aiohttp.ClientConnectorError(key, OSError(111, "refused")))
    slow = wrapped(TimeoutError())
    too_many = ServerException(status_code=429, code="TooManyRequests", message="slow down")
    cases = [throttled, refused, down, broken, unreachable, slow, ValueError("bug"), too_many]
    results = [failure(ITEM, c, {}) for c in cases]
    assert [(r.outcome, r.error_code) for r in results] == [
        (Outcome.retry, "Throttling.User"),
        (Outcome.failed, "SignatureDoesNotMatch"),
        (Outcome.retry, "ServiceUnavailable"),
        (Outcome.unknown, "InternalError"),
        (Outcome.retry, "connection"),
        (Outcome.unknown, "timeout"),
        (Outcome.unknown, "error"),
        (Outcome.retry, "TooManyRequests"),
    ]
    # "slow down" answers, not an unwell provider: only these spare the breaker
    assert [r.throttled for r in results] == [True, False, False, False, False, False, False, True]


def test_a_batch_names_each_number_once() -> None:
    alert, notice = Filled("SMS_1", {}, "a"), Filled("SMS_2", {}, "b")
    entries = [
        (SendItem(1, "+8613900000001", ""), "13900000001", alert),
        (SendItem(2, "+8613900000002", ""), "13900000002", alert),
        (SendItem(3, "+8613900000001", ""), "13900000001", alert),  # a shared phone
        (SendItem(4, "+8613900000001", ""), "13900000001", notice),
        (SendItem(5, "+8613900000003", ""), "13900000003", alert),
    ]
    assert [[e[0].key for e in chunk] for chunk in chunks(entries, 100)] == [[1, 2], [3, 5], [4]]
    assert [[e[0].key for e in chunk] for chunk in chunks(entries, 1)] == [[1], [2], [3], [4], [5]]
    assert biz_of(batch_id("9006^0", "13900000001")) == biz_of("9006^0") == "9006^0"
