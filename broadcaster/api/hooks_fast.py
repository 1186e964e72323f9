"""Receipts and replies answered in raw ASGI ahead of FastAPI's stack; anything else (calls,
key presses, refusals, errors) goes on to the ordinary route with the same request."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from broadcaster.api.hooks import MAX_FIELDS, URLENCODED, apply, hook_channel
from broadcaster.api.security_headers import header_sets, page_type
from channels.hooks import HookAnswer, HookRejected, HookRequest
from channels.registry import hook_route

PREFIX = "/hooks/"
MAX_BODY = 64 * 1024  # a provider's form post is a few hundred bytes; a batch push a few KiB


class FastHooks:
    """ASGI middleware: a provider's POST carrying receipts or replies is verified, parsed,
    applied through the app's group commits and answered here (FastAPI's routing, dependency
    and middleware layers cost more than the rest of such a request). Whatever this does not
    answer — a call's document, key presses, an unknown hook, a bad signature or body, an
    error — the ordinary route answers from the start, as before: applying is idempotent
    (states only move forward; a reply is kept once by its provider id)."""

    def __init__(self, app: ASGIApp, owner: FastAPI) -> None:
        self.app = app
        self.owner = owner
        settings = owner.state.settings
        self.headers = header_sets(
            https=settings.public_base_url.startswith("https://"),
            hsts_seconds=settings.security.hsts_seconds,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].startswith(PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length", "")
        if not length.isdigit() or int(length) > MAX_BODY:
            await self.app(scope, receive, send)
            return
        body = await _read(receive)
        try:
            answer = await self._answer(scope, headers, body)
        except Exception:  # the ordinary route maps every error to its answer
            answer = None
        if answer is None:
            await self.app(scope, _replay(body, receive), send)
            return
        await self._respond(scope, send, answer)

    async def _answer(self, scope: Scope, headers: Headers, body: bytes) -> HookAnswer | None:
        provider, _, kind = scope["path"][len(PREFIX) :].partition("/")
        route = hook_route(provider, kind)
        if route is None or not headers.get("content-type", "").startswith(URLENCODED):
            return None
        owner, hook = route
        settings = self.owner.state.settings
        form = dict(
            parse_qsl(body.decode("latin-1"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
        )
        raw_query = scope["query_string"].decode("latin-1")
        url = settings.public_url(scope["path"]) + (f"?{raw_query}" if raw_query else "")
        client = scope.get("client")
        incoming = HookRequest(
            url=url,
            base=settings.public_url(f"/hooks/{provider}"),
            query=dict(parse_qsl(raw_query, keep_blank_values=True)),
            headers=headers,
            form=form,
            body=body,
            client=client[0] if client else None,
        )
        channel = hook_channel(self.owner, owner)
        if not channel.verify(incoming):
            return None  # refused (and logged) by the ordinary route
        try:
            answer = hook.parse(incoming)
        except HookRejected:
            return None
        if answer.call is not None or answer.keys:
            return None
        await apply(self.owner, owner.medium, answer)
        return answer

    async def _respond(self, scope: Scope, send: Send, answer: HookAnswer) -> None:
        content = answer.body.encode()
        media_type = answer.media_type
        if media_type.startswith("text/"):
            media_type += "; charset=utf-8"
        headers: list[tuple[bytes, bytes]] = [
            (b"content-length", str(len(content)).encode()),
            (b"content-type", media_type.encode()),
            *self.headers[page_type(scope["path"])],
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": content})


async def _read(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The request's body once more, then whatever the connection says (a disconnect)."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        message: Any = await receive()
        return message  # type: ignore[no-any-return]

    return again
