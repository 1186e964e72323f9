"""Builds channel instances from the deployment's settings; drills get the simulator only."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from broadcaster.settings import Settings
from channels.base import Channel, ChannelError
from channels.registry import build_registry
from channels.sms_twilio import SmsTwilioSettings


@lru_cache(maxsize=1)
def registry() -> dict[str, type[Channel[Any]]]:
    """Channel classes by name, from the entry points (a broken registration fails here)."""
    return build_registry()


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


def channel_settings(name: str, settings: Settings, *, drill: bool) -> Any:
    """The settings model instance of one channel."""
    if name == "sms":
        twilio = settings.twilio
        return SmsTwilioSettings(
            account_sid=twilio.account_sid,
            auth_token=twilio.auth_token,
            from_number=twilio.from_number,
            messaging_service_sid=twilio.messaging_service_sid,
            api_base_url=provider_base_url(twilio.api_base_url, settings, drill=drill),
            timeout_seconds=settings.delivery.provider_timeout_seconds,
            concurrency=settings.delivery.concurrency,
        )
    cls = registry()[name]
    return cls.settings_model.model_validate(settings.channel_options.get(name, {}))


def build_channel(name: str, settings: Settings, *, drill: bool) -> Channel[Any]:
    """A new, unopened instance of the named channel."""
    classes = registry()
    if name not in classes:
        raise ChannelError(f"未知渠道 / unknown channel: {name}", code="unknown_channel")
    return classes[name](channel_settings(name, settings, drill=drill))
