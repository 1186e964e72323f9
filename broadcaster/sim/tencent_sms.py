"""Simulated Tencent Cloud SMS API (2021-01-11): SendSms and status pulls, signed requests."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any

import phonenumbers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from broadcaster.sim.tencent_control import control_routes
from broadcaster.sim.tencent_push import MAX_KEPT, Pusher, Sms, TencentSimConfig
from broadcaster.sim.tencent_sign import SignatureRefused, verify

if TYPE_CHECKING:
    from broadcaster.sim.state import SimState

VERSION = "2021-01-11"
PLACEHOLDER = re.compile(r"\{(\d+)\}")
MAX_NUMBERS = 200
WINDOWS = (("thirty_second_limit", 30.0), ("one_hour_limit", 3600.0), ("daily_limit", 86400.0))
LIMIT_CODES = {
    "thirty_second_limit": "LimitExceeded.PhoneNumberThirtySecondLimit",
    "one_hour_limit": "LimitExceeded.PhoneNumberOneHourLimit",
    "daily_limit": "LimitExceeded.PhoneNumberDailyLimit",
}


class Refused(Exception):
    """The whole request is refused: Tencent's error code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.recorded = False  # listed already, with what the request said


def _split(number: str) -> tuple[str, str] | None:
    """(nationcode, national number) of a possible number, else None."""
    try:
        parsed = phonenumbers.parse(number if number.startswith("+") else f"+86{number}", None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return str(parsed.country_code), str(parsed.national_number)


class TencentSmsApi:
    """POST {base}/tencent (the API's root, signed) and the control routes /api/tencent/…"""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.requests: deque[dict[str, Any]] = deque(maxlen=MAX_KEPT)
        self.sent: dict[str, Sms] = {}
        self.windows: dict[str, deque[float]] = {}
        self.pusher = Pusher(lambda: self.config)
        self.seq = 0
        self.generation = state.generation

    @property
    def config(self) -> TencentSimConfig:
        config: TencentSimConfig = self.state.config.tencent
        return config

    def routes(self) -> list[BaseRoute]:
        """The API route and the control routes; list them before any Mount("/api")."""
        return [Route("/tencent", self.api, methods=["POST"]), *control_routes(self)]

    def sync(self) -> None:
        """Forget everything when the whole simulator was reset (/api/reset)."""
        if self.generation != self.state.generation:
            self.generation = self.state.generation
            self.clear()

    def clear(self) -> None:
        self.requests.clear()
        self.sent.clear()
        self.windows.clear()
        self.pusher.clear()

    @staticmethod
    def _answer(body: dict[str, Any]) -> Response:
        return JSONResponse({"Response": {**body, "RequestId": str(uuid.uuid4())}})

    async def api(self, request: Request) -> Response:
        """One API call: faults first, then the signature, then the action."""
        self.sync()
        config = self.config
        if config.down:
            return Response("Service Unavailable", status_code=503)
        if config.latency_ms:
            await asyncio.sleep(config.latency_ms / 1000)
        draw = self.state.rng.random()
        if draw < config.error_rate:
            return Response("Bad Gateway", status_code=502)
        timed_out = draw < config.error_rate + config.timeout_rate
        body = await request.body()
        action = request.headers.get("x-tc-action", "")
        try:
            verify(
                config.secrets,
                method="POST",
                uri="/",  # the API's root, wherever the simulator is mounted
                query="",
                headers=request.headers,
                body=body,
                now=time.time(),
            )
            if request.headers.get("x-tc-version") != VERSION:
                raise Refused("InvalidParameter", f"Version must be {VERSION}.")
            params = json.loads(body or b"{}")
            if not isinstance(params, dict):
                raise Refused("InvalidParameter", "The body must be a JSON object.")
            if action == "SendSms":
                result = self.send_sms(params, sends=not timed_out or config.timeout_sends)
            elif action == "PullSmsSendStatusByPhoneNumber":
                result = self.pull_by_number(params)
            elif action == "PullSmsSendStatus":
                result = self.pull(params)
            else:
                raise Refused("InvalidAction", f"The action {action!r} is not supported.")
        except (SignatureRefused, Refused) as exc:
            if action == "SendSms" and not getattr(exc, "recorded", False):
                self._record({"Action": action, "Error": exc.code})
            result = {"Error": {"Code": exc.code, "Message": exc.message}}
        except ValueError:
            result = {"Error": {"Code": "InvalidParameter", "Message": "The body is not JSON."}}
        if timed_out:
            await asyncio.sleep(config.timeout_seconds)
        return self._answer(result)

    def _record(self, entry: dict[str, Any]) -> None:
        self.seq += 1
        self.requests.append({"seq": self.seq, "at": time.time(), **entry})

    def _app(self, params: dict[str, Any]) -> str:
        app = str(params.get("SmsSdkAppId") or "")
        if app not in self.config.apps:
            raise Refused("InvalidParameterValue.SdkAppIdNotExist", "SdkAppId does not exist.")
        return app

    def send_sms(self, params: dict[str, Any], *, sends: bool) -> dict[str, Any]:
        """Check the request as Tencent does, then each number; record what came."""
        config = self.config
        self._app(params)
        numbers = params.get("PhoneNumberSet") or []
        template_id, sign = str(params.get("TemplateId") or ""), str(params.get("SignName") or "")
        values = [str(v) for v in params.get("TemplateParamSet") or []]
        context = str(params.get("SessionContext") or "")
        entry: dict[str, Any] = {
            "Action": "SendSms",
            "PhoneNumberSet": numbers,
            "TemplateId": template_id,
            "TemplateParamSet": values,
            "SignName": sign,
            "SessionContext": context,
            "SmsSdkAppId": params.get("SmsSdkAppId"),
        }
        try:
            if not numbers:
                raise Refused("MissingParameter.EmptyPhoneNumberSet", "PhoneNumberSet is empty.")
            if len(numbers) > MAX_NUMBERS:
                raise Refused("LimitExceeded.PhoneNumberCountLimit", "Over 200 numbers.")
            if sign not in config.signs:
                raise Refused(
                    "FailedOperation.SignatureIncorrectOrUnapproved", "Signature unapproved."
                )
            template = config.templates.get(template_id)
            if template is None:
                raise Refused(
                    "FailedOperation.TemplateIncorrectOrUnapproved", "Template unapproved."
                )
            if len(values) != len(set(PLACEHOLDER.findall(template))):
                raise Refused(
                    "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
                    "TemplateParamSet does not match the template.",
                )
        except Refused as exc:
            self._record({**entry, "Error": exc.code})
            exc.recorded = True
            raise
        text = PLACEHOLDER.sub(lambda m: values[int(m[1]) - 1], template)
        text = f"【{sign}】{text.replace('{public_base}', config.public_base)}"
        statuses = [self._one(str(number), text, context, sends) for number in numbers]
        fault = {} if sends else {"fault": "timeout", "sent": False}  # answered late, not sent
        self._record({**entry, "text": text, "SendStatusSet": statuses, **fault})
        return {"SendStatusSet": statuses}

    def _one(self, number: str, text: str, context: str, sends: bool) -> dict[str, Any]:
        """One number's status: refused (bad number, over a limit) or sent."""
        status = {"SerialNo": "", "PhoneNumber": number, "Fee": 0, "SessionContext": context}
        split = _split(number)
        if split is None:
            return {**status, "Code": "InvalidParameterValue.IncorrectPhoneNumber",
                    "Message": "incorrect number format", "IsoCode": ""}  # fmt: skip
        now = time.monotonic()
        window = self.windows.setdefault(number, deque())
        while window and window[0] <= now - WINDOWS[-1][1]:
            window.popleft()
        for name, seconds in WINDOWS:
            limit = getattr(self.config, name)
            if limit is not None and sum(1 for t in window if t > now - seconds) >= limit:
                return {**status, "Code": LIMIT_CODES[name], "Message": "frequency limit",
                        "IsoCode": "CN"}  # fmt: skip
        serial = f"{self.state.rng.randint(2000, 2999)}:{self.state.rng.getrandbits(80)}"
        fee = 1 if len(text) <= 70 else -(-len(text) // 67)
        if sends:
            window.append(now)
            config = self.config
            fate = config.number_fates.get(number) or (
                "FAIL" if self.state.rng.random() < config.failed_rate else "SUCCESS"
            )
            sms = Sms(serial, number, *split, context, text, fate, time.time())
            self.sent[serial] = sms
            self.pusher.report_later(sms, config.report_delay_ms / 1000)
        return {**status, "SerialNo": serial, "Fee": fee, "Code": "Ok",
                "Message": "send success", "IsoCode": "CN"}  # fmt: skip

    @staticmethod
    def _pulled(sms: Sms) -> dict[str, Any]:
        report = sms.report()
        return {
            "UserReceiveTime": report["user_receive_time"],
            "CountryCode": sms.nationcode,
            "SubscriberNumber": sms.mobile,
            "PhoneNumber": sms.phone,
            "SerialNo": sms.serial_no,
            "ReportStatus": sms.fate,
            "Description": report["description"],
            "SessionContext": sms.context,
        }

    def pull_by_number(self, params: dict[str, Any]) -> dict[str, Any]:
        """The reports of one number within a time range (reports only: none until due)."""
        self._app(params)
        phone = str(params.get("PhoneNumber") or "")
        begin, end = int(params.get("BeginTime") or 0), int(params.get("EndTime") or 2**40)
        found = [
            self._pulled(sms)
            for sms in self.sent.values()
            if sms.phone == phone and sms.reported_at and begin <= sms.sent_at <= end
        ]
        offset, limit = int(params.get("Offset") or 0), int(params.get("Limit") or 100)
        return {"PullSmsSendStatusSet": found[offset : offset + limit]}

    def pull(self, params: dict[str, Any]) -> dict[str, Any]:
        """The account's reports not pulled yet, each once (Tencent's queue mode)."""
        self._app(params)
        limit = int(params.get("Limit") or 100)
        found = [s for s in self.sent.values() if s.reported_at and not s.pulled][:limit]
        for sms in found:
            sms.pulled = True
        return {"PullSmsSendStatusSet": [self._pulled(sms) for sms in found]}
