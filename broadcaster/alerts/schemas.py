"""API models of alerts, their counts and recipients."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from broadcaster.alerts.models import (
    AlertSource,
    AlertState,
    AlertStatus,
    Hazard,
    Level,
    MsgType,
    RecipientState,
)
from broadcaster.db.base import utcnow
from broadcaster.plain_text import PlainLine, PlainText


class AlertIn(BaseModel):
    """What an officer or a feed asks to send."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    hazard: Hazard
    level: Level
    headline: PlainLine = Field(min_length=1, max_length=200)
    body: PlainText = Field(min_length=1, max_length=2000)
    instruction: PlainText = Field(default="", max_length=1000)
    zones: list[PlainLine] = Field(min_length=1, max_length=1000)
    status: AlertStatus = AlertStatus.actual
    channels: list[str] | None = Field(default=None, min_length=1)
    expires_at: dt.datetime | None = None
    public: bool = Field(
        default=False,
        description="Exercises and tests only: also show the drill (marked 【演练】) on the "
        "public page. Actual alerts are always public.",
    )

    @field_validator("zones")
    @classmethod
    def _distinct_zone_codes(cls, zones: list[str]) -> list[str]:
        return distinct_zone_codes(zones)

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        return aware_future(value)


def distinct_zone_codes(zones: list[str]) -> list[str]:
    """Zone codes trimmed, none empty, each once (in the order given)."""
    cleaned = [z.strip() for z in zones]
    if any(not z for z in cleaned):
        raise ValueError("zone codes must not be empty")
    return list(dict.fromkeys(cleaned))


def aware_future(value: dt.datetime | None) -> dt.datetime | None:
    """An expiry with a time zone, in the future (None stays None)."""
    if value is not None and value.tzinfo is None:
        raise ValueError("expires_at needs a time zone (e.g. +08:00)")
    if value is not None and value <= utcnow():
        raise ValueError(f"失效时间已过 / expires_at is in the past: {value.isoformat()}")
    return value


class TemplatePreview(BaseModel):
    """What one template-only provider (mainland SMS, voice) of a medium will send: the
    approved template's code and the exact text it produces, its length and SMS parts."""

    medium: str
    provider: str = Field(description="The provider channel (its template book's name).")
    kind: str = Field(description="The message kind: alert, update, evacuate, all_clear, …")
    code: str = Field(description="The approved template's code.")
    params: dict[str, str]
    text: str
    length: int
    segments: int = Field(description="SMS parts: 1 up to 70 characters, else 67 a part.")
    refused: str = Field(
        default="",
        description="Why this provider cannot send it (code and text then empty): shown, not "
        "refused, for an all-clear or cancel, which a template never stops.",
    )


class DeliveryCounts(BaseModel):
    """Deliveries of one channel by state; `total` leaves out superseded attempts (history:
    the provider never got them, and their resends are counted)."""

    total: int = 0
    by_state: dict[str, int] = Field(default_factory=dict)


class ProviderCounts(BaseModel):
    """What one provider did for an alert, from the attempts log: the deliveries it carried
    (its attempt was the accepted one), and its attempts by outcome."""

    carried: int = Field(default=0, description="Deliveries it accepted: the one that carried.")
    accepted: int = Field(default=0, description="Attempts it accepted (took the message).")
    delivered: int = Field(default=0, description="Attempts it reported delivered.")
    failed: int = Field(
        default=0, description="Attempts it refused or reported failed (a failover's cause)."
    )
    unknown: int = Field(default=0, description="Attempts whose fate it has not told yet.")
    media: dict[str, int] = Field(
        default_factory=dict, description="Deliveries it carried per medium (sms, voice…)."
    )


class GroupCounts(BaseModel):
    """WeChat/QQ groups under relay: group reach, never counted as household confirmations."""

    targeted: int = 0
    relayed: int = 0
    escalated: int = 0
    members_targeted: int = 0
    members_relayed: int = 0


class AlertCounts(BaseModel):
    households_targeted: int
    households_reached: int
    households_confirmed: int
    households_needs_help: int
    households_unreachable: int
    households_visited: int
    households_pending: int
    households_without_channel: int
    households_unaddressed: int = Field(
        default=0,
        description="Households of the round, not yet final, with neither a warning under way "
        "or done nor an open visit task: 0 within a minute of issue, at every level.",
    )
    households_released: int = Field(
        default=0, description="Left out of a narrowed area (told so); not counted as targeted."
    )
    revision: int = Field(default=1, description="The alert's current revision.")
    round: int = Field(
        default=1,
        description="The revision whose round the household counts are of: the last that asked "
        "every household to confirm (a raised level or an evacuation order).",
    )
    deliveries: dict[str, DeliveryCounts]
    groups: GroupCounts = Field(default_factory=GroupCounts)
    by_provider: dict[str, ProviderCounts] = Field(
        default_factory=dict,
        description="Per provider (as attempts name it: twilio, aliyun…), what it carried.",
    )
    lease_lost: int = Field(
        default=0, description="Provider answers that came after the worker's lease expired."
    )


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    identifier: str
    sender: str
    source: AlertSource
    msg_type: MsgType
    status: AlertStatus
    hazard: Hazard
    level: Level
    headline: str
    body: str
    instruction: str
    zone_codes: list[str]
    channels: list[str]
    state: AlertState
    expires_at: dt.datetime | None
    issued_at: dt.datetime | None
    created_at: dt.datetime
    created_by: str
    households_targeted: int
    approved_by: str | None = None
    flagged: bool = False
    note: str = ""
    public: bool = False
    revision: int = 1
    evacuate: bool = Field(default=False, description="An evacuation order (转移令).")


class AlertDetail(AlertOut):
    counts: AlertCounts
    counts_age_ms: int = Field(
        default=0, description="How old the counts are: big alerts reuse a count up to 1 s old."
    )
    progress: Progress
    completed_at: dt.datetime | None


class AttemptOut(BaseModel):
    """One attempt at sending one of the household's deliveries."""

    delivery: str = Field(description='Its delivery, named as in `deliveries` ("sms:8000").')
    number: int
    provider: str
    requested_at: dt.datetime
    outcome: str = Field(
        description="A delivery state: sending, sent, delivered, failed, unknown, or "
        "superseded (not sent, tried again)."
    )
    error_code: str | None
    provider_message_id: str | None
    finished_at: dt.datetime | None


class ConfirmationOut(BaseModel):
    """One answer of the household in its current round, and who gave it."""

    via: str = Field(description="sms_reply, keypress, link, visit, operator")
    answer: str = Field(description="safe, needs_help, evacuated")
    by: str = Field(description="The number or person it came from (sms:+86…).")
    confirmed_by: str | None = Field(
        description="member or proxy (代联系人); null when not known (a visit, an officer)"
    )
    final: bool = Field(
        description="False: a proxy's answer the policy does not take as final (visit due)"
    )
    at: dt.datetime


class RecipientOut(BaseModel):
    household_code: str
    head_name: str
    grid_code: str
    state: RecipientState
    is_vulnerable: bool
    priority: int
    reached_at: dt.datetime | None
    deliveries: dict[str, str]
    attempts: list[AttemptOut] = Field(default_factory=list, description="Oldest first.")
    confirmations: list[ConfirmationOut] = Field(
        default_factory=list, description="This round's answers, oldest first."
    )


class RecipientPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[RecipientOut]


class Progress(BaseModel):
    households_final: int
    complete: bool
    seconds_to_final: dict[str, float | None]
    visits: dict[str, int]
