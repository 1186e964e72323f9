"""Server-sent events for the duty board: the funnels every ~2 s, sent only when they changed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from broadcaster.auth import cookies as web_session
from broadcaster.db.database import Database
from broadcaster.db.ids import Id
from broadcaster.web.console.common import console_user, db_of
from broadcaster.web.console.live import snapshot

router = APIRouter()
INTERVAL = 2.0  # seconds between two looks at the database
HEARTBEAT = 15.0  # a comment line now and then keeps proxies from closing a quiet stream
REVALIDATE = 30.0  # a stream ends this soon after its session does (logout, password change)


class StreamCount:
    """How many event streams are open (tests check that a closed tab ends its stream)."""

    def __init__(self) -> None:
        self.open = 0
        self.served = 0


def stream_count(request: Request) -> StreamCount:
    state = request.app.state
    if not hasattr(state, "console_streams"):
        state.console_streams = StreamCount()
    count: StreamCount = state.console_streams
    return count


def read_snapshot(db: Database, alert_id: int | None) -> str:
    """The board's data as one JSON text (compared as text to see whether anything changed)."""
    with db.read() as session:
        return json.dumps(snapshot(session, alert_id), sort_keys=True, separators=(",", ":"))


def signed_in(request: Request) -> bool:
    """Whether the stream's session is still live (an open stream is not activity)."""
    return web_session.current(request, touch=False) is not None


async def board_events(
    request: Request, db: Database, alert_id: int | None, interval: float = INTERVAL
) -> AsyncIterator[str]:
    """Read in a worker thread, send when different, stop as soon as the client has gone
    or its session has ended."""
    count = stream_count(request)
    count.open += 1
    count.served += 1
    try:
        yield f"retry: {int(interval * 1500)}\n\n"
        last, quiet, unchecked = "", 0.0, 0.0
        while not await request.is_disconnected():
            if unchecked >= REVALIDATE:
                if not await asyncio.to_thread(signed_in, request):
                    return
                unchecked = 0.0
            payload = await asyncio.to_thread(read_snapshot, db, alert_id)
            if payload != last:
                yield f"event: counts\ndata: {payload}\n\n"
                last, quiet = payload, 0.0
            elif quiet >= HEARTBEAT:
                yield ": still here\n\n"
                quiet = 0.0
            await asyncio.sleep(interval)
            quiet += interval
            unchecked += interval
    finally:
        count.open -= 1


@router.get("/console/events")
async def events(request: Request, alert: Id | None = None) -> StreamingResponse:
    """`text/event-stream` of `counts` events: {"alerts": {id: funnel}, "versions": {...}}."""
    await run_in_threadpool(console_user, request)
    return StreamingResponse(
        board_events(request, db_of(request), alert),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
