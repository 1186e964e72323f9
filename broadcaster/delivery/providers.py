"""Which provider carries a medium: the configured order (`media`), else the installed one."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

from broadcaster.delivery.channel_config import build_channel
from broadcaster.settings import Settings
from channels.base import ChannelError, Limits
from channels.registry import ChannelClass, providers_of


def configured_providers(medium: str, settings: Settings) -> list[ChannelClass]:
    """A medium's providers in the configured order (`media.<medium>`); unconfigured, its
    installed default alone (the one registered under the medium's name, else the first by
    name): failover runs only along a list someone configured, never to a provider nobody
    set up."""
    installed = providers_of(medium)
    order = settings.media.get(medium)
    if order is None:
        return list(installed.values())[:1]
    missing = [name for name in order if name not in installed]
    if missing:
        raise ChannelError(
            f"未安装的提供商 / provider {missing[0]} of {medium} is not installed "
            f"(installed: {', '.join(installed) or 'none'})",
            code="unknown_provider",
        )
    return [installed[name] for name in order]


def provider_for(
    medium: str, settings: Settings, usable: Callable[[ChannelClass], bool] | None = None
) -> ChannelClass:
    """The provider that carries a medium's next sends: its first configured one that is
    `usable` (its circuit breaker not open); when none is, the first (its breaker holds the
    items back, queued, until one recovers).

    The one place that chooses, so failover is safe: a batch leased for a provider is sent by
    it or not at all (items held back go back to the queue, sent nowhere); an item whose fate
    is unknown is looked up at the provider of its attempt before anything is sent again."""
    found = configured_providers(medium, settings)
    if not found:
        raise ChannelError(f"未知渠道 / unknown channel: {medium}", code="unknown_channel")
    if usable is not None:
        for cls in found:
            if usable(cls):
                return cls
    return found[0]


def provider_named(medium: str, provider: str) -> ChannelClass:
    """The installed provider of a medium by its provider name (who carried an attempt)."""
    installed = providers_of(medium)
    if provider in installed:
        return installed[provider]
    by_name = {cls.name: cls for cls in installed.values()}  # attempts before 0014 name it
    if provider in by_name:
        return by_name[provider]
    raise ChannelError(
        f"未安装的提供商 / provider {provider} of {medium} is not installed",
        code="unknown_provider",
    )


def channel_limits(medium: str, settings: Settings) -> Limits:
    """The limits a medium's provider declares as configured (none when it cannot be built:
    sending fails with the reason anyway)."""
    try:
        return build_channel(provider_for(medium, settings).name, settings, drill=False).limits()
    except (ChannelError, ValidationError):
        return Limits()
