"""An IP-broadcast server stand-in: accepts "play this audio" pushes and records them."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class IpcastApi:
    """POST /ipcast/play {audio_url, text, loudspeaker}; GET /api/ipcast lists the pushes."""

    def __init__(self, limit: int = 10_000) -> None:
        self.pushes: deque[dict[str, Any]] = deque(maxlen=limit)

    def routes(self) -> list[Route]:
        return [
            Route("/ipcast/play", self.play, methods=["POST"]),
            Route("/api/ipcast", self.listing, methods=["GET"]),
        ]

    async def play(self, request: Request) -> JSONResponse:
        try:
            data = await request.json()
        except ValueError:
            return JSONResponse({"ok": False, "error": "body must be JSON"}, status_code=400)
        if not isinstance(data, dict) or not data.get("audio_url"):
            return JSONResponse({"ok": False, "error": "audio_url is required"}, status_code=400)
        self.pushes.append({**data, "at": time.time()})
        return JSONResponse({"ok": True, "queued": len(self.pushes)})

    async def listing(self, _request: Request) -> JSONResponse:
        return JSONResponse({"pushes": list(self.pushes)})
