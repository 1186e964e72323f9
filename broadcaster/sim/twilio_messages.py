"""Twilio REST subset: create and fetch Message resources (2010-04-01 API)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Collection
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from broadcaster.sim.callbacks import Step
from broadcaster.sim.forms import parse_form
from broadcaster.sim.lifecycle import choose_fate, planned_statuses
from broadcaster.sim.segments import count_segments
from broadcaster.sim.state import SimState
from broadcaster.sim.store import Message

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAX_BODY_CHARS = 1600
JSON_TYPE = "application/json; charset=utf-8"


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class TwilioJSON(Response):
    """A JSON body as the provider sends it."""

    media_type = JSON_TYPE


def json_response(payload: Any, status: int) -> Response:
    """Encode a resource or error document."""
    return TwilioJSON(_ENCODER.encode(payload).encode(), status_code=status)


def twilio_error(status: int, code: int, message: str, **extra: Any) -> Response:
    """The provider's error document: code, message, more_info, status."""
    payload = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
        **extra,
    }
    response = json_response(payload, status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
    return response


def unauthorized() -> Response:
    return twilio_error(
        401, 20003, "Authenticate", detail="Your AccountSid or AuthToken was incorrect."
    )


def validate(form: dict[str, str], numbers: Collection[str]) -> tuple[int, str] | None:
    """The first rule the form breaks, as (error code, message), in the provider's order."""
    to, sender = form.get("To", ""), form.get("From", "")
    if not to:
        return 21604, "A 'To' phone number is required."
    if not sender and not form.get("MessagingServiceSid"):
        return 21603, "A 'From' phone number is required."
    if not form.get("Body") and not form.get("MediaUrl") and not form.get("ContentSid"):
        return 21602, "Message body is required."
    if not E164.match(to):
        return 21211, f"The 'To' number {to} is not a valid phone number."
    if sender and numbers and sender not in numbers:
        return 21606, (
            f"The From phone number {sender} is not a valid, SMS-capable inbound phone "
            "number or short code for your account."
        )
    if sender and sender == to:
        return 21266, "'To' and 'From' number cannot be the same"
    if len(form.get("Body", "")) > MAX_BODY_CHARS:
        return 21617, "The concatenated message body exceeds the 1600 character limit."
    return None


class MessagesApi:
    """Handlers for /2010-04-01/Accounts/{AccountSid}/Messages…"""

    def __init__(self, state: SimState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        base = "/2010-04-01/Accounts/{account_sid}/Messages"
        return [
            Route(base + ".json", self.create, methods=["POST"]),
            Route(base + ".json", self.list, methods=["GET"]),
            Route(base + "/{sid}.json", self.fetch, methods=["GET"]),
        ]

    async def create(self, request: Request) -> Response:
        """Create a message; injected faults, validation and rate limits apply here."""
        state = self.state
        config, store = state.config, state.store
        account = request.path_params["account_sid"]
        path = request.scope["path"]
        if not state.authenticate(request.headers.get("authorization"), account):
            store.log_request("POST", path, 401)
            return unauthorized()
        if not state.allow(account):
            store.counters["rate_limited"] += 1
            store.log_request("POST", path, 429, fault="rate_limit")
            return twilio_error(429, 20429, "Too Many Requests")
        fault = state.draw_fault()
        if config.latency_ms:
            await asyncio.sleep(config.latency_ms / 1000)
        if fault == "500":
            store.counters["injected_500"] += 1
            store.log_request("POST", path, 500, fault="500")
            return twilio_error(500, 20500, "An internal server error has occurred")
        if fault == "429":
            store.counters["injected_429"] += 1
            store.log_request("POST", path, 429, fault="429")
            return twilio_error(429, 20429, "Too Many Requests")
        form, media = self._parse(await request.body())
        problem = validate(form, config.numbers.keys())
        if problem is not None:
            store.counters["invalid_requests"] += 1
            store.log_request("POST", path, 400, error=problem[0])
            return twilio_error(400, *problem)
        if fault == "timeout":
            return await self._timeout(account, form, media, path)
        message = await self._create(account, form, media)
        store.log_request("POST", path, 201, sid=message.sid)
        return json_response(message.resource(hide_segments=message.status == "accepted"), 201)

    async def _timeout(self, account: str, form: dict[str, str], media: int, path: str) -> Response:
        """Hold the request past any sane client timeout; maybe create the message anyway."""
        config, store = self.state.config, self.state.store
        store.counters["injected_timeout"] += 1
        message = None
        if config.timeout_creates_message:
            message = await self._create(account, form, media)
            store.counters["timeout_created"] += 1
        await asyncio.sleep(config.timeout_seconds)
        store.log_request("POST", path, 201 if message else 504, fault="timeout")
        if message is None:
            return twilio_error(504, 20500, "Gateway Timeout")
        return json_response(message.resource(), 201)

    @staticmethod
    def _parse(raw: bytes) -> tuple[dict[str, str], int]:
        form, counts = parse_form(raw.decode("utf-8", "replace"))
        return form, counts.get("MediaUrl", 0)

    async def _create(self, account: str, form: dict[str, str], media: int) -> Message:
        state = self.state
        config = state.config
        service = form.get("MessagingServiceSid") or None
        sender = form.get("From") or (next(iter(config.numbers), None) if service else None)
        to = form["To"]
        body = form.get("Body", "")
        message = Message(
            sid=state.new_sid("MM" if media else "SM"),
            account_sid=account,
            to=to,
            from_=sender,
            body=body,
            status="accepted" if service else "queued",
            num_segments=count_segments(body),
            messaging_service_sid=service,
            status_callback=form.get("StatusCallback") or None,
            fate=choose_fate(config, state.rng, to),
            num_media=media,
        )
        state.store.add(message)
        step = Step(message.sid, planned_statuses(message), state.generation)
        await state.dispatcher.schedule(step, config.callback_delay_ms / 1000)
        return message

    async def list(self, request: Request) -> Response:
        """Messages of the account, newest first, filtered by To (one page, as Twilio pages)."""
        state = self.state
        account = request.path_params["account_sid"]
        path = request.scope["path"]
        if not state.authenticate(request.headers.get("authorization"), account):
            state.store.log_request("GET", path, 401)
            return unauthorized()
        query = request.query_params
        size = min(max(int(query.get("PageSize", "50") or 50), 1), 1000)
        found = [
            m
            for m in state.store.find(to=query.get("To"), limit=size * 4)
            if m.account_sid == account and (not query.get("From") or m.from_ == query.get("From"))
        ][:size]
        state.store.log_request("GET", path, 200)
        uri = f"/2010-04-01/Accounts/{account}/Messages.json?PageSize={size}&Page=0"
        return json_response(
            {
                "messages": [m.resource() for m in found],
                "page": 0,
                "page_size": size,
                "start": 0,
                "end": max(len(found) - 1, 0),
                "uri": uri,
                "first_page_uri": uri,
                "next_page_uri": None,
                "previous_page_uri": None,
            },
            200,
        )

    async def fetch(self, request: Request) -> Response:
        """One message by SID, for status look-ups."""
        state = self.state
        account = request.path_params["account_sid"]
        path = request.scope["path"]
        if not state.authenticate(request.headers.get("authorization"), account):
            state.store.log_request("GET", path, 401)
            return unauthorized()
        if state.config.latency_ms:
            await asyncio.sleep(state.config.latency_ms / 1000)
        message = state.store.messages.get(request.path_params["sid"])
        if message is None or message.account_sid != account:
            state.store.log_request("GET", path, 404)
            resource = f"/2010-04-01/Accounts/{account}/Messages/{request.path_params['sid']}.json"
            return twilio_error(404, 20404, f"The requested resource {resource} was not found")
        state.store.log_request("GET", path, 200, sid=message.sid)
        return json_response(message.resource(), 200)
