"""Voice calls through the Twilio Calls API, with the official `twilio` library."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

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
from channels.hooks import CALLBACK, CallScript, CallTurn, Hook, HookRequest
from channels.twilio_channel import TwilioAccount, TwilioChannel, attempt
from channels.twilio_hooks import (
    GATHER,
    HANGUP,
    TWIML,
    call_state,
    is_machine,
    voice_gather,
    voice_status,
    voice_twiml,
)
from channels.voice_twiml import call_twiml, gather_reply_twiml, say_language

CallEvent = Literal["initiated", "ringing", "answered", "completed"]
ALL_EVENTS: tuple[CallEvent, ...] = ("initiated", "ringing", "answered", "completed")
__all__ = ["VoiceTwilio", "VoiceTwilioSettings", "call_state", "is_machine"]


class VoiceSpeech(BaseModel):
    """How a call speaks (the deployment's `[voice]` section)."""

    speak_mode: Literal["say", "play"] = Field(
        default="say", description="play: our rendered audio (<Play>) when there is one."
    )
    say_voice: str | None = Field(
        default=None, description="A <Say> voice (e.g. Polly.Zhiyu); unset: the provider's default."
    )


class VoiceTwilioSettings(VoiceSpeech, TwilioAccount):
    machine_detection: Literal["Enable", "DetectMessageEnd"] | None = "Enable"
    async_amd: bool = Field(
        default=False, description="Detect machines in the background (verdict to the status URL)."
    )
    ring_seconds: int = Field(default=30, ge=5, le=600, description="Twilio's Timeout.")
    status_events: tuple[CallEvent, ...] = ALL_EVENTS
    per_number_per_minute: int = Field(default=1, ge=1, description="Calls to one number.")
    per_number_per_hour: int = Field(default=5, ge=1, description="Calls to one number.")


class VoiceTwilio(TwilioChannel[VoiceTwilioSettings]):
    """One call per phone (mobile or landline): the message, then key 1 safe, 2 help, 9 again.

    Each item needs extra["twiml_url"] (where Twilio fetches the call's TwiML) and should
    carry callback_url (the status callback, also used for an async AMD verdict). Settings:
    the `[twilio]` account, then the `[voice]` section."""

    name = "voice"
    label = "语音电话"
    settings_model = VoiceTwilioSettings
    settings_sections = ("twilio", "voice")
    capabilities = Capabilities(
        audience=Audience.person,
        confirmations=frozenset({"keypress"}),
        reach=Reach.phone,
        form=TextForm.spoken,
    )
    hooks: ClassVar[dict[str, Hook]] = {
        TWIML: Hook(voice_twiml, item_field="twiml_url"),
        GATHER: Hook(voice_gather),
        "voice/status": Hook(voice_status, item_field=CALLBACK),
    }

    @classmethod
    def configure(cls, options: dict[str, Any], deployment: Deployment) -> BaseModel:
        """`[voice] machine_detection = true` is Twilio's "Enable"."""
        detection = options.get("machine_detection")
        if isinstance(detection, bool):
            options = {**options, "machine_detection": "Enable" if detection else None}
        return super().configure(options, deployment)

    def call_document(self, turn: CallTurn, script: CallScript | None, request: HookRequest) -> str:
        """The call's TwiML: the alert spoken (or played), then one key; or the answer to the
        key pressed. Not one of our calls: hang up."""
        if script is None:
            return HANGUP
        s, d, attempt = self.settings, turn.delivery_id, turn.attempt
        language = say_language(script.language)
        replay_url = request.hook_url(TWIML, d, attempt=attempt + 1)
        if turn.digit is None:
            return call_twiml(
                script=script.text,
                audio_url=script.audio_url if s.speak_mode == "play" else None,
                gather_url=request.hook_url(GATHER, d, attempt=attempt),
                language=language,
                voice=s.say_voice,
                attempt=attempt,
                replay_url=replay_url,
            )
        return gather_reply_twiml(
            turn.digit,
            replay_url=replay_url,
            gather_url=request.hook_url(GATHER, d, attempt=attempt + 1),
            language=language,
            voice=s.say_voice,
            attempt=attempt,
        )

    def limits(self) -> Limits:
        """Carriers' per-number call limits (about 1 a minute, 5 an hour in China)."""
        s = self.settings
        return Limits(
            per_minute=s.per_number_per_minute,
            per_hour=s.per_number_per_hour,
            why="号码呼叫频次限制 / per-number call limit",
        )

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
        call = await attempt(
            item, self._twilio.client.calls.create_async(**self._call_options(item, str(twiml_url)))
        )
        if isinstance(call, SendResult):
            return call
        return SendResult(item.key, Outcome.accepted, provider_id=call.sid)

    async def _lookup(self, item: LookupItem) -> LookupResult:
        """Fetch a call of unknown or stale fate by its SID. A call carries no marker, so one
        placed without a known SID cannot be found here: its status callbacks (whose URL names
        the delivery) resolve it, or the household escalates."""
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
