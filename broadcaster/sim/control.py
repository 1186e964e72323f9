"""Control API (JSON, under /api): inspect messages and stats, change knobs, act as a resident."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from broadcaster.sim.config import NumberConfig
from broadcaster.sim.inbound import InboundError, deliver_inbound
from broadcaster.sim.state import SimState
from broadcaster.sim.store import Message


class BadRequest(Exception):
    """A control request that cannot be applied; nothing changed."""


def _problem(status: int, detail: Any) -> JSONResponse:
    return JSONResponse({"error": detail}, status_code=status)


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise BadRequest(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"'{key}' must be a non-empty string")
    return value


def _limit(request: Request, default: int) -> int:
    raw = request.query_params.get("limit", str(default))
    if not raw.isdigit():
        raise BadRequest("limit must be a non-negative integer")
    return min(int(raw), 100_000)


def _detail(message: Message) -> dict[str, Any]:
    """The REST resource plus what only the simulator knows."""
    return {
        **message.resource(),
        "status_callback": message.status_callback,
        "fate": message.fate,
        "encoding_segments": message.num_segments,
        "callbacks": message.callbacks,
    }


class ControlApi:
    """Handlers mounted at /api next to the provider routes."""

    def __init__(self, state: SimState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [
            Route("/messages", self._wrap(self.list_messages), methods=["GET"]),
            Route("/messages/{sid}", self._wrap(self.get_message), methods=["GET"]),
            Route("/messages/{sid}/reply", self._wrap(self.reply), methods=["POST"]),
            Route("/inbound", self._wrap(self.inbound), methods=["POST"]),
            Route("/stats", self._wrap(self.stats), methods=["GET"]),
            Route("/requests", self._wrap(self.requests), methods=["GET"]),
            Route("/callbacks", self._wrap(self.callbacks), methods=["GET"]),
            Route("/config", self._wrap(self.get_config), methods=["GET"]),
            Route("/config", self._wrap(self.set_config), methods=["POST"]),
            Route("/numbers", self._wrap(self.set_number), methods=["POST"]),
            Route("/reset", self._wrap(self.reset), methods=["POST"]),
        ]

    @staticmethod
    def _wrap(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                result: Response = await handler(request)
            except BadRequest as exc:
                return _problem(400, str(exc))
            except ValidationError as exc:
                return _problem(422, json.loads(exc.json(include_url=False)))
            except InboundError as exc:
                return _problem(409, str(exc))
            return result

        return endpoint

    async def list_messages(self, request: Request) -> Response:
        query = request.query_params
        found = self.state.store.find(
            to=query.get("to"), status=query.get("status"), limit=_limit(request, 100)
        )
        return JSONResponse({"messages": [_detail(m) for m in found]})

    async def get_message(self, request: Request) -> Response:
        message = self.state.store.messages.get(request.path_params["sid"])
        if message is None:
            return _problem(404, "no such message")
        return JSONResponse(_detail(message))

    async def reply(self, request: Request) -> Response:
        """The resident answers a message we sent: an inbound SMS to the sending number."""
        data = await _json_object(request)
        body = _text(data, "body")
        message = self.state.store.messages.get(request.path_params["sid"])
        if message is None:
            return _problem(404, "no such message")
        if not message.direction.startswith("outbound") or not message.from_:
            raise BadRequest("only outbound messages with a From number can be answered")
        result = await deliver_inbound(self.state, sender=message.to, to=message.from_, body=body)
        return JSONResponse(result)

    async def inbound(self, request: Request) -> Response:
        data = await _json_object(request)
        result = await deliver_inbound(
            self.state, sender=_text(data, "from"), to=_text(data, "to"), body=_text(data, "body")
        )
        return JSONResponse(result)

    async def stats(self, request: Request) -> Response:
        stats = self.state.store.stats()
        stats["pending_steps"] = self.state.dispatcher.pending()
        return JSONResponse(stats)

    async def requests(self, request: Request) -> Response:
        entries = list(self.state.store.requests)[-_limit(request, 100) :]
        return JSONResponse({"requests": entries})

    async def callbacks(self, request: Request) -> Response:
        sid = request.query_params.get("sid")
        entries = [c for c in self.state.store.callbacks if sid is None or c.get("sid") == sid]
        return JSONResponse({"callbacks": entries[-_limit(request, 100) :]})

    async def get_config(self, request: Request) -> Response:
        return JSONResponse(self.state.config.model_dump(mode="json"))

    async def set_config(self, request: Request) -> Response:
        """Change any knobs at run time; unknown or invalid ones change nothing (422)."""
        config = self.state.config.patched(await _json_object(request))
        self.state.reconfigure(config)
        return JSONResponse(config.model_dump(mode="json"))

    async def set_number(self, request: Request) -> Response:
        """Add a sending number or change its inbound webhook."""
        data = await _json_object(request)
        number = _text(data, "number")
        entry = NumberConfig.model_validate({k: v for k, v in data.items() if k != "number"})
        numbers = {**self.state.config.numbers, number: entry}
        self.state.reconfigure(self.state.config.patched({"numbers": numbers}))
        return JSONResponse({"number": number, **entry.model_dump(mode="json")})

    async def reset(self, request: Request) -> Response:
        self.state.reset()
        return JSONResponse({"reset": True})
