"""SMS through the Twilio Messages API, with the official `twilio` library."""

from __future__ import annotations

from typing import Any, ClassVar

import aiohttp
from pydantic import BaseModel, Field
from twilio.base.exceptions import TwilioRestException

from channels.base import (
    Audience,
    Capabilities,
    Limits,
    LookupItem,
    LookupResult,
    Outcome,
    ProviderState,
    Reach,
    SendItem,
    SendResult,
    TextForm,
)
from channels.config import Deployment
from channels.hooks import CALLBACK, Hook
from channels.sms_text import segments
from channels.twilio_channel import TwilioAccount, TwilioChannel, attempt
from channels.twilio_hooks import MESSAGE_STATES, sms_inbound, sms_status

LOOKUP_DEPTH = 50


class SmsTwilioSettings(TwilioAccount):
    messaging_service_sid: str | None = None
    concurrency: int = Field(default=100, ge=1)
    rate_per_second: float | None = Field(
        default=None, gt=0, description="Messages per second on this account (its MPS)."
    )


class SmsTwilio(TwilioChannel[SmsTwilioSettings]):
    """One SMS per person; replies and links carry the confirmation."""

    name = "sms"
    label = "短信"
    settings_model = SmsTwilioSettings
    capabilities = Capabilities(
        audience=Audience.person,
        confirmations=frozenset({"sms_reply", "link"}),
        max_body_chars=670,
        reach=Reach.mobile,
        form=TextForm.short_text,
    )
    hooks: ClassVar[dict[str, Hook]] = {
        "sms/status": Hook(sms_status, item_field=CALLBACK),
        "sms/inbound": Hook(sms_inbound),
    }

    @classmethod
    def configure(cls, options: dict[str, Any], deployment: Deployment) -> BaseModel:
        """The account's rate: 0 or unset is no limit."""
        return super().configure(
            {**options, "rate_per_second": options.get("rate_per_second") or None}, deployment
        )

    def limits(self) -> Limits:
        """The account's message rate, shared by every channel texting through it."""
        return Limits(
            rate_per_second=self.settings.rate_per_second, credential=self.settings.account_sid
        )

    async def _send(self, item: SendItem) -> SendResult:
        assert self._twilio is not None
        sender: dict[str, str] = (
            {"messaging_service_sid": self.settings.messaging_service_sid}
            if self.settings.messaging_service_sid
            else {"from_": self.settings.from_number}
        )
        parts = segments(item.body)
        message = await attempt(
            item,
            self._twilio.client.messages.create_async(
                to=item.address, body=item.body, status_callback=item.callback_url, **sender
            ),
            {"segments": parts},
        )
        if isinstance(message, SendResult):
            return message
        return SendResult(
            item.key,
            Outcome.accepted,
            provider_id=message.sid,
            detail={"segments": int(message.num_segments or parts)},
        )

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
        state = MESSAGE_STATES.get(message.status or "", ProviderState.sent)
        code = str(message.error_code) if message.error_code else None
        return LookupResult(item.key, True, message.sid, state, code)
