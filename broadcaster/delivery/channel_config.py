"""Builds channel instances from the deployment's settings; drills get the simulator only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from broadcaster.settings import Settings
from channels.base import Channel, ChannelError, Limits
from channels.email_smtp import EmailSmtpSettings
from channels.loudspeaker.channel import LoudspeakerSettings
from channels.registry import registered
from channels.sms_twilio import SmsTwilioSettings
from channels.voice_twilio import VoiceTwilioSettings
from channels.wecom_group import WecomGroupSettings


def provider_base_url(configured: str | None, settings: Settings, *, drill: bool) -> str | None:
    """Where a channel sends: the configured provider, or for drills only the simulator."""
    if not drill:
        return configured
    if not settings.simulator_url:
        raise ChannelError(
            "演练只发往模拟器，但未配置模拟器 / drills go to the simulator only, and none is "
            "configured (BROADCASTER_SIMULATOR_URL)",
            code="drill_without_simulator",
        )
    return settings.simulator_url


def _twilio_timing(settings: Settings) -> dict[str, Any]:
    """Timeouts sized to the provider (its own setting, else the delivery default)."""
    return {
        "timeout_seconds": settings.twilio.timeout_seconds
        or settings.delivery.provider_timeout_seconds,
        "slow_after_seconds": settings.delivery.slow_after_seconds,
        "lookup_concurrency": settings.twilio.lookup_concurrency,
    }


def _sms(settings: Settings, drill: bool) -> BaseModel:
    twilio = settings.twilio
    return SmsTwilioSettings(
        account_sid=twilio.account_sid,
        auth_token=twilio.auth_token,
        from_number=twilio.from_number,
        messaging_service_sid=twilio.messaging_service_sid,
        api_base_url=provider_base_url(twilio.api_base_url, settings, drill=drill),
        concurrency=settings.delivery.concurrency,
        rate_per_second=twilio.rate_per_second or None,
        **_twilio_timing(settings),
    )


def _voice(settings: Settings, drill: bool) -> BaseModel:
    twilio, voice = settings.twilio, settings.voice
    return VoiceTwilioSettings(
        account_sid=twilio.account_sid,
        auth_token=twilio.auth_token,
        from_number=twilio.from_number,
        api_base_url=provider_base_url(twilio.api_base_url, settings, drill=drill),
        concurrency=voice.concurrency,
        **_twilio_timing(settings),
        speak_mode=voice.speak_mode,
        say_voice=voice.say_voice,
        machine_detection="Enable" if voice.machine_detection else None,
        per_number_per_minute=voice.per_number_per_minute,
        per_number_per_hour=voice.per_number_per_hour,
    )


def _wecom(settings: Settings, drill: bool) -> BaseModel:
    base = provider_base_url(settings.wecom.api_base_url, settings, drill=drill)
    return WecomGroupSettings(
        api_base_url=base or settings.wecom.api_base_url,
        message_type=settings.wecom.message_type,
        timeout_seconds=settings.delivery.provider_timeout_seconds,
    )


def _email(settings: Settings, drill: bool) -> BaseModel:
    email = settings.email
    host, port, security = email.host, email.port, email.security
    if drill:
        if not settings.simulator_smtp:
            raise ChannelError(
                "演练邮件只发往模拟器 / drill emails go to the simulator's SMTP "
                "sink only (BROADCASTER_SIMULATOR_SMTP)",
                code="drill_without_simulator",
            )
        host, _, port_text = settings.simulator_smtp.rpartition(":")
        port, security = int(port_text), "none"
    return EmailSmtpSettings(
        host=host,
        port=port,
        username=None if drill else email.username,
        password=None if drill else email.password,
        security=security,
        from_address=email.from_address,
        timeout_seconds=settings.delivery.provider_timeout_seconds * 3,
    )


def _loudspeaker(settings: Settings, drill: bool) -> BaseModel:
    push = provider_base_url(None, settings, drill=True) if drill else None
    return LoudspeakerSettings(
        drill_push_url=f"{push}/ipcast/play" if push else None,
        timeout_seconds=settings.delivery.provider_timeout_seconds,
    )


BUILT_IN: dict[str, Callable[[Settings, bool], BaseModel]] = {
    "sms": _sms,
    "voice": _voice,
    "wecom_group": _wecom,
    "email": _email,
    "loudspeaker": _loudspeaker,
    "relay": _sms,  # group owners are texted through the SMS provider
}


def channel_settings(name: str, settings: Settings, *, drill: bool) -> BaseModel:
    """The settings model instance of one channel (third parties: `channel_options`)."""
    if name in BUILT_IN:
        return BUILT_IN[name](settings, drill)
    try:
        return registered()[name].settings_model.model_validate(
            settings.channel_options.get(name, {})
        )
    except ValidationError as exc:
        raise ChannelError(
            f"渠道配置无效 / channel {name} misconfigured: {exc.errors()[0]}",
            code="channel_settings",
        ) from exc


def build_channel(name: str, settings: Settings, *, drill: bool) -> Channel[Any]:
    """A new, unopened instance of the named channel."""
    classes = registered()
    if name not in classes:
        raise ChannelError(f"未知渠道 / unknown channel: {name}", code="unknown_channel")
    return classes[name](channel_settings(name, settings, drill=drill))


def channel_limits(name: str, settings: Settings) -> Limits:
    """The limits the named channel declares as configured (none when it cannot be built:
    sending it fails with the reason anyway)."""
    try:
        return build_channel(name, settings, drill=False).limits()
    except (ChannelError, ValidationError):
        return Limits()
