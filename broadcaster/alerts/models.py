"""Alerts and recipients: one recipient per targeted household, the unit of confirmation."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from broadcaster.db.base import Base, TimestampMixin, str_enum


class Hazard(enum.StrEnum):
    rain = "rain"
    water_level = "water_level"
    flood = "flood"
    drought = "drought"
    geohazard = "geohazard"
    other = "other"


class Level(enum.StrEnum):
    """Warning colours, lowest first (蓝 黄 橙 红)."""

    blue = "blue"
    yellow = "yellow"
    orange = "orange"
    red = "red"

    @property
    def rank(self) -> int:
        return list(Level).index(self) + 1


class AlertStatus(enum.StrEnum):
    """CAP status: exercises and tests are drills that go to the simulator only."""

    actual = "actual"
    exercise = "exercise"
    test = "test"

    @property
    def is_drill(self) -> bool:
        return self is not AlertStatus.actual


class MsgType(enum.StrEnum):
    alert = "alert"
    update = "update"
    cancel = "cancel"


class AlertSource(enum.StrEnum):
    officer = "officer"
    feed = "feed"


class AlertState(enum.StrEnum):
    draft = "draft"
    pending_approval = "pending_approval"
    sending = "sending"
    active = "active"
    closed = "closed"
    cancelled = "cancelled"
    expired = "expired"


class RecipientState(enum.StrEnum):
    """Where one household stands under one alert."""

    pending = "pending"
    reached = "reached"
    confirmed = "confirmed"
    needs_help = "needs_help"
    unreachable = "unreachable"
    visited = "visited"


class Alert(TimestampMixin, Base):
    """One warning, as issued, with its policy snapshot."""

    __tablename__ = "alerts"
    # An Idempotency-Key is scoped to its caller (the issuer): another caller's same key is new.
    __table_args__ = (UniqueConstraint("issuer", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    identifier: Mapped[str] = mapped_column(String(120), unique=True)
    sender: Mapped[str] = mapped_column(String(120))
    source: Mapped[AlertSource] = mapped_column(str_enum(AlertSource, "alert_source"))
    msg_type: Mapped[MsgType] = mapped_column(str_enum(MsgType, "msg_type"), default=MsgType.alert)
    status: Mapped[AlertStatus] = mapped_column(str_enum(AlertStatus, "alert_status"))
    references: Mapped[str | None] = mapped_column(String(500))
    hazard: Mapped[Hazard] = mapped_column(str_enum(Hazard, "hazard"))
    level: Mapped[Level] = mapped_column(str_enum(Level, "level"))
    headline: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    instruction: Mapped[str] = mapped_column(Text, default="")
    zone_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[AlertState] = mapped_column(str_enum(AlertState, "alert_state"), index=True)
    expires_at: Mapped[dt.datetime | None]
    issued_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    created_by: Mapped[str] = mapped_column(String(100))
    approved_by: Mapped[str | None] = mapped_column(String(100))
    # Who issued it ("key:12", "user:3", "poll:<feed>", "rules"): a feed may update or cancel
    # only what it issued (alerts/authority.py); None: only officers and admins may.
    issuer: Mapped[str | None] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    households_targeted: Mapped[int] = mapped_column(default=0)
    # Provider answers that came back after the worker's lease had expired (a worker that
    # stalled past its heartbeat): counted so that real lease losses are visible.
    lease_lost: Mapped[int] = mapped_column(default=0, server_default="0")
    completed_at: Mapped[dt.datetime | None]
    # For the officer's attention (e.g. a feed's area matched no household), with why.
    flagged: Mapped[bool] = mapped_column(default=False, server_default=false())
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    # A feed's area as given (descriptions, geocodes, polygons, circles), kept for CAP out.
    area: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # A drill shown on the public page (marked 【演练】); actual alerts are always public.
    public: Mapped[bool] = mapped_column(default=False, server_default=false())

    @property
    def is_drill(self) -> bool:
        return self.status.is_drill


class Recipient(Base):
    """One household under one alert."""

    __tablename__ = "recipients"
    __table_args__ = (
        UniqueConstraint("alert_id", "household_id"),
        Index("ix_recipients_alert_state", "alert_id", "state"),
        Index("ix_recipients_alert_priority", "alert_id", "priority", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    state: Mapped[RecipientState] = mapped_column(
        str_enum(RecipientState, "recipient_state"), default=RecipientState.pending
    )
    priority: Mapped[int] = mapped_column(default=0)
    is_vulnerable: Mapped[bool] = mapped_column(default=False)
    stage: Mapped[int] = mapped_column(default=0)
    next_action_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    reached_at: Mapped[dt.datetime | None]
    final_at: Mapped[dt.datetime | None]
