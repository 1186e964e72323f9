"""One validated CAP alert as the service would take it in: what, how bad, where, and its kind."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

from broadcaster.alerts.models import AlertStatus, Hazard, Level, MsgType
from broadcaster.feeds.cap.errors import CapError, CapInvalid
from broadcaster.feeds.cap.identifiers import GbtIdentifier, parse_gbt_identifier
from broadcaster.feeds.cap.mapping import (
    DEFAULT_HAZARD_KEYWORDS,
    DEFAULT_SEVERITY_LEVELS,
    AreaSpec,
    HazardKeywords,
    area_of,
    choose_info_index,
    hazard_of,
    level_of,
    msg_type_of,
    status_of,
)
from broadcaster.feeds.cap.model import Alert, Category, Reference, Scope, Severity

T = TypeVar("T")


@dataclass(frozen=True)
class MappingRules:
    """What a deployment may tune; the defaults follow the brief and China's colour scheme."""

    severity_levels: Mapping[Severity, Level] = field(
        default_factory=lambda: DEFAULT_SEVERITY_LEVELS
    )
    hazard_keywords: HazardKeywords = DEFAULT_HAZARD_KEYWORDS
    hazard_categories: Mapping[Category, Hazard] = field(
        default_factory=lambda: MappingProxyType({})
    )
    preferred_languages: tuple[str, ...] = ("zh-CN", "zh")
    # A Restricted or Private CAP message is not meant for every household.
    scopes: frozenset[Scope] = frozenset({Scope.public})


@dataclass(frozen=True)
class FeedContent:
    """The broadcast content taken from the chosen info block."""

    info_index: int
    language: str
    hazard: Hazard
    level: Level
    event: str
    headline: str
    body: str
    instruction: str
    sender_name: str | None
    web: str | None
    expires: dt.datetime | None
    area: AreaSpec


@dataclass(frozen=True)
class FeedAlert:
    """A CAP alert in the service's terms; `content` is None only for a Cancel without info."""

    identifier: str
    sender: str
    sent: dt.datetime
    status: AlertStatus
    msg_type: MsgType
    references: tuple[Reference, ...]
    national_id: GbtIdentifier | None
    content: FeedContent | None

    @property
    def is_drill(self) -> bool:
        return self.status.is_drill


def to_feed_alert(alert: Alert, rules: MappingRules | None = None) -> FeedAlert:
    """Map a validated alert, or raise CapInvalid listing every reason it cannot be taken in."""
    rules = rules or MappingRules()
    problems: list[CapError] = []
    status = _attempt(problems, lambda: status_of(alert))
    msg_type = _attempt(problems, lambda: msg_type_of(alert))
    if alert.scope not in rules.scopes:
        allowed = ", ".join(sorted(scope.value for scope in rules.scopes))
        problems.append(
            CapError(
                "alert/scope",
                f"范围 {alert.scope.value} 不用于向住户广播（接受：{allowed}）/ "
                f"scope {alert.scope.value} is not broadcast to households (accepted: {allowed})",
            )
        )
    content = None
    if alert.infos or msg_type is not MsgType.cancel:
        content = _attempt(problems, lambda: _content(alert, rules))
    if problems:
        raise CapInvalid(problems)
    assert status is not None
    assert msg_type is not None
    return FeedAlert(
        identifier=alert.identifier,
        sender=alert.sender,
        sent=alert.sent,
        status=status,
        msg_type=msg_type,
        references=alert.references,
        national_id=parse_gbt_identifier(alert.identifier),
        content=content,
    )


def _attempt(problems: list[CapError], step: Callable[[], T]) -> T | None:
    try:
        return step()
    except CapError as exc:
        problems.extend(exc.problems)
        return None


def _content(alert: Alert, rules: MappingRules) -> FeedContent:
    index = choose_info_index(alert, rules.preferred_languages)
    info = alert.infos[index]
    try:
        level = level_of(info, rules.severity_levels)
    except CapError as exc:
        raise CapError(f"alert/info[{index}]/severity", exc.reason) from exc
    headline = info.headline or info.event
    return FeedContent(
        info_index=index,
        language=info.language,
        hazard=hazard_of(info, rules.hazard_keywords, rules.hazard_categories),
        level=level,
        event=info.event,
        headline=headline,
        body=info.description or headline,
        instruction=info.instruction or "",
        sender_name=info.sender_name,
        web=info.web,
        expires=info.expires,
        area=area_of(info),
    )
