"""Aliyun voice as its SDK calls it (/dyvmsapi/, ACS3-signed) and its control API."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from broadcaster.sim.aliyun_signing import Verifier
from broadcaster.sim.aliyun_voice_calls import IVR, TTS, Call, CallFlow, Conflict, Prompt
from broadcaster.sim.aliyun_voice_config import AliyunVoiceSimConfig
from broadcaster.sim.state import TokenBucket

if TYPE_CHECKING:
    from broadcaster.sim.state import SimState

MAINLAND = re.compile(r"^(1[3-9]\d{9}|0[1-9]\d{8,10})$")  # mobile, or landline with its 0
VARIABLE = re.compile(r"\$\{([A-Za-z][A-Za-z0-9_]*)\}")
KEYS = re.compile(r"^[0-9*#]{0,16}$")
WINDOWS = ((60.0, "per_number_per_minute"), (3600.0, "per_number_per_hour"))
DAY = 86400.0
IVR_PRODUCT, TTS_PRODUCT = "11000000300005", "11010000138001"
THROTTLED = "Request was denied due to user flow control."
FAULT_FIELDS = ("down", "error_rate", "timeout_rate", "timeout_seconds", "latency_ms")


class Refused(Exception):
    """Aliyun's answer to a request it will not carry out."""

    def __init__(self, code: str, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _answer(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse({"RequestId": str(uuid.uuid4()).upper(), **body}, status_code=status)


def _render(templates: dict[str, str], code: str | None, params: str | None) -> Prompt:
    """The approved template filled with its parameters, as Aliyun speaks it."""
    text = templates.get(code or "")
    if text is None:
        raise Refused("isv.TTS_TEMPLATE_ILLEGAL", f"模板不合法(不存在或未审核通过): {code}")
    try:
        values = json.loads(params) if params else {}
    except ValueError:
        raise Refused("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值") from None
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise Refused("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
    missing = [name for name in VARIABLE.findall(text) if name not in values]
    if missing:
        raise Refused("isv.TEMPLATE_MISSING_PARAMETERS", f"模板缺少变量: {missing[0]}")
    return Prompt(str(code), params, VARIABLE.sub(lambda m: values[m.group(1)], text))


class AliyunVoiceApi:
    """The provider's RPC endpoint and the simulator's control routes for it."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.flow = CallFlow(lambda: state.config.aliyun_voice)
        self.verifier = Verifier()
        self.calls: dict[str, Call] = {}
        self.dialled: dict[str, deque[float]] = {}
        self.buckets: dict[str, TokenBucket] = {}
        self.generation = state.generation
        state.closers.append(self.flow.pusher.aclose)

    @property
    def config(self) -> AliyunVoiceSimConfig:
        return self.state.config.aliyun_voice

    def routes(self) -> list[Route]:
        base = "/api/aliyun/voice"
        return [
            Route("/dyvmsapi/", self.rpc, methods=["POST"]),
            Route("/dyvmsapi", self.rpc, methods=["POST"]),
            Route(base, self.list_calls, methods=["GET"]),
            Route(base + "/faults", self.faults, methods=["POST"]),
            Route(base + "/calls/{call_id:path}/{action}", self.act, methods=["POST"]),
        ]

    def _live(self) -> dict[str, Call]:
        """Calls and counters since the last reset (POST /api/reset forgets them)."""
        if self.generation != self.state.generation:
            self.calls.clear()
            self.dialled.clear()
            self.buckets.clear()
            self.generation = self.state.generation
        return self.calls

    async def rpc(self, request: Request) -> Response:
        """One API request: the signature, the injected faults and flow control, then the
        action; business refusals come as HTTP 200 with their Code, as Aliyun's do."""
        body = await request.body()
        query = dict(request.query_params)
        key_id, refusal = self.verifier.check(
            method=request.method,
            path="/",
            query=query,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            secrets=self.config.access_keys,
        )
        if refusal is not None:
            return _answer({"Code": refusal.code, "Message": refusal.message}, refusal.status)
        try:
            late = await self._faults(key_id)
            action = request.headers.get("x-acs-action", "")
            if action == "QueryCallDetailByCallId":
                return _answer(self._query(query))
            if action not in (IVR, TTS):
                raise Refused("InvalidAction.NotFound", f"Specified api {action} is not found", 404)
            call = self._place(action, key_id, query)
        except Refused as exc:
            return _answer({"Code": exc.code, "Message": exc.message}, exc.status)
        if late:  # the call is placed; the answer comes too late for the client
            await asyncio.sleep(self.config.timeout_seconds)
        return _answer({"Code": "OK", "Message": "OK", "CallId": call.call_id})

    async def _faults(self, key_id: str) -> bool:
        """Raise the injected refusal, if any; True when the answer is to come too late."""
        config, rng = self.config, self.state.rng
        if config.latency_ms:
            await asyncio.sleep(config.latency_ms / 1000)
        if config.down:
            raise Refused(
                "ServiceUnavailable",
                "The request has failed due to a temporary failure of the server.",
                503,
            )
        if config.error_rate and rng.random() < config.error_rate:
            raise Refused("InternalError", "The request processing has failed.", 500)
        if config.rate_per_second:
            self._live()
            bucket = self.buckets.get(key_id)
            if bucket is None or bucket.rate != config.rate_per_second:  # reconfigured
                bucket = self.buckets[key_id] = TokenBucket(config.rate_per_second)
            if not bucket.allow():
                raise Refused(
                    "Throttling.User", "Request was denied due to user flow control.", 400
                )
        return bool(config.timeout_rate) and rng.random() < config.timeout_rate

    def _place(self, action: str, key_id: str, query: dict[str, str]) -> Call:
        config = self.config
        called, show = query.get("CalledNumber", ""), query.get("CalledShowNumber") or None
        if not called:
            raise Refused("MissingCalledNumber", "CalledNumber is mandatory for this action.", 400)
        if not MAINLAND.match(called):
            raise Refused("isv.MOBILE_NUMBER_ILLEGAL", f"号码格式非法: {called}")
        if config.show_numbers and show not in config.show_numbers:
            raise Refused("isv.DISPLAY_NUMBER_ILLEGAL", f"外呼号码不合法: {show}")
        out_id = query.get("OutId") or None
        if out_id and len(out_id.encode()) > 15:
            raise Refused("isv.INVALID_PARAMETERS", "OutId 长度为1~15字节")
        plays = query.get("PlayTimes", "1")
        if not plays.isdigit() or not 1 <= int(plays) <= 3:
            raise Refused("isv.INVALID_PARAMETERS", "PlayTimes 取值范围1~3")
        if action == IVR:
            start = _render(config.templates, query.get("StartCode"), query.get("StartTtsParams"))
            menu = self._menu(query)
        else:
            start = _render(config.templates, query.get("TtsCode"), query.get("TtsParam"))
            menu = {}
        self._limit(called)
        rng = self.state.rng
        call = Call(
            call_id=f"{rng.randrange(10**11, 10**12)}^{rng.randrange(10**11, 10**12)}",
            action=action,
            access_key_id=key_id,
            called=called,
            show=show,
            start=start,
            menu=menu,
            out_id=out_id,
            play_times=int(plays),
            fate=config.number_fates.get(called, "answer"),
            request=query,
        )
        self._live()[call.call_id] = call
        self.flow.start(call)
        return call

    def _menu(self, query: dict[str, str]) -> dict[str, Prompt]:
        menu: dict[str, Prompt] = {}
        for n in range(1, 13):
            key = query.get(f"MenuKeyMap.{n}.Key")
            if key is None:
                break
            prompt = _render(
                self.config.templates,
                query.get(f"MenuKeyMap.{n}.Code"),
                query.get(f"MenuKeyMap.{n}.TtsParams"),
            )
            menu[key] = prompt
        return menu

    def _limit(self, called: str) -> None:
        """Carriers' per-number limits (1 a minute, 5 an hour, 20 a day by default)."""
        config, now = self.config, time.time()
        self._live()
        times = self.dialled.setdefault(called, deque())
        while times and times[0] < now - DAY:
            times.popleft()
        limits = [(w, getattr(config, name)) for w, name in WINDOWS]
        for window, limit in [*limits, (DAY, config.per_number_per_day)]:
            if limit is not None and sum(1 for t in times if t > now - window) >= limit:
                raise Refused("isv.BUSINESS_LIMIT_CONTROL", f"触发号码流控: {called}")
        times.append(now)

    def _query(self, query: dict[str, str]) -> dict[str, Any]:
        call = self._live().get(query.get("CallId", ""))
        product = IVR_PRODUCT if call is not None and call.action == IVR else TTS_PRODUCT
        if call is None or query.get("ProdId") != product:
            return {"Code": "OK", "Message": "OK", "Data": None}
        return {
            "Code": "OK",
            "Message": "OK",
            "Data": json.dumps(call.detail(), ensure_ascii=False),
        }

    async def list_calls(self, request: Request) -> Response:
        """Calls newest first, filtered by ?called= (as dialled) and ?out_id=."""
        query = request.query_params
        found = [
            call.listing()
            for call in reversed(self._live().values())
            if query.get("called") in (None, call.called)
            and query.get("out_id") in (None, call.out_id)
        ]
        return JSONResponse({"calls": found})

    async def faults(self, request: Request) -> Response:
        """{"down": true, "error_rate": 0.5, "latency_ms": 200, "timeout_rate": …}."""
        try:
            patch = json.loads(await request.body() or b"{}")
            if not isinstance(patch, dict) or not set(patch) <= set(FAULT_FIELDS):
                return JSONResponse({"error": f"known faults: {FAULT_FIELDS}"}, status_code=400)
            voice = self.config.model_copy(update=patch)
            config = self.state.config.patched({"aliyun_voice": voice.model_dump()})
        except (ValueError, ValidationError) as exc:
            return JSONResponse({"error": str(exc)[:500]}, status_code=422)
        self.state.reconfigure(config)
        return JSONResponse({name: getattr(config.aliyun_voice, name) for name in FAULT_FIELDS})

    async def act(self, request: Request) -> Response:
        """answer, press {"digits": "1"} ("" is silence), or hangup — as the resident."""
        call = self._live().get(request.path_params["call_id"])
        action = request.path_params["action"]
        if call is None or action not in ("answer", "press", "hangup"):
            return JSONResponse({"error": "no such call or action"}, status_code=404)
        try:
            if action == "press":
                data = json.loads(await request.body() or b"{}")
                digits = data.get("digits") if isinstance(data, dict) else None
                if not isinstance(digits, str) or not KEYS.match(digits):
                    return JSONResponse({"error": "'digits': keys 0-9 * #"}, status_code=400)
                self.flow.press(call, digits)
            elif action == "answer":
                self.flow.answer(call)
            else:
                self.flow.hangup(call)
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        except Conflict as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        return JSONResponse(call.listing())
