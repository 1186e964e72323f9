"""Which provider carries a medium: the configured order (`media`), else the installed one."""

from __future__ import annotations

from pydantic import ValidationError

from broadcaster.delivery.channel_config import build_channel
from broadcaster.settings import Settings
from channels.base import ChannelError, Limits
from channels.registry import ChannelClass, providers_of


def configured_providers(medium: str, settings: Settings) -> list[ChannelClass]:
    """A medium's providers in the configured order (`media.<medium>`); unconfigured, every
    installed provider of it, the one registered under the medium's name first."""
    installed = providers_of(medium)
    order = settings.media.get(medium)
    if order is None:
        return list(installed.values())
    missing = [name for name in order if name not in installed]
    if missing:
        raise ChannelError(
            f"未安装的提供商 / provider {missing[0]} of {medium} is not installed "
            f"(installed: {', '.join(installed) or 'none'})",
            code="unknown_provider",
        )
    return [installed[name] for name in order]


def provider_for(medium: str, settings: Settings) -> ChannelClass:
    """The provider that carries a medium's next sends: its first configured one.

    The one place that chooses: failover (a provider down, the next one in order) goes here."""
    found = configured_providers(medium, settings)
    if not found:
        raise ChannelError(f"未知渠道 / unknown channel: {medium}", code="unknown_channel")
    return found[0]


def channel_limits(medium: str, settings: Settings) -> Limits:
    """The limits a medium's provider declares as configured (none when it cannot be built:
    sending fails with the reason anyway)."""
    try:
        return build_channel(provider_for(medium, settings).name, settings, drill=False).limits()
    except (ChannelError, ValidationError):
        return Limits()
