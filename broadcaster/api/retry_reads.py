"""GET and HEAD change nothing (invariant 6), so one that met a lost connection is run again."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAUSES = (0.2, 0.6)  # before the second and third try


class RetryReads:
    """ASGI middleware: a GET/HEAD answered 503 (the database or Redis was unavailable) is run
    again, up to twice, before the client sees the 503. Nothing has been sent by then: the
    503 comes from the error handler as one small response, dropped here."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        for pause in (*PAUSES, None):
            unavailable = False

            async def hold(message: Message, last: bool = pause is None) -> None:
                nonlocal unavailable
                if message["type"] == "http.response.start" and message["status"] == 503:
                    unavailable = True
                if not unavailable or last:
                    await send(message)  # else dropped: this try is thrown away

            await self.app(scope, receive, hold)
            if not unavailable or pause is None:
                return
            await asyncio.sleep(pause)
