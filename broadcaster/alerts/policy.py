"""Per-level policies from config/policies.toml, snapshotted onto each alert at issue."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from broadcaster.alerts.models import AlertSource, Level
from broadcaster.errors import ValidationFailed

DEFAULT_CHANNELS = ["sms"]


def load_policies(config_dir: Path) -> dict[str, dict[str, Any]]:
    """The policy of every level (an absent file means SMS only)."""
    path = config_dir / "policies.toml"
    if not path.is_file():
        return {level.value: {"channels": DEFAULT_CHANNELS} for level in Level}
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    return {
        level.value: dict(data.get(level.value, {"channels": DEFAULT_CHANNELS})) for level in Level
    }


def snapshot(config_dir: Path, level: Level) -> dict[str, Any]:
    """The policy an alert of this level carries for its whole life."""
    return load_policies(config_dir)[level.value]


def choose_channels(
    requested: list[str] | None, policy: dict[str, Any], available: set[str]
) -> list[str]:
    """The requested channels (each must exist), else the policy's."""
    channels = list(dict.fromkeys(requested or policy.get("channels", DEFAULT_CHANNELS)))
    unknown = [c for c in channels if c not in available]
    if unknown:
        raise ValidationFailed(
            f"未知渠道 / unknown channel: {', '.join(unknown)} "
            f"(available: {', '.join(sorted(available))})",
            field="channels",
        )
    return channels


def needs_approval(snapshot: dict[str, Any], source: AlertSource) -> bool:
    """Does an alert of this policy and source wait for an officer before anything is sent?

    `approval = {feed = true, officer = false}` decides per source; `two_person = true` makes
    an alert issued by a person wait for a second person as well.
    """
    approval = snapshot.get("approval", {})
    if isinstance(approval, dict) and approval.get(source.value, False):
        return True
    return source is AlertSource.officer and bool(snapshot.get("two_person", False))
