"""API models of the feeds: CAP ingest results, sensor readings in and their outcomes."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from broadcaster.alerts.schemas import AlertOut

CapAction = Literal["issued", "updated", "cancelled", "duplicate", "superseded", "unchanged"]
ReadingOutcome = Literal[
    "recorded",
    "late",
    "stale",
    "alert",
    "update",
    "cooldown",
    "already_alerted",
    "rejected",
    "error",
]


class CapResult(BaseModel):
    """What a CAP document did: a new alert, an update or cancel of one, or nothing (duplicate)."""

    action: CapAction
    alert: AlertOut
    households_added: int = 0
    deliveries: dict[str, int] = Field(default_factory=dict)
    withdrawn: int = 0
    tasks_closed: int = 0


class Reading(BaseModel):
    """One observation of one station."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    station: str = Field(min_length=1, max_length=64)
    kind: str = Field(min_length=1, max_length=32)
    value: float
    unit: str = Field(max_length=16)
    observed_at: dt.datetime

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("value must be a finite number")
        return value

    @field_validator("observed_at")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("observed_at needs a time zone (e.g. +08:00)")
        return value


class ReadingsIn(BaseModel):
    """A batch: each item is checked on its own, so good readings count next to bad ones."""

    model_config = ConfigDict(extra="forbid")

    readings: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=5000,
        description="Items: {station, kind: rainfall_1h|rainfall_24h|water_level|drought_index, "
        "value, unit, observed_at (with time zone)}",
    )


class ReadingResult(BaseModel):
    index: int
    station: str | None = None
    kind: str | None = None
    outcome: ReadingOutcome
    reason: str = ""
    level: str | None = None
    alert_id: int | None = None


class ReadingsResult(BaseModel):
    accepted: int
    rejected: int
    results: list[ReadingResult]
