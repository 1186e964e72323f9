"""What the Twilio channels share: the account settings, the pooled client, concurrent
sends and lookups, and the reading of a failed API call."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

import aiohttp
from pydantic import BaseModel, Field, SecretStr
from twilio.base.exceptions import TwilioRestException

from channels.base import Channel, LookupItem, LookupResult, Outcome, SendItem, SendResult
from channels.twilio_http import AsyncTwilio

# Twilio answers that mean "nothing was sent, try again later".
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
R = TypeVar("R")


class TwilioAccount(BaseModel):
    account_sid: str
    auth_token: SecretStr
    from_number: str
    api_base_url: str | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)
    concurrency: int = Field(default=20, ge=1)


AccountT = TypeVar("AccountT", bound=TwilioAccount)


class TwilioChannel(Channel[AccountT]):
    """A channel on one pooled Twilio client: `_send` and `_lookup` handle one item each."""

    def __init__(self, settings: AccountT) -> None:
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

    async def lookup(self, items: Sequence[LookupItem]) -> list[LookupResult]:
        if self._twilio is None:
            await self.open()
        gate = asyncio.Semaphore(min(10, self.settings.concurrency))

        async def one(item: LookupItem) -> LookupResult:
            async with gate:
                return await self._lookup(item)

        return list(await asyncio.gather(*(one(item) for item in items)))

    async def _send(self, item: SendItem) -> SendResult:
        raise NotImplementedError

    async def _lookup(self, item: LookupItem) -> LookupResult:
        raise NotImplementedError


async def attempt(
    item: SendItem, request: Awaitable[R], detail: dict[str, Any] | None = None
) -> R | SendResult:
    """The provider's answer, or the result that says why there is none: refused (retry
    when Twilio says so), never reached (retry), or no answer (fate unknown)."""
    try:
        return await request
    except TwilioRestException as exc:
        outcome = Outcome.retry if exc.status in RETRY_STATUSES else Outcome.failed
        return SendResult(
            item.key,
            outcome,
            error_code=str(exc.code or exc.status),
            message=str(exc.msg)[:200],
            detail=dict(detail or {}),
        )
    except aiohttp.ClientConnectorError as exc:  # never reached the provider
        return SendResult(
            item.key,
            Outcome.retry,
            error_code="connection",
            message=f"连接失败 / connection failed: {type(exc).__name__}",
            detail=dict(detail or {}),
        )
    except (TimeoutError, aiohttp.ClientError) as exc:  # maybe sent: fate unknown
        return SendResult(
            item.key,
            Outcome.unknown,
            error_code="timeout",
            message=f"提供商未应答 / no answer: {type(exc).__name__}",
            detail=dict(detail or {}),
        )
