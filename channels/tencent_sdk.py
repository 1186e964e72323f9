"""Tencent Cloud SMS requests through the official SDK (API 2021-01-11): items grouped into
SendSms requests, each answer read into one result per item, and status pulls."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
    TencentCloudSDKException,
)
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from channels.base import LookupItem, LookupResult, Outcome, ProviderState, SendItem, SendResult
from channels.tencent_hooks import CONTEXT_MAX, REPORT_STATES, decode_ids, encode_ids

MAX_NUMBERS = 200  # PhoneNumberSet's limit per SendSms request
PULL_LIMIT = 100
# A number's frequency limits: nothing was sent; wait this long (seconds) before asking again.
NUMBER_LIMITS = {
    "LimitExceeded.PhoneNumberThirtySecondLimit": 30,
    "LimitExceeded.PhoneNumberOneHourLimit": 3600,
    "LimitExceeded.PhoneNumberDailyLimit": 6 * 3600,
    "LimitExceeded.PhoneNumberSameContentDailyLimit": 6 * 3600,
    "LimitExceeded.DailyLimit": 6 * 3600,
    "LimitExceeded.DeliveryFrequencyLimit": 60,
}
# Request-level answers that mean "nothing was sent, try again later".
RETRY_CODES = frozenset(
    {
        "RequestLimitExceeded",
        "LimitExceeded.AppDailyLimit",
        "ServerNetworkError",
        "ResourceUnavailable",
    }
)
# Of those, the ones that say "over the rate" (the account's), not "unwell".
RATE_CODES = frozenset({"RequestLimitExceeded", "LimitExceeded.AppDailyLimit"})
# Request-level answers after which the fate of the numbers is not known.
UNKNOWN_PREFIXES = ("InternalError",)
CONNECT_FAILURES = ("NewConnectionError", "ConnectTimeoutError", "Connection refused")


@dataclass
class Account:
    """What a request needs from the settings."""

    secret_id: str
    secret_key: str
    sdk_app_id: str
    region: str
    endpoint: str | None
    timeout_seconds: float


@dataclass
class Request:
    """One SendSms request: numbers sharing one template, signature and parameter set."""

    template: str
    sign: str
    params: tuple[str, ...]
    items: list[SendItem] = field(default_factory=list)

    @property
    def context(self) -> str:
        return encode_ids([item.key for item in self.items])

    def fits(self, item: SendItem) -> bool:
        """Whether the item can join: room left, its number not in yet, context short enough."""
        if len(self.items) >= MAX_NUMBERS or any(i.address == item.address for i in self.items):
            return False
        return len(encode_ids([*(i.key for i in self.items), item.key])) <= CONTEXT_MAX


def group(filled: Sequence[tuple[SendItem, str, str, tuple[str, ...]]]) -> list[Request]:
    """Items as few requests as the API allows: the same template, signature and parameters
    (TemplateParamSet is one set per request), at most 200 numbers, each number once."""
    open_requests: dict[tuple[str, str, tuple[str, ...]], Request] = {}
    requests: list[Request] = []
    for item, template, sign, params in filled:
        key = (template, sign, params)
        request = open_requests.get(key)
        if request is None or not request.fits(item):
            request = open_requests[key] = Request(template, sign, params)
            requests.append(request)
        request.items.append(item)
    return requests


class Clients:
    """One SDK client per thread (the SDK's HTTP session is not meant to be shared)."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self._local = threading.local()

    def get(self) -> sms_client.SmsClient:
        client: sms_client.SmsClient | None = getattr(self._local, "client", None)
        if client is None:
            a = self.account
            http = HttpProfile(reqTimeout=a.timeout_seconds)
            if a.endpoint:
                http.endpoint = a.endpoint
                if a.endpoint.startswith("http://"):
                    http.protocol = http.scheme = "http"
            cred = credential.Credential(a.secret_id, a.secret_key)
            profile = ClientProfile(httpProfile=http)
            client = self._local.client = sms_client.SmsClient(cred, a.region, profile)
        return client


def send(clients: Clients, request: Request) -> list[SendResult]:
    """One SendSms call (blocking: run it in a thread); one result per item."""
    body = models.SendSmsRequest()
    body.from_json_string(
        json.dumps(
            {
                "PhoneNumberSet": [item.address for item in request.items],
                "SmsSdkAppId": clients.account.sdk_app_id,
                "TemplateId": request.template,
                "SignName": request.sign,
                "TemplateParamSet": list(request.params),
                "SessionContext": request.context,
            }
        )
    )
    try:
        answer = clients.get().SendSms(body)
    except TencentCloudSDKException as exc:
        return [_refused(item, exc) for item in request.items]
    by_number = {status.PhoneNumber: status for status in answer.SendStatusSet or []}
    return [_result(item, by_number.get(item.address)) for item in request.items]


def _result(item: SendItem, status: Any) -> SendResult:
    """The answer for one number of the request."""
    if status is None:  # the provider said nothing of this number: it may have sent it
        return SendResult(item.key, Outcome.unknown, error_code="no_status", message="无回执")
    code, text = str(status.Code or ""), str(status.Message or "")[:200]
    if code == "Ok":
        detail = {"segments": status.Fee, "request": status.SessionContext}
        return SendResult(item.key, Outcome.accepted, provider_id=status.SerialNo, detail=detail)
    if code in NUMBER_LIMITS:
        detail = {"retry_after": NUMBER_LIMITS[code], "per_number": True}
        return SendResult(
            item.key, Outcome.retry, error_code=code, message=text, detail=detail, throttled=True
        )
    return SendResult(item.key, Outcome.failed, error_code=code or "error", message=text)


def _refused(item: SendItem, exc: TencentCloudSDKException) -> SendResult:
    """The whole request went wrong: refused (for good or for now), or its fate is unknown."""
    code, text = str(exc.get_code() or "error"), str(exc.get_message() or "")
    if code == "ClientNetworkError":
        if any(mark in text for mark in CONNECT_FAILURES):  # never reached Tencent
            outcome, code, text = Outcome.retry, "connection", "连接失败 / connection failed"
        else:  # maybe sent: fate unknown
            outcome, code, text = Outcome.unknown, "timeout", "提供商未应答 / no answer"
    elif code == "ServerNetworkError":  # an HTTP error in front of the API: nothing sent
        outcome, text = Outcome.retry, f"提供商暂不可用 / provider unavailable: {text[:100]}"
    elif code in RETRY_CODES or code in NUMBER_LIMITS:
        outcome = Outcome.retry
    elif code.startswith(UNKNOWN_PREFIXES):
        outcome = Outcome.unknown
    else:  # authentication, signature, template, parameters, balance: for good
        outcome = Outcome.failed
    return SendResult(
        item.key,
        outcome,
        error_code=code[:64],
        message=text[:200],
        throttled=code in RATE_CODES or code in NUMBER_LIMITS,  # slow down, not unwell
    )


def look_up(clients: Clients, item: LookupItem, settle: dt.timedelta) -> LookupResult:
    """The number's status reports since the message went: ours by SerialNo or by our id in
    its SessionContext. Reports come after sending, so none is "not found" only once `settle`
    has passed (until then: ask again later)."""
    sent = item.since if item.since.tzinfo else item.since.replace(tzinfo=dt.UTC)
    since = int(sent.timestamp()) - 300  # clocks differ; a send may be noted after it went
    now = int(dt.datetime.now(dt.UTC).timestamp())
    body = models.PullSmsSendStatusByPhoneNumberRequest()
    body.from_json_string(
        json.dumps(
            {
                "BeginTime": since,
                "EndTime": now + 60,
                "Offset": 0,
                "Limit": PULL_LIMIT,
                "PhoneNumber": item.address,
                "SmsSdkAppId": clients.account.sdk_app_id,
            }
        )
    )
    try:
        answer = clients.get().PullSmsSendStatusByPhoneNumber(body)
    except TencentCloudSDKException:
        return LookupResult(item.key, None)
    for status in answer.PullSmsSendStatusSet or []:
        ours = (item.provider_id and status.SerialNo == item.provider_id) or (
            not item.provider_id and item.key in decode_ids(status.SessionContext)
        )
        if ours:
            state = REPORT_STATES.get(str(status.ReportStatus or "").upper(), ProviderState.sent)
            error = "" if state is ProviderState.delivered else str(status.Description or "")
            return LookupResult(item.key, True, status.SerialNo, state, error[:64] or None)
    if dt.datetime.now(dt.UTC) - sent < settle:
        return LookupResult(item.key, None)
    return LookupResult(item.key, False)
