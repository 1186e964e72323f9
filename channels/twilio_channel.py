"""What the Twilio channels share: the account settings, the pooled client, concurrent
sends streamed back as they complete, lookups, webhook signatures, and the reading of a
failed API call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any, ClassVar, TypeVar

import aiohttp
from pydantic import BaseModel, Field, SecretStr
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from channels.base import (
    Channel,
    LookupItem,
    LookupResult,
    Outcome,
    SendGate,
    SendItem,
    SendResult,
    held,
)
from channels.config import Deployment
from channels.hooks import HookRequest
from channels.twilio_http import AsyncTwilio

# Twilio answers that mean "nothing was sent, try again later".
TOO_MANY = 429
RETRY_STATUSES = frozenset({TOO_MANY, 500, 502, 503, 504})
R = TypeVar("R")
# Connections per allowed request in flight: room for requests that went slow (they stop
# counting against `concurrency` after `slow_after_seconds` but hold a connection).
SLOW_ROOM = 4


class TwilioAccount(BaseModel):
    account_sid: str
    auth_token: SecretStr
    from_number: str
    api_base_url: str | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)
    concurrency: int = Field(default=20, ge=1)
    slow_after_seconds: float = Field(default=1.0, gt=0)
    lookup_concurrency: int = Field(default=10, ge=1)


AccountT = TypeVar("AccountT", bound=TwilioAccount)


class TwilioChannel(Channel[AccountT]):
    """A channel on one pooled Twilio client: `_send` and `_lookup` handle one item each.

    Its settings come from the deployment's `[twilio]` section (BROADCASTER_TWILIO__*),
    timings from `[delivery]` unless set; its webhooks are signed with the auth token."""

    provider = "twilio"
    settings_sections: ClassVar[tuple[str, ...]] = ("twilio",)

    def __init__(self, settings: AccountT) -> None:
        super().__init__(settings)
        self._twilio: AsyncTwilio | None = None
        self._slots: asyncio.Semaphore | None = None
        self._connections: asyncio.Semaphore | None = None
        self._validator: RequestValidator | None = None

    @classmethod
    def configure(cls, options: dict[str, Any], deployment: Deployment) -> BaseModel:
        """Timeouts sized to the provider (its own setting, else the delivery default);
        drills send to the simulator."""
        o = dict(options)
        o["timeout_seconds"] = o.get("timeout_seconds") or deployment.timeout_seconds
        o.setdefault("slow_after_seconds", deployment.slow_after_seconds)
        o.setdefault("concurrency", deployment.concurrency)
        o["api_base_url"] = deployment.endpoint(o.get("api_base_url"))
        return cls.settings_model.model_validate(o)

    def verify(self, request: HookRequest) -> bool:
        """The X-Twilio-Signature of the public URL and the form, made with the auth token."""
        if self._validator is None:
            self._validator = RequestValidator(self.settings.auth_token.get_secret_value())
        signature = request.headers.get("x-twilio-signature", "")
        return bool(self._validator.validate(request.url, dict(request.form), signature))

    async def open(self) -> None:
        library_log = logging.getLogger("twilio")
        if library_log.level == logging.NOTSET:  # it logs every request at INFO
            library_log.setLevel(logging.WARNING)
        s = self.settings
        self._twilio = AsyncTwilio(
            account_sid=s.account_sid,
            auth_token=s.auth_token.get_secret_value(),
            api_base_url=s.api_base_url,
            timeout=s.timeout_seconds,
            max_connections=s.concurrency * SLOW_ROOM + s.lookup_concurrency,
        )
        # One budget per channel, shared by every batch in flight on it.
        self._slots = asyncio.Semaphore(s.concurrency)
        self._connections = asyncio.Semaphore(s.concurrency * SLOW_ROOM)

    async def close(self) -> None:
        if self._twilio is not None:
            await self._twilio.close()
            self._twilio = None

    async def send_batch(self, items: Sequence[SendItem]) -> list[SendResult]:
        return [result async for result in self.send_stream(items)]

    async def send_stream(
        self, items: Sequence[SendItem], gate: SendGate | None = None
    ) -> AsyncIterator[SendResult]:
        """Every item's request on its own; each answer yielded the moment it arrives."""
        if self._twilio is None:
            await self.open()
        done: asyncio.Queue[SendResult] = asyncio.Queue()

        async def one(item: SendItem) -> None:
            try:
                result = await self._gated(item, gate)
            except Exception as exc:  # a bug, not the provider: the fate is unknown all the same
                result = SendResult(
                    item.key, Outcome.unknown, error_code="error", message=type(exc).__name__
                )
            done.put_nowait(result)

        tasks = [asyncio.ensure_future(one(item)) for item in items]
        try:
            for _ in tasks:
                yield await done.get()
        finally:
            for task in tasks:
                task.cancel()

    async def _gated(self, item: SendItem, gate: SendGate | None) -> SendResult:
        """One request within the budgets: a slot while it is quick, a connection until it
        ends; the gate is asked when the slot is free, right before the request goes."""
        assert self._slots is not None
        assert self._connections is not None
        slots = self._slots
        async with self._connections:
            await slots.acquire()
            released = False

            def release() -> None:
                nonlocal released
                if not released:
                    released = True
                    slots.release()

            timer = asyncio.get_running_loop().call_later(self.settings.slow_after_seconds, release)
            try:
                wait = gate.allow() if gate is not None else 0.0
                return held(item, wait) if wait else await self._send(item)
            finally:
                timer.cancel()
                release()

    async def lookup(self, items: Sequence[LookupItem]) -> list[LookupResult]:
        if self._twilio is None:
            await self.open()
        gate = asyncio.Semaphore(self.settings.lookup_concurrency)

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
            throttled=exc.status == TOO_MANY,  # slow down: Twilio is well
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
