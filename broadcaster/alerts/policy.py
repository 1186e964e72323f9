"""Per-level policies from config/policies.toml, snapshotted onto each alert at issue."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from broadcaster.alerts.models import Level
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
