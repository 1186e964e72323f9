"""Builds provider instances from the deployment's settings, by one path for built-in and
third-party providers alike: the configuration sections a provider names, then its own
`channel_options.<name>` table, validated by its settings model; drills get the simulator."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from broadcaster.settings import Settings
from channels.base import Channel, ChannelError
from channels.config import Deployment
from channels.registry import ChannelClass, registered


def deployment(settings: Settings, *, drill: bool) -> Deployment:
    """What every provider may take from the deployment."""
    return Deployment(
        drill=drill,
        timeout_seconds=settings.delivery.provider_timeout_seconds,
        slow_after_seconds=settings.delivery.slow_after_seconds,
        concurrency=settings.delivery.concurrency,
        simulator_url=settings.simulator_url,
        simulator_smtp=settings.simulator_smtp,
        config_dir=settings.config_dir,
        public_base=settings.public_base_url.rstrip("/"),
    )


def provider_options(cls: ChannelClass, settings: Settings) -> dict[str, Any]:
    """A provider's configuration: its sections in order (a section of the settings, else a
    table of `channel_options`), then its own `channel_options.<name>`; later keys win."""
    options: dict[str, Any] = {}
    for section in cls.settings_sections:
        found = getattr(settings, section, None)
        if isinstance(found, BaseModel):
            options.update(found.model_dump())
        else:
            options.update(settings.channel_options.get(section, {}))
    options.update(settings.channel_options.get(cls.name, {}))
    return options


def channel_settings(name: str, settings: Settings, *, drill: bool) -> BaseModel:
    """The settings model instance of one provider."""
    cls = registered()[name]
    try:
        return cls.configure(provider_options(cls, settings), deployment(settings, drill=drill))
    except ValidationError as exc:
        raise ChannelError(
            f"渠道配置无效 / channel {name} misconfigured: {exc.errors()[0]}",
            code="channel_settings",
        ) from exc


def build_channel(name: str, settings: Settings, *, drill: bool) -> Channel[Any]:
    """A new, unopened instance of the named provider."""
    classes = registered()
    if name not in classes:
        raise ChannelError(f"未知渠道 / unknown channel: {name}", code="unknown_channel")
    return classes[name](channel_settings(name, settings, drill=drill))
