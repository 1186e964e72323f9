"""Loads channel classes from the `broadcaster.channels` entry points: providers by name, the
media they serve, and their webhook routes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from channels.base import Channel, Reach
from channels.hooks import Hook

GROUP = "broadcaster.channels"
ChannelClass = type[Channel[Any]]


class ChannelRegistryError(RuntimeError):
    """A broken channel registration; raised at start-up, never later."""


def build_registry(points: list[EntryPoint] | None = None) -> dict[str, ChannelClass]:
    """Map each channel name to its class; a duplicate name, a non-channel, two providers of
    one medium under one provider name or disagreeing on its addresses or text form, and one
    webhook route declared twice are errors."""
    found: dict[str, ChannelClass] = {}
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
    _tables(found)  # the media and routes must be consistent too
    return found


@lru_cache(maxsize=1)
def registered() -> dict[str, ChannelClass]:
    """The installed channel classes by name (read once; a broken registration fails here)."""
    return build_registry()


@dataclass(frozen=True)
class Tables:
    """What the registry derives from the installed classes."""

    media: dict[str, dict[str, ChannelClass]]  # medium → provider → class, default order
    speakers: dict[str, ChannelClass]  # medium → its first provider
    routes: dict[tuple[str, str], tuple[ChannelClass, Hook]]  # (provider, kind) → owner


_memo: tuple[dict[str, ChannelClass], Tables] | None = None


def _tables(classes: dict[str, ChannelClass]) -> Tables:
    media: dict[str, dict[str, ChannelClass]] = {}
    routes: dict[tuple[str, str], tuple[ChannelClass, Hook]] = {}
    # the provider registered under the medium's own name comes first, then by name
    for name, cls in sorted(classes.items(), key=lambda kv: (kv[0] != kv[1].medium, kv[0])):
        providers = media.setdefault(cls.medium, {})
        if cls.provider in providers:
            raise ChannelRegistryError(
                f"two providers {cls.provider!r} of medium {cls.medium!r}: "
                f"{providers[cls.provider].name!r} and {name!r}"
            )
        first = next(iter(providers.values()), None)
        if first is not None and first.capabilities.addresses is not cls.capabilities.addresses:
            raise ChannelRegistryError(
                f"providers of medium {cls.medium!r} reach different addresses: "
                f"{first.name!r} and {name!r}"
            )
        if first is not None and first.capabilities.text_form != cls.capabilities.text_form:
            raise ChannelRegistryError(
                f"providers of medium {cls.medium!r} carry different text forms: "
                f"{first.name!r} and {name!r}"
            )
        providers[cls.provider] = cls
        for kind, hook in cls.__dict__.get("hooks", {}).items():  # hooks it declares itself
            route = (cls.provider, kind)
            if route in routes:
                raise ChannelRegistryError(
                    f"webhook /hooks/{cls.provider}/{kind} declared by {routes[route][0].name!r} "
                    f"and {name!r}"
                )
            routes[route] = (cls, hook)
    speakers = {medium: next(iter(providers.values())) for medium, providers in media.items()}
    return Tables(media, speakers, routes)


def tables() -> Tables:
    """The derived tables of the installed channels (recomputed when the registry is)."""
    global _memo
    classes = registered()
    if _memo is None or _memo[0] is not classes:
        _memo = (classes, _tables(classes))
    return _memo[1]


def media() -> dict[str, ChannelClass]:
    """Each installed medium with the class that speaks for it (its first provider): what
    alerts, policies and deliveries name, its label and the addresses it reaches."""
    return dict(tables().speakers)


def providers_of(medium: str) -> dict[str, ChannelClass]:
    """The installed providers of a medium by provider name, in their default order."""
    return dict(tables().media.get(medium, {}))


def hook_route(provider: str, kind: str) -> tuple[ChannelClass, Hook] | None:
    """The class that declares the webhook /hooks/{provider}/{kind}, and the hook."""
    return tables().routes.get((provider, kind))


def reach_of(medium: str) -> Reach:
    """The addresses a medium's items go to; an unknown medium reaches mobile numbers."""
    cls = tables().speakers.get(medium)
    return cls.capabilities.addresses if cls is not None else Reach.mobile


def form_of(medium: str) -> str | None:
    """The text form a medium's items carry (channels.base.TextForm); None for a name that
    is no installed medium."""
    cls = tables().speakers.get(medium)
    return cls.capabilities.text_form if cls is not None else None


def providers_in_use(configured: Mapping[str, Sequence[str]]) -> set[str]:
    """The providers that carry some medium: each configured medium's list (`media`), and
    for an installed medium left out its default provider (the one that speaks for it)."""
    used = {provider for order in configured.values() for provider in order}
    used.update(cls.provider for medium, cls in media().items() if medium not in configured)
    return used


def channel_for(reach: Reach) -> str | None:
    """The installed medium that reaches these addresses (the first by name), if any."""
    names = sorted(n for n, c in media().items() if c.capabilities.addresses is reach)
    return names[0] if names else None
