"""The escalation part of a level's policy: timed steps (another channel, or a door visit)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from broadcaster.alerts.policy import PolicySnapshot
from broadcaster.errors import ValidationFailed
from channels.registry import reach_of


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


def escalation(policy: PolicySnapshot) -> Escalation:
    """The escalation of a policy snapshot; a policy without steps never escalates."""
    steps = []
    for index, step in enumerate(policy.steps):
        if step.visit:
            steps.append(Step(step.after))
        elif step.channel and reach_of(step.channel).zone_wide:
            raise ValidationFailed(
                "升级步骤针对住户：请用短信、电话或邮件 / escalation steps "
                "reach households: use sms, voice or email",
                field=f"steps[{index}]",
            )
        else:
            steps.append(Step(step.after, step.channel))
    ordered = tuple(sorted(steps, key=lambda s: s.after))
    return Escalation(ordered, policy.visit_vulnerable_at_once, policy.visit_reassign_after)
