"""The policy file checked at start-up: a level that would leave a household unaddressed is
refused, with the level and the reason (DESIGN §3.12)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from broadcaster.alerts.policy import PolicySnapshot, load_policies, parse_policy
from broadcaster.errors import ValidationFailed
from channels.base import Reach
from channels.registry import media, reach_of


class PolicyRefused(RuntimeError):
    """The policy file defines a level that leaves some household unaddressed."""


NO_VISIT = (
    "没有上门步骤（steps 中 visit = true），无电话的住户无人通知 / no visit step "
    "(visit = true in steps): a household without a phone would never be told"
)
NO_CALL = (
    "没有拨打座机的渠道，也没有上门步骤，仅有座机的住户无法送达 / no channel calls "
    "landlines and no visit step: a landline-only household would never be reached"
)
NO_PHONE = (
    "没有发送到手机的渠道，也没有上门步骤 / no channel reaches mobile phones and no visit step"
)


def problems(policy: PolicySnapshot) -> list[str]:
    """Why a level's policy would leave some household unaddressed (empty: it would not)."""
    installed = media()
    wide = [s.channel for s in policy.steps if s.channel and reach_of(s.channel).zone_wide]
    if wide:
        return [
            f"升级步骤针对住户，不能用 {', '.join(wide)} / escalation steps reach "
            f"households: {', '.join(wide)} reaches villages"
        ]
    if any(step.visit for step in policy.steps):
        return []  # whom no channel reaches is visited at once
    named = [*policy.start_channels, *(s.channel for s in policy.steps if s.channel)]
    reaches = {reach_of(c) for c in named if c in installed}
    found = [NO_VISIT]
    if Reach.phone not in reaches:
        found.append(NO_CALL)
    if not reaches & {Reach.mobile, Reach.phone}:
        found.append(NO_PHONE)
    return found


def refusals(tables: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per level the policy tables may not define, naming the level and why."""
    lines: list[str] = []
    for level, table in tables.items():
        try:
            found = problems(parse_policy(table))
        except ValidationFailed as exc:
            field = f" ({exc.field})" if exc.field else ""
            found = [f"{exc.message}{field}"]
        lines.extend(f"[{level}] {reason}" for reason in found)
    return lines


def check_policies(config_dir: Path) -> None:
    """Refuse to start on a policy file with a level that leaves a household unaddressed."""
    try:
        tables = load_policies(config_dir)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PolicyRefused(f"策略文件无法读取 / policy file unreadable: {exc}") from None
    lines = refusals(tables)
    if lines:
        path = config_dir / "policies.toml"
        raise PolicyRefused(
            f"策略文件被拒绝 / policy file refused: {path}\n" + "\n".join(f"  {x}" for x in lines)
        )
