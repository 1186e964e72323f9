"""Alerts and recipients: one recipient per targeted household, the unit of confirmation."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, false, text, true
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


# Alerts whose warning is being sent; ended alerts whose notices (the all-clear, a cancel's
# correction) still go out, and nothing else.
SENDING_STATES = (AlertState.sending, AlertState.active)
NOTICE_STATES = (AlertState.closed, AlertState.cancelled)


class RecipientState(enum.StrEnum):
    """Where one household stands under one alert."""

    pending = "pending"
    reached = "reached"
    confirmed = "confirmed"
    needs_help = "needs_help"
    unreachable = "unreachable"
    visited = "visited"
    # No longer concerned: the alert's area was narrowed and left the household out (it was
    # told so when it had been sent the alert); kept for history, counted apart.
    released = "released"


class RevisionKind(enum.StrEnum):
    """What a revision of an alert did: the first issue, an update, the all-clear, a cancel."""

    alert = "alert"
    update = "update"
    all_clear = "all_clear"
    cancel = "cancel"


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
    # Revisions (alert_revisions): `revision` is the latest; `text_revision` the last that
    # changed what people read (groups and loudspeakers get each such text once); `round` the
    # revision that last asked every household to confirm (a raised level or an evacuation
    # order), from `round_at` (escalation counts from it); `evacuate`: an evacuation order.
    revision: Mapped[int] = mapped_column(default=1, server_default="1")
    text_revision: Mapped[int] = mapped_column(default=1, server_default="1")
    round: Mapped[int] = mapped_column(default=1, server_default="1")
    round_at: Mapped[dt.datetime | None]
    evacuate: Mapped[bool] = mapped_column(default=False, server_default=false())

    @property
    def is_drill(self) -> bool:
        return self.status.is_drill

    @property
    def round_started_at(self) -> dt.datetime | None:
        """When the current round of confirmations began: the issue, or the last revision
        that asked every household again (escalation steps and timings count from it)."""
        return self.round_at if self.round > 1 and self.round_at else self.issued_at


class Recipient(Base):
    """One household under one alert."""

    __tablename__ = "recipients"
    __table_args__ = (
        UniqueConstraint("alert_id", "household_id"),
        Index("ix_recipients_alert_state", "alert_id", "state"),
        Index("ix_recipients_alert_priority", "alert_id", "priority", "id"),
        Index(  # households a trigger must look at when a delivery names them (0020)
            "ix_recipients_unsettled",
            "alert_id",
            postgresql_where=text("NOT (warned AND channelled)"),
            sqlite_where=text("NOT (warned AND channelled)"),
        ),
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
    # The round (revision number) the state belongs to: a revision that asks again starts a
    # new round for every household; the last round's outcome is kept in recipient_rounds.
    round: Mapped[int] = mapped_column(default=1, server_default="1")
    # Kept by the database's triggers (migration 0020) for the tallies: some delivery names
    # the household; a warning of its round is under way or done; a visit is open. Planning
    # writes the first two true and settles the households it planned nothing for.
    channelled: Mapped[bool] = mapped_column(server_default=true())
    warned: Mapped[bool] = mapped_column(server_default=true())
    visiting: Mapped[bool] = mapped_column(server_default=false())


class AlertRevision(Base):
    """One revision of an alert as it was sent: what people read, and what it asked of them."""

    __tablename__ = "alert_revisions"
    __table_args__ = (UniqueConstraint("alert_id", "number", name="uq_alert_revisions_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    number: Mapped[int]
    kind: Mapped[RevisionKind] = mapped_column(str_enum(RevisionKind, "revision_kind"))
    level: Mapped[Level] = mapped_column(str_enum(Level, "level"))
    hazard: Mapped[Hazard] = mapped_column(str_enum(Hazard, "hazard"))
    headline: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    instruction: Mapped[str] = mapped_column(Text, default="")
    zone_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    expires_at: Mapped[dt.datetime | None]
    evacuate: Mapped[bool] = mapped_column(default=False)
    # True when every household was asked to confirm again (a new round began).
    asks_again: Mapped[bool] = mapped_column(default=False)
    identifier: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    households_added: Mapped[int] = mapped_column(default=0)
    households_released: Mapped[int] = mapped_column(default=0)
    deliveries: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # The officer's words with an all-clear or cancel (e.g. 降雨已减弱), sent with the notice.
    note: Mapped[str] = mapped_column(Text, default="")


class RecipientRound(Base):
    """Where a household stood when its round ended (a later revision asked again)."""

    __tablename__ = "recipient_rounds"
    __table_args__ = (
        UniqueConstraint("recipient_id", "round", name="uq_recipient_rounds_round"),
        Index("ix_recipient_rounds_alert_round", "alert_id", "round", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id"))
    round: Mapped[int]
    state: Mapped[RecipientState] = mapped_column(str_enum(RecipientState, "recipient_state"))
    stage: Mapped[int] = mapped_column(default=0)
    reached_at: Mapped[dt.datetime | None]
    final_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime]
