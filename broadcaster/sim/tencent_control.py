"""Control routes of the simulated Tencent SMS (/api/tencent/…): what it received, faults,
knobs, and a resident who replies."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

if TYPE_CHECKING:
    from broadcaster.sim.tencent_sms import TencentSmsApi

FAULTS = frozenset(
    {"down", "error_rate", "timeout_rate", "timeout_seconds", "timeout_sends", "latency_ms"}
)


def control_routes(api: TencentSmsApi) -> list[BaseRoute]:
    """GET sms, callbacks and config; POST faults, config, reply and reset."""

    async def body(request: Request) -> dict[str, Any]:
        data = json.loads(await request.body() or b"{}")
        if not isinstance(data, dict):
            raise ValueError("body must be a JSON object")
        return data

    def patch(changes: dict[str, Any]) -> Response:
        merged = {**api.config.model_dump(), **changes}
        try:
            config = api.state.config.patched({"tencent": merged})
        except ValidationError as exc:
            return JSONResponse({"error": json.loads(exc.json(include_url=False))}, 422)
        api.state.reconfigure(config)
        return JSONResponse(api.config.model_dump(mode="json"))

    async def list_sms(request: Request) -> Response:
        """What SendSms received, oldest first; ?phone= keeps requests to that number."""
        api.sync()
        phone = request.query_params.get("phone")
        found = [r for r in api.requests if phone is None or phone in r.get("PhoneNumberSet", [])]
        limit = request.query_params.get("limit", "1000")
        keep = int(limit) if limit.isdigit() else 1000
        return JSONResponse({"sms": found[len(found) - min(keep, len(found)) :]})

    async def faults(request: Request) -> Response:
        """Change fault knobs only: down, error_rate, timeout_rate, timeout_seconds…"""
        try:
            data = await body(request)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, 400)
        unknown = sorted(set(data) - FAULTS)
        if unknown:
            return JSONResponse({"error": f"not a fault: {', '.join(unknown)}"}, 400)
        return patch(data)

    async def get_config(_request: Request) -> Response:
        return JSONResponse(api.config.model_dump(mode="json"))

    async def set_config(request: Request) -> Response:
        try:
            return patch(await body(request))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, 400)

    async def reply(request: Request) -> Response:
        """A resident texts back: {"phone": "+86…", "text": "1"} pushed to the reply URL."""
        try:
            data = await body(request)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, 400)
        phone, text = str(data.get("phone") or ""), str(data.get("text") or "")
        url = api.config.reply_url
        if not phone.startswith("+86") or not text:
            return JSONResponse({"error": "'phone' (+86…) and 'text' are required"}, 400)
        if not url:
            return JSONResponse({"error": "no reply_url configured"}, 409)
        signs = api.config.signs
        entry = {
            "extend": str(data.get("extend") or ""),
            "mobile": phone[3:],
            "nationcode": "86",
            "sign": signs[0] if signs else "",
            "text": text,
            "time": int(time.time()),
        }
        return JSONResponse(await api.pusher.post(url, [entry], "reply"))

    async def callbacks(_request: Request) -> Response:
        return JSONResponse({"callbacks": list(api.pusher.log)})

    async def reset(_request: Request) -> Response:
        api.clear()
        return JSONResponse({"reset": True})

    routes = [
        Route("/sms", list_sms, methods=["GET"]),
        Route("/faults", faults, methods=["POST"]),
        Route("/config", get_config, methods=["GET"]),
        Route("/config", set_config, methods=["POST"]),
        Route("/reply", reply, methods=["POST"]),
        Route("/callbacks", callbacks, methods=["GET"]),
        Route("/reset", reset, methods=["POST"]),
    ]
    return [Mount("/api/tencent", routes=routes)]
