"""API models of an alert's changes: update (转移令 included), all-clear, cancel, revisions."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from broadcaster.alerts.models import AlertState, Hazard, Level, RevisionKind
from broadcaster.alerts.schemas import (
    AlertOut,
    TemplatePreview,
    aware_future,
    distinct_zone_codes,
)
from broadcaster.plain_text import PlainLine, PlainText

CHANGEABLE = ("level", "hazard", "headline", "body", "instruction", "zones", "expires_at")


class UpdateIn(BaseModel):
    """What an officer changes; what is left out stays as it is."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    level: Level | None = None
    hazard: Hazard | None = None
    headline: PlainLine | None = Field(default=None, min_length=1, max_length=200)
    body: PlainText | None = Field(default=None, min_length=1, max_length=2000)
    instruction: PlainText | None = Field(default=None, max_length=1000)
    zones: list[PlainLine] | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="The whole new area: added zones reach their households, households left "
        "out are told they are no longer concerned.",
    )
    expires_at: dt.datetime | None = None
    evacuate: bool | None = Field(
        default=None,
        description="true: an evacuation order (转移令) — every household, confirmed ones "
        "included, is asked to confirm again; false: the order is lifted.",
    )

    @field_validator("zones")
    @classmethod
    def _distinct_zone_codes(cls, zones: list[str] | None) -> list[str] | None:
        return None if zones is None else distinct_zone_codes(zones)

    @field_validator("expires_at")
    @classmethod
    def _aware_future(cls, value: dt.datetime | None) -> dt.datetime | None:
        return aware_future(value)

    @model_validator(mode="after")
    def _something(self) -> UpdateIn:
        if all(getattr(self, name) is None for name in (*CHANGEABLE, "evacuate")):
            raise ValueError(
                "没有要更新的内容 / nothing to update: give at least one of "
                + ", ".join((*CHANGEABLE, "evacuate"))
            )
        return self


class CloseIn(BaseModel):
    """The officer's words with an all-clear or a cancel (sent with the notice)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: PlainText = Field(default="", max_length=300)


class ChangeOut(BaseModel):
    """What an update, all-clear or cancel did (or, previewed, would do)."""

    alert: AlertOut
    revision: int
    kind: RevisionKind
    asks_again: bool = Field(
        description="Every household still concerned was asked to confirm again (a new round)."
    )
    households_targeted: int
    households_asked: int = 0
    households_notified: int = Field(
        default=0, description="Already sent the alert, told of the correction or its end."
    )
    households_added: int = 0
    households_released: int = 0
    withdrawn: int = 0
    tasks_closed: int = 0
    deliveries: dict[str, int] = Field(default_factory=dict)
    texts: dict[str, str] = Field(
        default_factory=dict, description="What each channel says (previews only)."
    )
    templates: list[TemplatePreview] = Field(
        default_factory=list,
        description="Per provider that sends only approved templates: the exact text it "
        "sends (previews only).",
    )


class RevisionOut(BaseModel):
    """One revision as it was sent, with where the households stood in its round."""

    model_config = ConfigDict(from_attributes=True)

    number: int
    kind: RevisionKind
    level: Level
    hazard: Hazard
    headline: str
    body: str
    instruction: str
    zone_codes: list[str]
    expires_at: dt.datetime | None
    evacuate: bool
    asks_again: bool
    identifier: str | None
    created_at: dt.datetime
    created_by: str
    households_added: int
    households_released: int
    deliveries: dict[str, int]
    note: str
    households: dict[str, int] = Field(
        default_factory=dict,
        description="Households by state in the round this revision began (asks_again), at "
        "its end — or now for the current round.",
    )


class RevisionsOut(BaseModel):
    alert_id: int
    state: AlertState
    revision: int
    round: int
    revisions: list[RevisionOut]
