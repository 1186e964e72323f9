"""Loudspeaker channel: the operator task is the delivery; an IP-broadcast push is optional."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import aiohttp
from pydantic import BaseModel, Field

from channels.base import (
    SPEAKER_FIELD,
    Audience,
    Capabilities,
    Channel,
    Outcome,
    Reach,
    SendItem,
    SendResult,
    TextForm,
)
from channels.config import Deployment


class LoudspeakerSettings(BaseModel):
    drill_push_url: str | None = Field(
        default=None, description="Drills push here (the simulator) instead of the real server."
    )
    timeout_seconds: float = Field(default=10.0, gt=0)


class Loudspeaker(Channel[LoudspeakerSettings]):
    """One item per loudspeaker. Without a push endpoint the operator plays the file by hand,
    so the item is accepted as a task; with one, the audio URL is pushed over HTTP."""

    name = "loudspeaker"
    label = "农村大喇叭"
    settings_model = LoudspeakerSettings
    capabilities = Capabilities(
        audience=Audience.zone,
        confirmations=frozenset({"operator"}),
        reach=Reach.loudspeaker,
        form=TextForm.broadcast,
    )

    @classmethod
    def configure(cls, options: dict[str, Any], deployment: Deployment) -> BaseModel:
        """The delivery timeout; drills push to the simulator's IP-broadcast endpoint."""
        o = {"timeout_seconds": deployment.timeout_seconds, **options}
        o["drill_push_url"] = f"{deployment.simulator()}/ipcast/play" if deployment.drill else None
        return cls.settings_model.model_validate(o)

    def __init__(self, settings: LoudspeakerSettings) -> None:
        super().__init__(settings)
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.settings.timeout_seconds)
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send_batch(self, items: Sequence[SendItem]) -> list[SendResult]:
        if self._session is None:
            await self.open()
        return list(await asyncio.gather(*(self._one(item) for item in items)))

    async def _one(self, item: SendItem) -> SendResult:
        url = (
            self.settings.drill_push_url
            if item.address and self.settings.drill_push_url
            else item.address
        )
        if not url:
            return SendResult(item.key, Outcome.accepted, message="待操作员播放 / operator task")
        assert self._session is not None
        payload = {
            "audio_url": item.extra.get("audio_url"),
            "text": item.body,
            "loudspeaker": item.extra.get(SPEAKER_FIELD),
        }
        try:
            async with self._session.post(url, json=payload) as response:
                if response.status < 300:
                    played = await _says_played(response)
                    text = "已播放 / played" if played else "已推送 / pushed"
                    return SendResult(item.key, Outcome.accepted, message=text, final=played)
                outcome = Outcome.retry if response.status >= 500 else Outcome.failed
                return SendResult(item.key, outcome, error_code=str(response.status))
        except aiohttp.ClientConnectorError:
            return SendResult(item.key, Outcome.retry, error_code="connection")
        except (TimeoutError, aiohttp.ClientError):
            return SendResult(item.key, Outcome.unknown, error_code="timeout")


async def _says_played(response: aiohttp.ClientResponse) -> bool:
    """Whether the IP-broadcast server's answer confirms that it played ({"played": true})."""
    try:
        answer = await response.json(content_type=None)
    except (ValueError, aiohttp.ClientError):
        return False
    return isinstance(answer, dict) and answer.get("played") is True
