"""Simulated WeCom group robot webhook: errcodes in HTTP 200 JSON, per-key rate limit, records."""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

if TYPE_CHECKING:
    from broadcaster.sim.state import SimState

MAX_BYTES = {"text": 2048, "markdown": 4096}
WINDOW_SECONDS = 60.0
MORE_INFO = "more info at https://open.work.weixin.qq.com/devtool/query?e="
# errcode -> errmsg start, as WeCom words them. Malformed JSON has no documented code:
# the simulator answers 40058 (invalid Request Parameter) for it.
ERRORS = {
    40008: "invalid message type",
    40058: "invalid Request Parameter",
    44004: "Warning: wrong json format. empty content",
    45009: "api freq out of limit",
    93000: "invalid webhook url",
}


class WecomSimConfig(BaseModel):
    """The simulated WeCom robots and their faults."""

    model_config = ConfigDict(extra="forbid")

    keys: dict[str, str] = Field(
        default_factory=dict, description="Registered webhook keys -> group name; others 93000."
    )
    per_minute: int = Field(default=20, ge=1, description="Messages per key per rolling minute.")
    key_errcodes: dict[str, int] = Field(
        default_factory=dict, description="Fixed errcode answered for a key (e.g. 93000)."
    )
    latency_ms: float = Field(default=0, ge=0)
    error_500_rate: float = Field(default=0, ge=0, le=1)
    timeout_rate: float = Field(default=0, ge=0, le=1)
    timeout_seconds: float = Field(default=30, ge=0)
    timeout_posts_message: bool = Field(
        default=True, description="A timed-out request still reaches the group."
    )
    max_recorded: int = Field(default=100_000, ge=1)


@dataclass(slots=True)
class WecomMessage:
    """One request to the webhook and what the simulator answered."""

    seq: int
    key: str
    group: str | None
    msgtype: str | None
    content: str | None
    mentioned_list: list[str] = field(default_factory=list)
    mentioned_mobile_list: list[str] = field(default_factory=list)
    at: float = field(default_factory=time.time)
    http_status: int = 200
    errcode: int | None = None
    fault: str | None = None


class _Refused(Exception):
    """The document breaks a rule; WeCom answers the errcode with HTTP 200."""

    def __init__(self, errcode: int, detail: str = "") -> None:
        super().__init__(errcode)
        self.errcode = errcode
        self.detail = detail


def _parse(raw: bytes) -> tuple[str, str, list[str], list[str]]:
    """(msgtype, content, mentioned_list, mentioned_mobile_list) of a valid document."""
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _Refused(40058, "Warning: wrong json format.") from exc
    if not isinstance(document, dict):
        raise _Refused(40058, "Warning: wrong json format.")
    msgtype = document.get("msgtype")
    if msgtype not in MAX_BYTES:
        raise _Refused(40008)
    body = document.get(msgtype)
    if not isinstance(body, dict):
        raise _Refused(44004)
    content = body.get("content")
    if not isinstance(content, str) or not content:
        raise _Refused(44004)
    limit = MAX_BYTES[msgtype]
    if len(content.encode()) > limit:
        raise _Refused(40058, f"{msgtype}.content exceed max length {limit}. Invalid input")
    mentions: list[list[str]] = []
    for name in ("mentioned_list", "mentioned_mobile_list"):
        value = body.get(name, []) if msgtype == "text" else []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _Refused(40058, f"{name} must be a list of strings.")
        mentions.append(value)
    return msgtype, content, mentions[0], mentions[1]


class WecomApi:
    """POST /cgi-bin/webhook/send?key=… and the control routes under /api/wecom."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.messages: deque[WecomMessage] = deque()
        self.windows: dict[str, deque[float]] = {}
        self.seq = 0
        self.generation = state.generation

    @property
    def config(self) -> WecomSimConfig:
        config: WecomSimConfig = self.state.config.wecom
        return config

    def routes(self) -> list[BaseRoute]:
        """Provider route and control routes; list them before any Mount("/api")."""
        control = [
            Route("/messages", self.list_messages, methods=["GET"]),
            Route("/keys", self.add_keys, methods=["POST"]),
            Route("/config", self.get_config, methods=["GET"]),
            Route("/config", self.set_config, methods=["POST"]),
            Route("/reset", self.reset, methods=["POST"]),
        ]
        return [
            Route("/cgi-bin/webhook/send", self.send, methods=["POST"]),
            Mount("/api/wecom", routes=control),
        ]

    def _sync(self) -> None:
        """Forget records when the whole simulator was reset (/api/reset)."""
        if self.generation != self.state.generation:
            self.generation = self.state.generation
            self.clear()

    def clear(self) -> None:
        self.messages.clear()
        self.windows.clear()

    def _record(self, message: WecomMessage) -> None:
        self.messages.append(message)
        while len(self.messages) > self.config.max_recorded:
            self.messages.popleft()

    def _answer(self, request: Request, errcode: int, detail: str = "") -> Response:
        if errcode == 0:
            return JSONResponse({"errcode": 0, "errmsg": "ok"})
        hint = f"{self.state.rng.getrandbits(80):025d}"[:25]
        ip = request.client.host if request.client else "127.0.0.1"
        text = f"{detail} {ERRORS.get(errcode, 'error')}".strip()
        errmsg = f"{text}, hint: [{hint}], from ip: {ip}, {MORE_INFO}{errcode}"
        return JSONResponse({"errcode": errcode, "errmsg": errmsg})

    def _allow(self, key: str, now: float) -> bool:
        """Whether the key has sent fewer than per_minute messages in the last minute."""
        window = self.windows.setdefault(key, deque())
        while window and window[0] <= now - WINDOW_SECONDS:
            window.popleft()
        return len(window) < self.config.per_minute

    def _fault(self) -> str | None:
        config = self.config
        if not config.error_500_rate and not config.timeout_rate:
            return None
        draw = self.state.rng.random()
        if draw < config.error_500_rate:
            return "500"
        return "timeout" if draw < config.error_500_rate + config.timeout_rate else None

    async def send(self, request: Request) -> Response:
        """Post to a group: injected faults, key, document checks, then the rate limit."""
        self._sync()
        config = self.config
        key = request.query_params.get("key", "")
        raw = await request.body()
        self.seq += 1
        message = WecomMessage(self.seq, key, config.keys.get(key), None, None)
        if config.latency_ms:
            await asyncio.sleep(config.latency_ms / 1000)
        fault = self._fault()
        try:
            if fault == "500":
                message.http_status, message.fault = 500, "500"
                self._record(message)
                return Response("Internal Server Error", status_code=500)
            if key not in config.keys:
                raise _Refused(93000)
            if key in config.key_errcodes:
                raise _Refused(config.key_errcodes[key])
            msgtype, content, users, mobiles = _parse(raw)
            message.msgtype, message.content = msgtype, content
            message.mentioned_list, message.mentioned_mobile_list = users, mobiles
            now = time.monotonic()
            if not self._allow(key, now):
                raise _Refused(45009)
            self.windows[key].append(now)
        except _Refused as refused:
            message.errcode = refused.errcode
            self._record(message)
            return self._answer(request, refused.errcode, refused.detail)
        if fault != "timeout":
            message.errcode = 0
            self._record(message)
            return self._answer(request, 0)
        message.fault = "timeout"  # held past any client timeout, maybe posted anyway
        posted = config.timeout_posts_message
        message.errcode, message.http_status = (0, 200) if posted else (None, 504)
        if not posted:
            self.windows[key].pop()
        self._record(message)
        await asyncio.sleep(config.timeout_seconds)
        return self._answer(request, 0) if posted else Response("Gateway Timeout", 504)

    async def list_messages(self, request: Request) -> Response:
        """Recorded requests, oldest first; ?key= filters, ?limit= keeps the newest N."""
        self._sync()
        key = request.query_params.get("key")
        raw_limit = request.query_params.get("limit", "1000")
        if not raw_limit.isdigit():
            return JSONResponse({"error": "limit must be a non-negative integer"}, 400)
        found = [asdict(m) for m in self.messages if key is None or m.key == key]
        return JSONResponse({"messages": found[len(found) - min(int(raw_limit), len(found)) :]})

    async def add_keys(self, request: Request) -> Response:
        """Register keys: {"keys": {"key": "group name"}} or {"keys": ["key", …]}."""
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, 400)
        keys = data.get("keys") if isinstance(data, dict) else None
        if isinstance(keys, list):
            keys = {str(k): str(k) for k in keys}
        if not isinstance(keys, dict) or not keys:
            return JSONResponse({"error": "'keys' must be a non-empty list or object"}, 400)
        return self._patch({"keys": {**self.config.keys, **keys}})

    async def get_config(self, request: Request) -> Response:
        return JSONResponse(self.config.model_dump(mode="json"))

    async def set_config(self, request: Request) -> Response:
        """Change WeCom knobs; unknown or invalid ones change nothing (422)."""
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, 400)
        if not isinstance(data, dict):
            return JSONResponse({"error": "body must be a JSON object"}, 400)
        return self._patch(data)

    def _patch(self, patch: dict[str, Any]) -> Response:
        merged = {**self.config.model_dump(), **patch}
        try:
            config = self.state.config.patched({"wecom": merged})
        except ValidationError as exc:
            return JSONResponse({"error": json.loads(exc.json(include_url=False))}, 422)
        self.state.reconfigure(config)
        return JSONResponse(self.config.model_dump(mode="json"))

    async def reset(self, request: Request) -> Response:
        """Forget recorded messages and rate windows; keys and knobs stay."""
        self.clear()
        return JSONResponse({"reset": True})
