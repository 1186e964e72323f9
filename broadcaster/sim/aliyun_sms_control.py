"""Control routes of the simulated Aliyun SMS under /api/aliyun: what it received, its pushes,
a resident's reply (SmsUp), its account and faults."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from broadcaster.sim.aliyun_sms import AliyunSmsApi
from broadcaster.sim.aliyun_sms_push import PushError
from broadcaster.sim.aliyun_sms_records import MOBILE

FAULTS = frozenset(
    {
        "down",
        "error_rate",
        "throttle_rate",
        "timeout_rate",
        "timeout_seconds",
        "timeout_sends",
        "latency_ms",
    }
)


async def _object(request: Request) -> dict[str, Any] | Response:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError:
        return JSONResponse({"error": "body is not JSON"}, 400)
    if not isinstance(data, dict):
        return JSONResponse({"error": "body must be a JSON object"}, 400)
    return data


class AliyunSmsControl:
    """GET /api/aliyun/sms, /api/aliyun/pushes; POST /api/aliyun/sms/up, /api/aliyun/faults,
    /api/aliyun/sms/config, /api/aliyun/sms/reset."""

    def __init__(self, api: AliyunSmsApi) -> None:
        self.api = api

    def routes(self) -> list[BaseRoute]:
        """Full paths (no Mount), so other Aliyun products can add their own under /api/aliyun."""
        return [
            Route("/api/aliyun/sms", self.list_sms, methods=["GET"]),
            Route("/api/aliyun/pushes", self.list_pushes, methods=["GET"]),
            Route("/api/aliyun/sms/up", self.up, methods=["POST"]),
            Route("/api/aliyun/faults", self.faults, methods=["POST"]),
            Route("/api/aliyun/sms/config", self.get_config, methods=["GET"]),
            Route("/api/aliyun/sms/config", self.set_config, methods=["POST"]),
            Route("/api/aliyun/sms/reset", self.reset, methods=["POST"]),
        ]

    async def list_sms(self, request: Request) -> Response:
        """What SendSms accepted (one entry per number, the request's field names) and what
        it refused; ?phone_number= and ?TemplateCode= filter, ?limit= keeps the newest."""
        self.api.sync()
        query = request.query_params
        phone = MOBILE.match(query.get("phone_number", ""))
        code = query.get("TemplateCode")
        raw_limit = query.get("limit", "10000")
        if not raw_limit.isdigit():
            return JSONResponse({"error": "limit must be a non-negative integer"}, 400)
        found = [
            s.listed()
            for s in self.api.account.sms
            if (phone is None or s.phone_number == phone.group(1))
            and (code is None or s.fields.get("TemplateCode") == code)
        ]
        limit = min(int(raw_limit), len(found))
        return JSONResponse(
            {"sms": found[len(found) - limit :], "refused": list(self.api.account.refused)}
        )

    async def list_pushes(self, request: Request) -> Response:
        self.api.sync()
        kind = request.query_params.get("kind")
        found = [p for p in self.api.pusher.pushes if kind is None or p["kind"] == kind]
        return JSONResponse({"pushes": found})

    async def up(self, request: Request) -> Response:
        """A resident texts back: {"phone_number": "+86139…" or "139…", "content": "1"}."""
        self.api.sync()
        data = await _object(request)
        if isinstance(data, Response):
            return data
        phone = MOBILE.match(str(data.get("phone_number", "")))
        content = data.get("content")
        if phone is None or not isinstance(content, str) or not content:
            return JSONResponse({"error": "needs a mainland phone_number and a content"}, 400)
        number = phone.group(1)
        signs = [s.sign_name for s in self.api.account.sms if s.phone_number == number]
        sign = str(data.get("sign_name") or (signs[-1] if signs else ""))
        if not sign and self.api.config.sign_names:
            sign = self.api.config.sign_names[0]
        try:
            record = await self.api.pusher.up(number, content, sign)
        except PushError as exc:
            return JSONResponse({"error": str(exc)}, 409)
        return JSONResponse(record)

    async def faults(self, request: Request) -> Response:
        """{"down": true}, error_rate, throttle_rate, timeout_rate, latency_ms …"""
        data = await _object(request)
        if isinstance(data, Response):
            return data
        unknown = sorted(set(data) - FAULTS)
        if unknown:
            return JSONResponse({"error": f"not a fault knob: {', '.join(unknown)}"}, 422)
        return self._patch(data)

    async def get_config(self, request: Request) -> Response:
        return JSONResponse(self.api.config.model_dump(mode="json"))

    async def set_config(self, request: Request) -> Response:
        """Change the account (keys, signatures, templates, push URLs, limits …)."""
        data = await _object(request)
        if isinstance(data, Response):
            return data
        return self._patch(data)

    def _patch(self, patch: dict[str, Any]) -> Response:
        state = self.api.state
        merged = {**state.config.aliyun_sms.model_dump(), **patch}
        try:
            config = state.config.patched({"aliyun_sms": merged})
        except ValidationError as exc:
            return JSONResponse({"error": json.loads(exc.json(include_url=False))}, 422)
        state.reconfigure(config)
        return JSONResponse(self.api.config.model_dump(mode="json"))

    async def reset(self, request: Request) -> Response:
        """Forget what was sent, refused and pushed, and the per-number windows."""
        self.api.clear()
        return JSONResponse({"reset": True})
