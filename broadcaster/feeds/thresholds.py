"""The threshold state machine of one sensor: crossing, hysteresis band, re-arming (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from broadcaster.alerts.models import Level
from broadcaster.feeds.rules import SensorRule, Threshold


@dataclass(frozen=True)
class Step:
    """What one reading does: the level now remembered, and the threshold newly crossed."""

    level: Level | None
    crossed: Threshold | None  # set only when the reading rose past a higher threshold

    @property
    def rose(self) -> bool:
        return self.crossed is not None


def rank(level: Level | None) -> int:
    return level.rank if level is not None else 0


def reached(rule: SensorRule, value: float) -> Threshold | None:
    """The highest threshold the value is at or past."""
    found = [t for t in rule.thresholds if rule.beyond(value, t.value)]
    return found[-1] if found else None


def held(rule: SensorRule, value: float) -> Level | None:
    """The highest level whose band the value is still in (threshold less the hysteresis)."""
    margin = rule.hysteresis if rule.direction == "above" else -rule.hysteresis
    found = [t.level for t in rule.thresholds if rule.beyond(value, t.value - margin)]
    return found[-1] if found else None


def step(rule: SensorRule, remembered: Level | None, value: float) -> Step:
    """Rising past a threshold above the remembered level raises it (and says so); falling
    inside the hysteresis band keeps it; falling below the band re-arms the levels above."""
    top = reached(rule, value)
    if top is not None and top.level.rank > rank(remembered):
        return Step(top.level, top)
    still = held(rule, value)
    return Step(still if rank(still) < rank(remembered) else remembered, None)
