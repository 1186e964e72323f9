"""SMS through the Twilio Messages API, with the official `twilio` library."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aiohttp
from pydantic import BaseModel, Field, SecretStr
from twilio.base.exceptions import TwilioRestException

from channels.base import (
    Audience,
    Capabilities,
    Channel,
    LookupItem,
    LookupResult,
    Outcome,
    ProviderState,
    SendItem,
    SendResult,
)
from channels.sms_text import segments
from channels.twilio_http import AsyncTwilio

# Twilio answers that mean "nothing was sent, try again later".
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DELIVERED = frozenset({"delivered", "read"})
FAILED = frozenset({"undelivered", "failed", "canceled"})
LOOKUP_DEPTH = 50


class SmsTwilioSettings(BaseModel):
    account_sid: str
    auth_token: SecretStr
    from_number: str
    messaging_service_sid: str | None = None
    api_base_url: str | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)
    concurrency: int = Field(default=100, ge=1)


class SmsTwilio(Channel[SmsTwilioSettings]):
    """One SMS per person; replies and links carry the confirmation."""

    name = "sms"
    settings_model = SmsTwilioSettings
    capabilities = Capabilities(
        audience=Audience.person,
        confirmations=frozenset({"sms_reply", "link"}),
        max_body_chars=670,
    )

    def __init__(self, settings: SmsTwilioSettings) -> None:
        super().__init__(settings)
        self._twilio: AsyncTwilio | None = None

    async def open(self) -> None:
        s = self.settings
        self._twilio = AsyncTwilio(
            account_sid=s.account_sid,
            auth_token=s.auth_token.get_secret_value(),
            api_base_url=s.api_base_url,
            timeout=s.timeout_seconds,
            max_connections=s.concurrency,
        )

    async def close(self) -> None:
        if self._twilio is not None:
            await self._twilio.close()
            self._twilio = None

    async def send_batch(self, items: Sequence[SendItem]) -> list[SendResult]:
        if self._twilio is None:
            await self.open()
        gate = asyncio.Semaphore(self.settings.concurrency)

        async def one(item: SendItem) -> SendResult:
            async with gate:
                return await self._send(item)

        return list(await asyncio.gather(*(one(item) for item in items)))

    async def _send(self, item: SendItem) -> SendResult:
        assert self._twilio is not None
        sender: dict[str, str] = (
            {"messaging_service_sid": self.settings.messaging_service_sid}
            if self.settings.messaging_service_sid
            else {"from_": self.settings.from_number}
        )
        parts = segments(item.body)
        try:
            message = await self._twilio.client.messages.create_async(
                to=item.address, body=item.body, status_callback=item.callback_url, **sender
            )
        except TwilioRestException as exc:
            return _refused(item, exc, parts)
        except aiohttp.ClientConnectorError as exc:  # never reached the provider
            return SendResult(
                item.key,
                Outcome.retry,
                error_code="connection",
                message=f"连接失败 / connection failed: {type(exc).__name__}",
                detail={"segments": parts},
            )
        except (TimeoutError, aiohttp.ClientError) as exc:  # sent, but no answer: fate unknown
            return SendResult(
                item.key,
                Outcome.unknown,
                error_code="timeout",
                message=f"提供商未应答 / no answer: {type(exc).__name__}",
                detail={"segments": parts},
            )
        return SendResult(
            item.key,
            Outcome.accepted,
            provider_id=message.sid,
            detail={"segments": int(message.num_segments or parts)},
        )

    async def lookup(self, items: Sequence[LookupItem]) -> list[LookupResult]:
        """Find messages of unknown fate: by provider id, else among the number's messages."""
        if self._twilio is None:
            await self.open()
        gate = asyncio.Semaphore(min(10, self.settings.concurrency))

        async def one(item: LookupItem) -> LookupResult:
            async with gate:
                return await self._lookup(item)

        return list(await asyncio.gather(*(one(item) for item in items)))

    async def _lookup(self, item: LookupItem) -> LookupResult:
        assert self._twilio is not None
        messages = self._twilio.client.messages
        try:
            if item.provider_id:
                found = [await messages(item.provider_id).fetch_async()]
            else:
                recent = await messages.list_async(to=item.address, limit=LOOKUP_DEPTH)
                found = [m for m in recent if item.marker in (m.body or "")]
        except TwilioRestException as exc:
            return LookupResult(item.key, False if exc.status == 404 else None)
        except (TimeoutError, aiohttp.ClientError):
            return LookupResult(item.key, None)
        if not found:
            return LookupResult(item.key, False)
        message = found[-1]  # the oldest match: the first copy the person got
        state = (
            ProviderState.delivered
            if message.status in DELIVERED
            else ProviderState.failed
            if message.status in FAILED
            else ProviderState.sent
        )
        code = str(message.error_code) if message.error_code else None
        return LookupResult(item.key, True, message.sid, state, code)


def _refused(item: SendItem, exc: TwilioRestException, parts: int) -> SendResult:
    code = str(exc.code or exc.status)
    outcome = Outcome.retry if exc.status in RETRY_STATUSES else Outcome.failed
    return SendResult(
        item.key, outcome, error_code=code, message=str(exc.msg)[:200], detail={"segments": parts}
    )
