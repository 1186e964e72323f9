"""Loads channel classes from the `broadcaster.channels` entry points into a name registry."""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from channels.base import Channel, Reach

GROUP = "broadcaster.channels"


class ChannelRegistryError(RuntimeError):
    """A broken channel registration; raised at start-up, never later."""


def build_registry(points: list[EntryPoint] | None = None) -> dict[str, type[Channel]]:  # type: ignore[type-arg]
    """Map each channel name to its class; a duplicate name or a non-channel is an error."""
    found: dict[str, type[Channel]] = {}  # type: ignore[type-arg]
    for point in points if points is not None else list(entry_points(group=GROUP)):
        cls = point.load()
        if not (isinstance(cls, type) and issubclass(cls, Channel)):
            raise ChannelRegistryError(f"entry point {point.name!r} is not a Channel class")
        if point.name != cls.name:
            raise ChannelRegistryError(
                f"entry point {point.name!r} loads channel named {cls.name!r}"
            )
        if cls.name in found and found[cls.name] is not cls:
            raise ChannelRegistryError(f"two channels are registered as {cls.name!r}")
        found[cls.name] = cls
    return found


@lru_cache(maxsize=1)
def registered() -> dict[str, type[Channel[Any]]]:
    """The installed channels by name (read once; a broken registration fails here)."""
    return build_registry()


def reach_of(name: str) -> Reach:
    """The addresses a channel's items go to; an unknown name reaches mobile numbers."""
    cls = registered().get(name)
    return cls.capabilities.addresses if cls is not None else Reach.mobile


def channel_for(reach: Reach) -> str | None:
    """The installed channel that reaches these addresses (the first by name), if any."""
    names = sorted(n for n, c in registered().items() if c.capabilities.addresses is reach)
    return names[0] if names else None
