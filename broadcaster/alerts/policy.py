"""Per-level policies from config/policies.toml, snapshotted onto each alert at issue."""

from __future__ import annotations

import copy
import datetime as dt
import re
import tomllib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from broadcaster.alerts.models import AlertSource, Level
from broadcaster.errors import ValidationFailed
from broadcaster.registry.importer.values import VULNERABILITY_FLAGS

DEFAULT_POLICY = Path(__file__).with_name("default_policy.toml")  # packaged configuration
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, None: 1}
# Error types whose message is already ours.
_OURS = frozenset({"duration", "step", "vulnerability"})


def _duration(value: Any) -> dt.timedelta:
    """A duration given as seconds (number) or text like "90s", "10m", "1h"."""
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, int | float) and value >= 0:
        return dt.timedelta(seconds=float(value))
    match = _DURATION.match(str(value))
    if not match:
        raise PydanticCustomError(
            "duration", "无效时长 / bad duration {value}", {"value": repr(value)}
        )
    return dt.timedelta(seconds=float(match.group(1)) * _UNIT[match.group(2)])


Duration = Annotated[dt.timedelta, BeforeValidator(_duration)]


class PolicyStep(BaseModel):
    """One escalation step: after `after` from issue, `channel` again or a door `visit`."""

    model_config = ConfigDict(frozen=True)

    after: Duration = dt.timedelta(0)
    channel: str | None = None
    visit: bool = False

    @model_validator(mode="after")
    def _channel_or_visit(self) -> PolicyStep:
        if not self.visit and not self.channel:
            raise PydanticCustomError(
                "step", "步骤需要 channel 或 visit / a step needs a channel or visit"
            )
        return self


class PolicySnapshot(BaseModel):
    """A level's policy, typed: what an alert carries for its whole life.

    The alert stores the level's table as written in policies.toml (unknown keys are kept
    there and ignored here); `parse_policy` reads it back. The keys are explained at the
    top of config/policies.toml."""

    model_config = ConfigDict(frozen=True)

    channels: tuple[str, ...] | None = None
    approval: dict[str, bool] = Field(default_factory=dict)
    two_person: bool = False
    steps: tuple[PolicyStep, ...] = ()
    visit_vulnerable_at_once: bool = False
    visit_reassign_after: Duration = dt.timedelta(minutes=30)
    relay_after: Duration | None = None
    loudspeaker_plays: int = 1
    # A correction (new text, a lower level) asks confirmed households again only when true;
    # a raised level or an evacuation order always does.
    reconfirm_corrections: bool = False
    # A proxy's (代联系人) confirmation of a household with any of these vulnerabilities is
    # kept but not final: the household still gets a visit. [] makes every one final.
    proxy_still_visit: tuple[str, ...] = ("bedridden", "elderly_alone")

    @field_validator("proxy_still_visit")
    @classmethod
    def _known_flags(cls, flags: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(flags) - set(VULNERABILITY_FLAGS))
        if unknown:
            raise PydanticCustomError(
                "vulnerability",
                "未知重点人群类别 / unknown vulnerability: {flags} (known: {known})",
                {"flags": ", ".join(unknown), "known": ", ".join(VULNERABILITY_FLAGS)},
            )
        return flags

    def proxy_is_final(self, vulnerability: list[str]) -> bool:
        """Whether a proxy's confirmation settles a household with these flags."""
        return not set(vulnerability) & set(self.proxy_still_visit)

    @property
    def start_channels(self) -> tuple[str, ...]:
        """The channels used at t+0 unless the alert names its own (the built-in policy's,
        default_policy.toml, when none given)."""
        return tuple(_built_in()["channels"]) if self.channels is None else self.channels


def _field(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as the policy key it names: steps[0].after."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def parse_policy(stored: Mapping[str, Any] | None) -> PolicySnapshot:
    """The typed policy of a stored snapshot (or a policies.toml table); a ValidationFailed
    naming the key when it is wrong."""
    try:
        return PolicySnapshot.model_validate(dict(stored or {}))
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        message = error["msg"]
        if error["type"] not in _OURS:  # pydantic's own words: say what they are about
            message = f"策略无效 / bad policy: {message}"
        raise ValidationFailed(message, field=_field(error["loc"])) from None


@lru_cache(maxsize=1)
def _built_in() -> dict[str, Any]:
    with DEFAULT_POLICY.open("rb") as handle:
        return tomllib.load(handle)


def default_table() -> dict[str, Any]:
    """A level the file leaves out (or no file): the built-in policy, default_policy.toml
    (SMS, and a door visit for whoever is not confirmed after 30 minutes — and at once for
    whom no SMS can reach); a fresh copy, the caller's to keep."""
    return copy.deepcopy(_built_in())


def load_policies(config_dir: Path) -> dict[str, dict[str, Any]]:
    """The policy table of every level (`default_table` for a level the file leaves out)."""
    path = config_dir / "policies.toml"
    if not path.is_file():
        return {level.value: default_table() for level in Level}
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    return {level.value: dict(data.get(level.value, default_table())) for level in Level}


def snapshot(config_dir: Path, level: Level) -> dict[str, Any]:
    """The policy table an alert of this level stores for its whole life (as JSON, exactly as
    written in policies.toml); read it with `parse_policy`."""
    return load_policies(config_dir)[level.value]


def choose_channels(
    requested: list[str] | None, policy: PolicySnapshot, available: set[str]
) -> list[str]:
    """The requested channels (each must exist), else the policy's."""
    channels = list(dict.fromkeys(requested or policy.start_channels))
    unknown = [c for c in channels if c not in available]
    if unknown:
        raise ValidationFailed(
            f"未知渠道 / unknown channel: {', '.join(unknown)} "
            f"(available: {', '.join(sorted(available))})",
            field="channels",
        )
    return channels


def needs_approval(policy: PolicySnapshot, source: AlertSource) -> bool:
    """Does an alert of this policy and source wait for an officer before anything is sent?

    `approval = {feed = true, officer = false}` decides per source; `two_person = true` makes
    an alert issued by a person wait for a second person as well.
    """
    if policy.approval.get(source.value, False):
        return True
    return source is AlertSource.officer and policy.two_person
