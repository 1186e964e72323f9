"""Confirmations of households, help requests, and inbound messages kept for the officer."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column

from broadcaster.db.base import Base, str_enum, utcnow


class ConfirmVia(enum.StrEnum):
    """How a household confirmed."""

    sms_reply = "sms_reply"
    keypress = "keypress"
    link = "link"
    visit = "visit"
    operator = "operator"


class Answer(enum.StrEnum):
    """What the household said."""

    safe = "safe"
    needs_help = "needs_help"
    evacuated = "evacuated"


class ConfirmedBy(enum.StrEnum):
    """Who answered for the household: one of its members, or one of its proxies (代联系人)."""

    member = "member"
    proxy = "proxy"


class Confirmation(Base):
    """One answer of one household under one alert (every answer is kept)."""

    __tablename__ = "confirmations"
    __table_args__ = (Index("ix_confirmations_alert", "alert_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    via: Mapped[ConfirmVia] = mapped_column(str_enum(ConfirmVia, "confirm_via"))
    answer: Mapped[Answer] = mapped_column(str_enum(Answer, "answer"))
    by: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text, default="")
    source_ip: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The household's round the answer counts for (an earlier one for a late reply).
    round: Mapped[int] = mapped_column(default=1, server_default="1")
    # Who answered (None: not known, e.g. a visit or an officer): a member or a proxy, and
    # which proxy; `by` holds the number or the person who recorded it.
    confirmed_by: Mapped[ConfirmedBy | None] = mapped_column(str_enum(ConfirmedBy, "confirmed_by"))
    proxy_id: Mapped[int | None] = mapped_column(
        ForeignKey("household_proxies.id", ondelete="SET NULL")
    )
    # False: recorded, but the policy still wants a visit (a proxy answering for a vulnerable
    # household); the household stays open until the visit.
    final: Mapped[bool] = mapped_column(default=True, server_default=sa_true())


class HelpRequest(Base):
    """A household asking for help: on the duty board until an officer handles it."""

    __tablename__ = "help_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id"), unique=True)
    confirmation_id: Mapped[int] = mapped_column(ForeignKey("confirmations.id"))
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    handled_at: Mapped[dt.datetime | None]
    handled_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")


class InboundMessage(Base):
    """An SMS we received: matched to a household or not, understood or not — never dropped."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(64), unique=True)
    sender: Mapped[str] = mapped_column(String(32), index=True)
    body: Mapped[str] = mapped_column(Text)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("recipients.id"))
    answer: Mapped[Answer | None] = mapped_column(str_enum(Answer, "answer"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
