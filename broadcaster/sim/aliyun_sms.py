"""Simulated Aliyun SMS (Dysmsapi 2017-05-25): SendSms and QuerySendDetails over RPC, signed
ACS3-HMAC-SHA256, with the account's signatures, approved templates and per-number limits."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from broadcaster.sim.aliyun_signing import Verifier
from broadcaster.sim.aliyun_sms_batch import batch_requests
from broadcaster.sim.aliyun_sms_config import AliyunSmsSimConfig
from broadcaster.sim.aliyun_sms_push import Pusher
from broadcaster.sim.aliyun_sms_records import (
    CHINA,
    MOBILE,
    Account,
    Refused,
    Sms,
    sms_size,
    stamp,
)
from broadcaster.sim.forms import parse_form

if TYPE_CHECKING:
    from broadcaster.sim.state import SimState

PREFIX = "/dysmsapi"  # the simulator's stand-in for the host dysmsapi.aliyuncs.com
VERSION = "2017-05-25"
VARIABLE = re.compile(r"\$\{([A-Za-z][A-Za-z0-9_]*)\}")
MAX_NUMBERS = 1000
KEPT_FIELDS = ("Action", "PhoneNumbers", "SignName", "TemplateCode", "TemplateParam", "OutId")
WINDOWS = (
    ("per_minute", 60.0, "分钟级"),
    ("per_hour", 3600.0, "小时级"),
    ("per_day", 86400.0, "天级"),
)


class AliyunSmsApi:
    """POST {PREFIX}/ (the RPC actions) and, via `Pusher`, the receipts and replies it pushes."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.verifier = Verifier()
        self.account = Account()
        self.pusher = Pusher(state)
        self.generation = state.generation

    @property
    def config(self) -> AliyunSmsSimConfig:
        config: AliyunSmsSimConfig = self.state.config.aliyun_sms
        return config

    def routes(self) -> list[BaseRoute]:
        return [Route(PREFIX + "/", self.rpc, methods=["POST", "GET"])]

    def sync(self) -> None:
        """Forget everything when the whole simulator was reset (/api/reset)."""
        if self.generation != self.state.generation:
            self.generation = self.state.generation
            self.clear()

    def clear(self) -> None:
        self.account = Account()
        self.pusher.clear()

    def _error(self, status: int, code: str, message: str) -> Response:
        body = {
            "RequestId": str(uuid.UUID(int=self.state.rng.getrandbits(128))).upper(),
            "HostId": "dysmsapi.aliyuncs.com",
            "Code": code,
            "Message": message,
            "Recommend": f"https://api.aliyun.com/troubleshoot?q={code}&product=Dysmsapi",
        }
        return JSONResponse(body, status_code=status)

    def _answer(self, payload: dict[str, Any]) -> Response:
        request_id = str(uuid.UUID(int=self.state.rng.getrandbits(128))).upper()
        return JSONResponse({"RequestId": request_id, **payload})

    def _fault(self) -> str | None:
        config = self.config
        draw = self.state.rng.random()
        for name, rate in (
            ("500", config.error_rate),
            ("throttle", config.throttle_rate),
            ("timeout", config.timeout_rate),
        ):
            if draw < rate:
                return name
            draw -= rate
        return None

    async def rpc(self, request: Request) -> Response:
        """One signed RPC call: faults, the signature, then the action."""
        self.sync()
        config = self.config
        body = await request.body()
        if config.latency_ms:
            await asyncio.sleep(config.latency_ms / 1000)
        if config.down:
            return self._error(
                503,
                "ServiceUnavailable",
                "The request has failed due to a temporary failure of the server.",
            )
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = dict(request.query_params)
        path = request.url.path
        key, refusal = self.verifier.check(
            secrets=config.access_keys,
            method=request.method,
            path=path[path.index(PREFIX) + len(PREFIX) :] or "/",
            query=query,
            headers=headers,
            body=body,
        )
        action = headers.get("x-acs-action") or query.get("Action", "")
        if refusal is not None:
            self._refuse(action, query, refusal.code, key)
            return self._error(refusal.status, refusal.code, refusal.message)
        fault = self._fault()
        if fault == "500":
            return self._error(
                500,
                "InternalError",
                "The request processing has failed due to "
                "some unknown error, exception or failure.",
            )
        if fault == "throttle":
            return self._error(
                400, "Throttling.User", "Request was denied due to user flow control."
            )
        params = {**query, **parse_form(body.decode("utf-8", "replace"))[0]}
        try:
            if headers.get("x-acs-version", VERSION) != VERSION:
                raise Refused("InvalidVersion", "Specified parameter Version is not valid.", 400)
            if action == "SendSms":
                return await self._send([params], key, timeout=fault == "timeout")
            if action == "SendBatchSms":
                return await self._send(batch_requests(params), key, timeout=fault == "timeout")
            if action == "QuerySendDetails":
                return self._answer(self._query(params))
            raise Refused(
                "InvalidAction.NotFound",
                "Specified api is not found, please check your url and method.",
                404,
            )
        except Refused as refused:
            self._refuse(action, params, refused.code, key)
            if refused.status != 200:
                return self._error(refused.status, refused.code, refused.message)
            return self._answer({"Code": refused.code, "Message": refused.message})

    def _refuse(self, action: str, params: dict[str, str], code: str, key: str) -> None:
        entry = {"Action": action, **params, "Code": code, "access_key_id": key, "at": time.time()}
        self.account.refused.append(entry)
        while len(self.account.refused) > self.config.max_recorded:
            self.account.refused.popleft()

    async def _send(self, requests: list[dict[str, str]], key: str, *, timeout: bool) -> Response:
        """Each request's numbers, under one BizId; one refusal refuses them all."""
        config = self.config
        if timeout and not config.timeout_sends:
            await asyncio.sleep(config.timeout_seconds)
            return self._error(504, "ServiceTimeout", "The request has timed out.")
        checked = [self._check(params) for params in requests]
        now = time.time()
        biz_id = f"{self.state.rng.randrange(10**17, 10**18)}^0"
        sent = dt.datetime.now(dt.UTC)
        fault = "timeout" if timeout else None
        for params, (phones, sign, text) in zip(requests, checked, strict=True):
            keep = {k: params[k] for k in KEPT_FIELDS if k in params}
            for phone in phones:
                self.account.windows.setdefault((phone, sign), deque()).append(now)
                sms = Sms(biz_id, phone, keep, text, sms_size(text), sign, key, sent, fault=fault)
                self.account.sms.append(sms)
                self.pusher.report(sms, self._fate(phone))
        while len(self.account.sms) > config.max_recorded:
            self.account.sms.popleft()
        if timeout:
            await asyncio.sleep(config.timeout_seconds)
        return self._answer({"Code": "OK", "Message": "OK", "BizId": biz_id})

    def _check(self, params: dict[str, str]) -> tuple[list[str], str, str]:
        """The numbers, signature and rendered text of a valid SendSms, else its refusal."""
        config = self.config
        for name in ("PhoneNumbers", "SignName", "TemplateCode"):
            if not params.get(name):
                raise Refused(f"Missing{name}", f"{name} is mandatory for this action.", 400)
        sign = params["SignName"]
        if sign not in config.sign_names:
            raise Refused("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        template = config.templates.get(params["TemplateCode"])
        if template is None:
            raise Refused("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        try:
            values = json.loads(params.get("TemplateParam") or "{}")
        except ValueError:
            values = None
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise Refused("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        needed = VARIABLE.findall(template)
        missing = [name for name in needed if name not in values]
        if missing:
            raise Refused("isv.TEMPLATE_MISSING_PARAMETERS", f"模板变量缺少对应参数值 {missing[0]}")
        for name in needed:
            if len(values[name]) > config.max_variable_chars:
                raise Refused("isv.PARAM_LENGTH_LIMIT", f"参数超出长度限制 {name}")
        raw = params["PhoneNumbers"].split(",")
        if len(raw) > MAX_NUMBERS:
            raise Refused("isv.MOBILE_COUNT_OVER_LIMIT", "手机号码数量超过限制")
        phones = []
        for number in raw:
            found = MOBILE.match(number.strip())
            if found is None:
                raise Refused("isv.MOBILE_NUMBER_ILLEGAL", "手机号码格式错误")
            phones.append(found.group(1))
        for phone in phones:
            self._within_limits(phone, sign)
        body = template.replace("{public_base}", config.public_base)
        return phones, sign, f"【{sign}】" + VARIABLE.sub(lambda m: values[m.group(1)], body)

    def _within_limits(self, phone: str, sign: str) -> None:
        window = self.account.windows.get((phone, sign))
        if not window:
            return
        now = time.time()
        while window and window[0] <= now - 86400:
            window.popleft()
        for name, seconds, label in WINDOWS:
            limit: int = getattr(self.config, name)
            if sum(1 for at in window if at > now - seconds) >= limit:
                raise Refused("isv.BUSINESS_LIMIT_CONTROL", f"触发{label}流控Permits:{limit}")

    def _fate(self, phone: str) -> str:
        config = self.config
        fixed = config.number_fates.get(phone)
        if fixed is not None:
            return fixed
        if config.failed_rate and self.state.rng.random() < config.failed_rate:
            return "MN:0001"
        return "DELIVERED"

    def _query(self, params: dict[str, str]) -> dict[str, Any]:
        for name in ("PhoneNumber", "SendDate", "PageSize", "CurrentPage"):
            if not params.get(name):
                raise Refused(f"Missing{name}", f"{name} is mandatory for this action.", 400)
        phone = MOBILE.match(params["PhoneNumber"])
        if phone is None:
            raise Refused("isv.MOBILE_NUMBER_ILLEGAL", "手机号码格式错误")
        size, page = params["PageSize"], params["CurrentPage"]
        if not (size.isdigit() and 1 <= int(size) <= 50 and page.isdigit() and int(page) >= 1):
            raise Refused("isv.INVALID_PARAMETERS", "参数异常 PageSize/CurrentPage")
        biz_id = params.get("BizId")
        found = [
            s
            for s in self.account.sms
            if s.phone_number == phone.group(1)
            and s.send_time.astimezone(CHINA).strftime("%Y%m%d") == params["SendDate"]
            and (not biz_id or s.biz_id == biz_id)
        ]
        start = (int(page) - 1) * int(size)
        dtos = [
            {
                "PhoneNum": s.phone_number,
                "SendStatus": s.status,
                "ErrCode": s.err_code,
                "TemplateCode": s.fields.get("TemplateCode", ""),
                "Content": s.text,
                "SendDate": stamp(s.send_time),
                "ReceiveDate": stamp(s.report_time) if s.report_time else "",
                "OutId": s.fields.get("OutId", ""),
            }
            for s in found[start : start + int(size)]
        ]
        return {
            "Code": "OK",
            "Message": "OK",
            "TotalCount": len(found),
            "SmsSendDetailDTOs": {"SmsSendDetailDTO": dtos},
        }
