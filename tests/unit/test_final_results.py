"""Answers that are as delivered as they get: a WeCom post the robot accepted, and an
IP-broadcast server that says it played (against a real local HTTP server)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from channels.base import SPEAKER_FIELD, Outcome, SendItem
from channels.loudspeaker.channel import Loudspeaker, LoudspeakerSettings
from channels.wecom_group import WecomGroup, WecomGroupSettings

ITEM = SendItem(key=7, address="robot-key-0123456789", body="【演练】暴雨红色预警")


def test_an_accepted_wecom_post_is_final_and_a_refused_one_is_not() -> None:
    channel = WecomGroup(WecomGroupSettings())
    detail: dict[str, Any] = {"robot": "…"}
    ok = channel._answer(ITEM, 200, json.dumps({"errcode": 0}).encode(), dict(detail))
    limited = channel._answer(ITEM, 200, json.dumps({"errcode": 45009}).encode(), dict(detail))
    assert (ok.outcome, ok.final) == (Outcome.accepted, True)
    assert (limited.outcome, limited.final) == (Outcome.retry, False)


async def _push(answer: dict[str, Any]) -> tuple[Outcome, bool]:
    """The push's outcome against a server answering `answer`; the server is told which
    loudspeaker plays what."""
    received: list[Any] = []

    async def play(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response(answer)

    app = web.Application()
    app.router.add_post("/ipcast/play", play)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    channel = Loudspeaker(LoudspeakerSettings())
    item = SendItem(key=1, address=f"http://127.0.0.1:{port}/ipcast/play", body="text",
                    extra={"audio_url": "http://x/a.mp3", SPEAKER_FIELD: "LS1"})  # fmt: skip
    try:
        [result] = await channel.send_batch([item])
    finally:
        await channel.close()
        await runner.cleanup()
    assert received == [{"audio_url": "http://x/a.mp3", "text": "text", "loudspeaker": "LS1"}]
    return result.outcome, result.final


async def test_a_broadcast_server_that_says_played_makes_the_push_final() -> None:
    assert await _push({"ok": True, "played": True}) == (Outcome.accepted, True)
    assert await _push({"ok": True, "queued": 1}) == (Outcome.accepted, False)
