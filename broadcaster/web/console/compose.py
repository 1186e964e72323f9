"""Compose (/console/compose): hazard, level, suggested texts, zones, channels, preview, send."""

from __future__ import annotations

import asyncio
import secrets
import threading
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from broadcaster.alerts.audio import script
from broadcaster.alerts.models import Alert, AlertSource, AlertStatus, Hazard, Level, MsgType
from broadcaster.alerts.policy import PolicySnapshot, load_policies, needs_approval, parse_policy
from broadcaster.db.ids import Id
from broadcaster.errors import ValidationFailed
from broadcaster.web.console.common import (
    HAZARDS,
    channel_names,
    console_user,
    console_write,
    db_of,
    page,
    settings_of,
)
from broadcaster.web.console.zonetree import grid_nodes, suggestions, zone_tree
from channels.loudspeaker import render_announcement
from channels.registry import registered

router = APIRouter()
_RENDERING = threading.Lock()  # one audio render at a time: it is CPU-bound


class AudioIn(BaseModel):
    """What the loudspeaker would say: the text fields of a compose form."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    hazard: Hazard
    level: Level
    headline: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=2000)
    instruction: str = Field(default="", max_length=1000)
    status: AlertStatus = AlertStatus.actual


def _render(text: str) -> bytes:
    with _RENDERING:
        return render_announcement(text).mp3


def _readable(table: dict[str, Any]) -> PolicySnapshot:
    """A level's policy for the form; a wrong one still shows the form (issuing at that
    level is what names the mistake)."""
    try:
        return parse_policy(table)
    except ValidationFailed:
        return PolicySnapshot()


@router.get("/console/compose", response_class=HTMLResponse)
def compose_page(request: Request) -> HTMLResponse:
    user = console_user(request)
    settings = settings_of(request)
    with db_of(request).read() as session:
        roots, hazard_zones = zone_tree(session)
    available = set(registered())
    policies = {
        level: _readable(table) for level, table in load_policies(settings.config_dir).items()
    }
    defaults = {
        level: [c for c in policy.start_channels if c in available]
        for level, policy in policies.items()
    }
    held = {
        level: needs_approval(policy, AlertSource.officer) for level, policy in policies.items()
    }
    return page(
        request,
        "console_compose.html",
        user,
        "compose",
        roots=roots,
        hazard_zones=hazard_zones,
        hazard_choices=list(HAZARDS),
        channel_choices=list(channel_names()),
        defaults=defaults,
        held=held,
        suggestions=suggestions(settings.config_dir, settings.language),
        idempotency_key=secrets.token_urlsafe(18),
    )


@router.get("/console/compose/zones/{zone_id}", response_class=HTMLResponse)
def compose_grids(request: Request, zone_id: Id) -> HTMLResponse:
    """The grid checkboxes of one village, fetched when the officer opens it."""
    user = console_user(request)
    with db_of(request).read() as session:
        grids = grid_nodes(session, zone_id)
    return page(request, "console_part_zone_grids.html", user, "", grids=grids)


@router.post("/console/compose/audio")
async def preview_audio(request: Request) -> Response:
    """The loudspeaker audio of the text being composed (MP3), rendered in a thread."""
    await run_in_threadpool(console_write, request, request.headers.get("x-csrf-token"))
    try:
        body = AudioIn.model_validate(await request.json())
    except (ValidationError, ValueError) as exc:
        return JSONResponse(
            {"error": "validation_failed", "message": str(exc)[:300]}, status_code=422
        )
    alert = Alert(
        id=0,
        status=body.status,
        hazard=body.hazard,
        level=body.level,
        headline=body.headline,
        body=body.body,
        instruction=body.instruction,
        msg_type=MsgType.alert,
    )
    text = script(alert, settings_of(request))
    mp3 = await asyncio.to_thread(_render, text)
    return Response(mp3, media_type="audio/mpeg", headers={"Cache-Control": "no-store"})
