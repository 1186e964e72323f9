"""The duty roster (值班表) and shift handovers (交接班): who is on duty when, what is handed on."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from broadcaster.db.base import Base, str_enum, utcnow


class DutyPost(enum.StrEnum):
    """The post held on a shift: the leader on duty (带班领导) or a duty officer (值班员)."""

    leader = "leader"
    officer = "officer"


class DutyShift(Base):
    """One person's turn on the roster, from `starts_at` to `ends_at`."""

    __tablename__ = "duty_shifts"
    __table_args__ = (Index("ix_duty_shifts_span", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    post: Mapped[DutyPost] = mapped_column(str_enum(DutyPost, "duty_post"))
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    cancelled_at: Mapped[dt.datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(100))


class Handover(Base):
    """The outgoing officer's note with the open items at that moment (a snapshot), and the
    incoming officer's acknowledgement. Kept for good: it is the duty log."""

    __tablename__ = "handovers"

    id: Mapped[int] = mapped_column(primary_key=True)
    from_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # The incoming officer named (or found on the roster); None: any other officer may take it.
    to_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    shift_id: Mapped[int | None] = mapped_column(ForeignKey("duty_shifts.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    items: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ack_note: Mapped[str] = mapped_column(Text, default="")
    # The open items' counts when the incoming officer acknowledged (what changed meanwhile).
    ack_counts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
