"""The escalation part of a level's policy: timed steps (another channel, or a door visit)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from broadcaster.errors import ValidationFailed
from channels.registry import reach_of

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, None: 1}


def seconds(value: Any, *, field: str) -> float:
    """A duration given as seconds (number) or text like "90s", "10m", "1h"."""
    if isinstance(value, int | float) and value >= 0:
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValidationFailed(f"无效时长 / bad duration {value!r}", field=field)
    return float(match.group(1)) * _UNIT[match.group(2)]


@dataclass(frozen=True)
class Step:
    """After `after` from issue, households not yet final get `channel`, or a visit task."""

    after: dt.timedelta
    channel: str | None = None

    @property
    def is_visit(self) -> bool:
        return self.channel is None


@dataclass(frozen=True)
class Escalation:
    steps: tuple[Step, ...]
    visit_vulnerable_at_once: bool
    reassign_after: dt.timedelta

    def step(self, stage: int) -> Step | None:
        return self.steps[stage] if stage < len(self.steps) else None

    def next_time(self, issued_at: dt.datetime, stage: int) -> dt.datetime | None:
        """When a household at `stage` is next due, or None after the last step."""
        step = self.step(stage)
        return issued_at + step.after if step else None


def escalation(policy: dict[str, Any]) -> Escalation:
    """The escalation of a policy snapshot; a policy without steps never escalates."""
    steps = []
    for index, raw in enumerate(policy.get("steps", [])):
        field = f"steps[{index}]"
        after = dt.timedelta(seconds=seconds(raw.get("after", 0), field=field + ".after"))
        if raw.get("visit"):
            steps.append(Step(after))
        elif raw.get("channel") and reach_of(str(raw["channel"])).zone_wide:
            raise ValidationFailed(
                "升级步骤针对住户：请用短信、电话或邮件 / escalation steps "
                "reach households: use sms, voice or email",
                field=field,
            )
        elif raw.get("channel"):
            steps.append(Step(after, str(raw["channel"])))
        else:
            raise ValidationFailed(
                "步骤需要 channel 或 visit / a step needs a channel or visit", field=field
            )
    ordered = tuple(sorted(steps, key=lambda s: s.after))
    reassign = seconds(policy.get("visit_reassign_after", "30m"), field="visit_reassign_after")
    return Escalation(
        ordered, bool(policy.get("visit_vulnerable_at_once", False)), dt.timedelta(seconds=reassign)
    )
