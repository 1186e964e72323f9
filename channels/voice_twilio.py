"""Voice calls through the Twilio Calls API, with the official `twilio` library."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Literal

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
from channels.twilio_http import AsyncTwilio

# Twilio answers that mean "nothing was placed, try again later".
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IN_FLIGHT = frozenset({"queued", "initiated", "ringing", "in-progress"})
UNANSWERED = frozenset({"busy", "no-answer", "failed", "canceled"})
CallEvent = Literal["initiated", "ringing", "answered", "completed"]
ALL_EVENTS: tuple[CallEvent, ...] = ("initiated", "ringing", "answered", "completed")


def is_machine(answered_by: str | None) -> bool:
    """Whether answering-machine detection heard a machine (or a fax), not a person."""
    return bool(answered_by) and (str(answered_by).startswith("machine") or answered_by == "fax")


def call_state(
    status: str | None, answered_by: str | None
) -> tuple[ProviderState, str | None] | None:
    """Our state and error code for a call's status and AMD verdict; None if it says nothing.

    A person answered (completed, AnsweredBy human/unknown/absent) → delivered; a machine
    answered → failed "machine"; busy/no-answer/failed/canceled → failed with that code;
    a call on its way → sent. An async AMD verdict comes without a status."""
    if status in UNANSWERED:
        return ProviderState.failed, status
    if is_machine(answered_by):
        return ProviderState.failed, "machine"
    if status == "completed":
        return ProviderState.delivered, None
    if status in IN_FLIGHT:
        return ProviderState.sent, None
    return None


class VoiceSpeech(BaseModel):
    """How a call speaks; the TwiML webhook reads these from the voice channel options."""

    speak_mode: Literal["say", "play"] = Field(
        default="say", description="play: our rendered audio (<Play>) when there is one."
    )
    say_voice: str | None = Field(
        default=None, description="A <Say> voice (e.g. Polly.Zhiyu); unset: the provider's default."
    )


class VoiceTwilioSettings(VoiceSpeech):
    account_sid: str
    auth_token: SecretStr
    from_number: str
    api_base_url: str | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)
    concurrency: int = Field(default=20, ge=1)
    machine_detection: Literal["Enable", "DetectMessageEnd"] | None = "Enable"
    async_amd: bool = Field(
        default=False, description="Detect machines in the background (verdict to the status URL)."
    )
    ring_seconds: int = Field(default=30, ge=5, le=600, description="Twilio's Timeout.")
    status_events: tuple[CallEvent, ...] = ALL_EVENTS


class VoiceTwilio(Channel[VoiceTwilioSettings]):
    """One call per phone (mobile or landline): the message, then key 1 safe, 2 help, 9 again.

    Each item needs extra["twiml_url"] (where Twilio fetches the call's TwiML) and should
    carry callback_url (the status callback, also used for an async AMD verdict)."""

    name = "voice"
    settings_model = VoiceTwilioSettings
    capabilities = Capabilities(audience=Audience.person, confirmations=frozenset({"keypress"}))

    def __init__(self, settings: VoiceTwilioSettings) -> None:
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

    def _call_options(self, item: SendItem, twiml_url: str) -> dict[str, Any]:
        s = self.settings
        options: dict[str, Any] = {
            "to": item.address,
            "from_": s.from_number,
            "url": twiml_url,
            "method": "POST",
            "timeout": s.ring_seconds,
        }
        if item.callback_url:
            options["status_callback"] = item.callback_url
            options["status_callback_method"] = "POST"
            options["status_callback_event"] = list(s.status_events)
        if s.machine_detection:
            options["machine_detection"] = s.machine_detection
            if s.async_amd and item.callback_url:
                options["async_amd"] = "true"
                options["async_amd_status_callback"] = item.callback_url
                options["async_amd_status_callback_method"] = "POST"
        return options

    async def _send(self, item: SendItem) -> SendResult:
        assert self._twilio is not None
        twiml_url = item.extra.get("twiml_url")
        if not twiml_url:
            return SendResult(
                item.key,
                Outcome.failed,
                error_code="no_twiml_url",
                message="呼叫缺少 TwiML 地址 / the call has no TwiML URL",
            )
        try:
            call = await self._twilio.client.calls.create_async(
                **self._call_options(item, str(twiml_url))
            )
        except TwilioRestException as exc:
            code = str(exc.code or exc.status)
            outcome = Outcome.retry if exc.status in RETRY_STATUSES else Outcome.failed
            return SendResult(item.key, outcome, error_code=code, message=str(exc.msg)[:200])
        except aiohttp.ClientConnectorError as exc:  # never reached the provider
            return SendResult(
                item.key,
                Outcome.retry,
                error_code="connection",
                message=f"连接失败 / connection failed: {type(exc).__name__}",
            )
        except (TimeoutError, aiohttp.ClientError) as exc:  # maybe placed: fate unknown
            return SendResult(
                item.key,
                Outcome.unknown,
                error_code="timeout",
                message=f"提供商未应答 / no answer: {type(exc).__name__}",
            )
        return SendResult(item.key, Outcome.accepted, provider_id=call.sid)

    async def lookup(self, items: Sequence[LookupItem]) -> list[LookupResult]:
        """Fetch calls of unknown or stale fate by their SID. A call carries no marker, so
        one placed without a known SID cannot be found here: its status callbacks (whose
        URL names the delivery) resolve it, or the household escalates."""
        if self._twilio is None:
            await self.open()
        gate = asyncio.Semaphore(min(10, self.settings.concurrency))

        async def one(item: LookupItem) -> LookupResult:
            async with gate:
                return await self._lookup(item)

        return list(await asyncio.gather(*(one(item) for item in items)))

    async def _lookup(self, item: LookupItem) -> LookupResult:
        assert self._twilio is not None
        if not item.provider_id:
            return LookupResult(item.key, None)
        try:
            call = await self._twilio.client.calls(item.provider_id).fetch_async()
        except TwilioRestException as exc:
            return LookupResult(item.key, False if exc.status == 404 else None)
        except (TimeoutError, aiohttp.ClientError):
            return LookupResult(item.key, None)
        found = call_state(call.status, call.answered_by) or (ProviderState.sent, None)
        return LookupResult(item.key, True, call.sid, found[0], found[1])
