"""Deliveries: one attempt of one channel to one address, leased by the worker sending it."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from broadcaster.db.base import Base, str_enum


class DeliveryState(enum.StrEnum):
    """queued → sending → sent → delivered | failed; unknown when the fate is unknown;
    superseded: an attempt the provider never got, replaced by a new one (history, not a
    failure)."""

    queued = "queued"
    sending = "sending"
    sent = "sent"
    delivered = "delivered"
    failed = "failed"
    unknown = "unknown"
    cancelled = "cancelled"
    superseded = "superseded"


FINAL_DELIVERY_STATES = frozenset(
    {
        DeliveryState.delivered,
        DeliveryState.failed,
        DeliveryState.cancelled,
        DeliveryState.superseded,
    }
)


class Delivery(Base):
    """One message to one address: a person of a household, a group, or a loudspeaker."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_claim", "alert_id", "channel", "state", "priority", "id"),
        Index(  # the requests out now, not the millions planned or answered (0023)
            "ix_deliveries_lease",
            "state",
            "lease_expires_at",
            postgresql_where=text("lease_expires_at IS NOT NULL"),
            sqlite_where=text("lease_expires_at IS NOT NULL"),
        ),
        Index("ix_deliveries_address", "address"),
        Index(  # a receipt by the provider's id: never a planned delivery (0023)
            "ix_deliveries_provider_id",
            "provider_id",
            postgresql_where=text("provider_id IS NOT NULL"),
            sqlite_where=text("provider_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    # A delivery addresses a household's person, or a whole group or loudspeaker of a zone.
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("recipients.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"))
    loudspeaker_id: Mapped[int | None] = mapped_column(ForeignKey("loudspeakers.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    channel: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(320))
    state: Mapped[DeliveryState] = mapped_column(
        str_enum(DeliveryState, "delivery_state"), default=DeliveryState.queued
    )
    priority: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    provider_id: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[str | None] = mapped_column(String(32))
    segments: Mapped[int | None]
    lease_token: Mapped[str | None] = mapped_column(String(32))
    lease_expires_at: Mapped[dt.datetime | None]
    not_before: Mapped[dt.datetime | None]
    checked_at: Mapped[dt.datetime | None]
    resend_of: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))
    queued_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    final_at: Mapped[dt.datetime | None]
    # The alert's revision this message carries, and what it says: None for the warning
    # itself, else a notice (all_clear, cancel, released) — see alerts/texts.py.
    revision: Mapped[int] = mapped_column(default=1, server_default="1")
    notice: Mapped[str | None] = mapped_column(String(16))


class DeliveryAttempt(Base):
    """One attempt at sending a delivery: written `sending` when the delivery is leased (before
    the call), then given the provider's answer and its callbacks. The delivery keeps its own
    state; its attempts are its history (a refused first try keeps its error code here)."""

    __tablename__ = "delivery_attempts"
    # Keyed by what it is, (delivery, number): one index and no surrogate id to keep up on
    # the send path (on SQLite the table is that index, without a rowid table beside it).
    __table_args__ = ({"sqlite_with_rowid": False},)

    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id"), primary_key=True, autoincrement=False
    )
    number: Mapped[int] = mapped_column(  # 1, 2, …: the delivery's lease count
        primary_key=True, autoincrement=False
    )
    provider: Mapped[str] = mapped_column(String(64))  # who carried it (e.g. twilio)
    requested_at: Mapped[dt.datetime]
    outcome: Mapped[DeliveryState] = mapped_column(
        str_enum(DeliveryState, "attempt_outcome"), default=DeliveryState.sending
    )
    error_code: Mapped[str | None] = mapped_column(String(32))
    provider_message_id: Mapped[str | None] = mapped_column(String(64))
    finished_at: Mapped[dt.datetime | None]


class TaskState(enum.StrEnum):
    open = "open"
    played = "played"
    cancelled = "cancelled"


class LoudspeakerTask(Base):
    """An operator's job: play the alert's audio on one loudspeaker and say when it was played.

    Playing covers a zone; it is never a household's confirmation.
    """

    __tablename__ = "loudspeaker_tasks"
    __table_args__ = (
        Index("ix_loudspeaker_tasks_alert", "alert_id", "loudspeaker_id", "revision", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    loudspeaker_id: Mapped[int] = mapped_column(ForeignKey("loudspeakers.id"), index=True)
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))
    state: Mapped[TaskState] = mapped_column(
        str_enum(TaskState, "task_state"), default=TaskState.open
    )
    created_at: Mapped[dt.datetime]
    played_at: Mapped[dt.datetime | None]
    played_by: Mapped[str | None] = mapped_column(String(100))
    # One task per loudspeaker and revision: a raised level or the all-clear is played anew.
    revision: Mapped[int] = mapped_column(default=1, server_default="1")
