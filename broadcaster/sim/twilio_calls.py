"""Twilio Calls subset (create, fetch) and the resident's side of a call under /api/calls."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from broadcaster.sim.store import API_VERSION, rfc2822
from broadcaster.sim.twilio_call_flow import Call, CallFlow, Conflict

if TYPE_CHECKING:
    from broadcaster.sim.state import SimState

CallFate = Literal["human", "machine", "busy", "no-answer", "failed"]
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
KEYS = re.compile(r"^[0-9*#]{0,16}$")


class CallsSimConfig(BaseModel):
    """Calls ring until POST /api/calls/{sid}/answer (or auto_answer); the fate then says who
    answered. A machine never presses a key; a person presses via /press (or auto_press)."""

    model_config = ConfigDict(extra="forbid")

    failed_rate: float = Field(default=0, ge=0, le=1)
    busy_rate: float = Field(default=0, ge=0, le=1)
    no_answer_rate: float = Field(default=0, ge=0, le=1)
    machine_rate: float = Field(default=0, ge=0, le=1, description="Share of answers by machine.")
    number_fates: dict[str, CallFate] = Field(
        default_factory=dict, description="Fixed fate per To number, overriding the rates."
    )
    ring_ms: float = Field(default=0, ge=0, description="Between dialling steps.")
    auto_answer: bool = Field(default=False, description="Answer alone after answer_after_ms.")
    answer_after_ms: float = Field(default=500, ge=0)
    auto_press: str | None = Field(
        default=None,
        pattern=r"^[0-9*#]{0,4}$",
        description="Keys a person presses alone at each prompt ('' stays silent); None waits.",
    )
    silence_after_ms: float | None = Field(
        default=None,
        ge=0,
        description="A prompt nobody answers times out after this long, as <Gather> does; "
        "None: it waits for /press.",
    )


class BadKeys(Exception):
    """A /press body without valid keys."""


def twilio_error(status: int, code: int, message: str) -> Response:
    """The provider's error document."""
    body = {"code": code, "message": message, "status": status}
    body["more_info"] = f"https://www.twilio.com/docs/errors/{code}"
    headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def validate(form: dict[str, str], numbers: Collection[str]) -> tuple[int, str] | None:
    """The first rule the create form breaks, as (error code, message)."""
    to, sender, url = form.get("To", ""), form.get("From", ""), form.get("Url", "")
    if not to:
        return 21201, "No 'To' number is specified"
    if not sender:
        return 21213, "No 'From' number is specified"
    if not url and not form.get("Twiml"):
        return 21205, "Url parameter is required"
    if url and not url.startswith(("http://", "https://")):
        return 21205, f"Url is not a valid URL: {url}"
    if not E164.match(to):
        return 21211, f"Invalid 'To' Phone Number: {to}"
    if numbers and sender not in numbers:
        return 21210, f"The source phone number provided, {sender}, is not yet verified."
    return None


def resource(call: Call) -> dict[str, Any]:
    """The call as the REST API renders it."""
    uri = f"/{API_VERSION}/Accounts/{call.account_sid}/Calls/{call.sid}"
    talked = call.status == "completed" and call.answered and call.ended
    return {
        "account_sid": call.account_sid,
        "annotation": None,
        "answered_by": call.answered_by,
        "api_version": API_VERSION,
        "caller_name": None,
        "date_created": rfc2822(call.created),
        "date_updated": rfc2822(call.updated),
        "direction": "outbound-api",
        "duration": str(round((call.ended or 0) - (call.answered or 0))) if talked else None,
        "end_time": rfc2822(call.ended) if call.ended else None,
        "forwarded_from": None,
        "from": call.from_,
        "from_formatted": call.from_,
        "group_sid": None,
        "parent_call_sid": None,
        "phone_number_sid": None,
        "price": None,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": call.sid,
        "start_time": rfc2822(call.started) if call.started else None,
        "status": call.status,
        "subresource_uris": {"recordings": f"{uri}/Recordings.json"},
        "to": call.to,
        "to_formatted": call.to,
        "trunk_sid": None,
        "uri": f"{uri}.json",
    }


def detail(call: Call) -> dict[str, Any]:
    """The resource plus what only the simulator knows: fate, what was said, keys, requests."""
    return {
        **resource(call),
        "fate": call.fate,
        "url": call.url,
        "status_callback": call.status_callback,
        "waiting_for_key": call.gather is not None,
        "transcript": call.transcript,
        "keys": call.keys,
        "requests": call.requests,
        "callbacks": call.callbacks,
    }


async def _digits(request: Request) -> str:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise BadKeys(f"body is not JSON: {exc}") from exc
    digits = data.get("digits") if isinstance(data, dict) else None
    if not isinstance(digits, str) or not KEYS.match(digits):
        raise BadKeys("'digits' must be a string of keys 0-9 * # ('' is silence)")
    return digits


class CallsApi:
    """Handlers for /2010-04-01/Accounts/{AccountSid}/Calls… and /api/calls…"""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.flow = CallFlow(state)
        self.calls: dict[str, Call] = {}
        self.generation = state.generation

    def routes(self) -> list[Route]:
        base = "/2010-04-01/Accounts/{account_sid}/Calls"
        return [
            Route(base + ".json", self.create, methods=["POST"]),
            Route(base + "/{sid}.json", self.fetch, methods=["GET"]),
            Route("/api/calls", self.list_calls, methods=["GET"]),
            Route("/api/calls/{sid}", self.get_call, methods=["GET"]),
            Route("/api/calls/{sid}/{action}", self.act, methods=["POST"]),
        ]

    def _live(self) -> dict[str, Call]:
        """The calls since the last reset (POST /api/reset forgets them)."""
        if self.generation != self.state.generation:
            self.calls.clear()
            self.generation = self.state.generation
        return self.calls

    async def create(self, request: Request) -> Response:
        """Place a call: auth, rate limit, injected faults and validation as for messages."""
        state = self.state
        store, account, path = state.store, request.path_params["account_sid"], request.url.path
        if not state.authenticate(request.headers.get("authorization"), account):
            store.log_request("POST", path, 401)
            return twilio_error(401, 20003, "Authenticate")
        fault = "429" if not state.allow(account) else state.draw_fault()
        if state.config.latency_ms:
            await asyncio.sleep(state.config.latency_ms / 1000)
        if fault in ("500", "429"):
            store.counters[f"calls_injected_{fault}"] += 1
            store.log_request("POST", path, int(fault), fault=fault)
            return twilio_error(int(fault), 20500 if fault == "500" else 20429, "Try again later")
        pairs = parse_qsl((await request.body()).decode("utf-8", "replace"), True)
        form = dict(pairs)
        problem = validate(form, state.config.numbers.keys())
        if problem is not None:
            store.log_request("POST", path, 400, error=problem[0])
            return twilio_error(400, *problem)
        events = [value for name, value in pairs if name == "StatusCallbackEvent"]
        call = None
        if fault != "timeout" or state.config.timeout_creates_message:
            call = await self._place(account, form, events)
        if fault == "timeout":  # hold the request past any sane client timeout
            store.counters["calls_injected_timeout"] += 1
            await asyncio.sleep(state.config.timeout_seconds)
        store.log_request("POST", path, 201 if call else 504, sid=call.sid if call else None)
        if call is None:
            return twilio_error(504, 20500, "Gateway Timeout")
        return JSONResponse(resource(call), status_code=201)

    async def _place(self, account: str, form: dict[str, str], events: list[str]) -> Call:
        detect = form.get("MachineDetection") in ("Enable", "DetectMessageEnd")
        in_background = detect and form.get("AsyncAmd", "").lower() == "true"
        call = Call(
            sid=self.state.new_sid("CA"),
            account_sid=account,
            to=form["To"],
            from_=form["From"],
            url=form.get("Url", ""),
            twiml=None if form.get("Url") else form.get("Twiml"),
            fate=self._fate(form["To"]),
            status_callback=form.get("StatusCallback") or None,
            events=frozenset(events or ["completed"]),
            detect=detect,
            amd_callback=(form.get("AsyncAmdStatusCallback") or None) if in_background else None,
        )
        calls = self._live()
        while calls and len(calls) >= self.state.config.max_recorded:
            calls.pop(next(iter(calls)))
        calls[call.sid] = call
        self.state.store.counters["calls_created"] += 1
        await self.flow.start(call)
        return call

    def _fate(self, to: str) -> str:
        """Fixed per number, else by the rates: failed, busy, no-answer, machine, human."""
        config, rng = self.state.config.calls, self.state.rng
        if to in config.number_fates:
            return config.number_fates[to]
        rates = (
            ("failed", config.failed_rate),
            ("busy", config.busy_rate),
            ("no-answer", config.no_answer_rate),
        )
        draw = rng.random() if any(rate for _fate, rate in rates) else 1.0
        for fate, rate in rates:
            if draw < rate:
                return fate
            draw -= rate
        return "machine" if config.machine_rate and rng.random() < config.machine_rate else "human"

    async def fetch(self, request: Request) -> Response:
        """One call by SID, for status look-ups."""
        account, sid = request.path_params["account_sid"], request.path_params["sid"]
        store, path = self.state.store, request.url.path
        if not self.state.authenticate(request.headers.get("authorization"), account):
            store.log_request("GET", path, 401)
            return twilio_error(401, 20003, "Authenticate")
        call = self._live().get(sid)
        if call is None or call.account_sid != account:
            store.log_request("GET", path, 404)
            return twilio_error(404, 20404, f"The requested resource {path} was not found")
        store.log_request("GET", path, 200, sid=sid)
        return JSONResponse(resource(call))

    async def list_calls(self, request: Request) -> Response:
        """Calls newest first, filtered by ?to= and ?status=, at most ?limit= (100)."""
        query = request.query_params
        limit = int(query["limit"]) if query.get("limit", "").isdigit() else 100
        found = [
            detail(call)
            for call in reversed(self._live().values())
            if query.get("to") in (None, call.to) and query.get("status") in (None, call.status)
        ]
        return JSONResponse({"calls": found[:limit]})

    async def get_call(self, request: Request) -> Response:
        call = self._live().get(request.path_params["sid"])
        if call is None:
            return JSONResponse({"error": "no such call"}, status_code=404)
        return JSONResponse(detail(call))

    async def act(self, request: Request) -> Response:
        """answer, press {"digits": "1"} ("" is silence), or hangup — as the resident."""
        call = self._live().get(request.path_params["sid"])
        action = request.path_params["action"]
        if call is None or action not in ("answer", "press", "hangup"):
            return JSONResponse({"error": "no such call or action"}, status_code=404)
        try:
            if action == "press":
                await self.flow.press(call, await _digits(request))
            elif action == "answer":
                await self.flow.answer(call)
            else:
                await self.flow.hangup(call)
        except BadKeys as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except Conflict as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        return JSONResponse(detail(call))
