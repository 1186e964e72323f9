"""Feed tables: CAP messages acted on, per-station reading state, and polled feeds."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from broadcaster.alerts.models import Level, MsgType
from broadcaster.db.base import Base, str_enum, utcnow


class AlertMessage(Base):
    """One CAP message (Alert, Update or Cancel) and the alert it acted on.

    `sender` + `identifier` is unique: a message seen twice is a duplicate. Feeds' messages
    are kept as received; updates and cancels made here get an identifier of our own, so the
    alert's CAP history can be published (Update/Cancel with references).
    """

    __tablename__ = "alert_messages"
    __table_args__ = (UniqueConstraint("sender", "identifier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    sender: Mapped[str] = mapped_column(String(120))
    identifier: Mapped[str] = mapped_column(String(120))
    sent: Mapped[dt.datetime]
    msg_type: Mapped[MsgType] = mapped_column(str_enum(MsgType, "msg_type"))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class StationState(Base):
    """What the threshold rules remember of one station's one kind of reading."""

    __tablename__ = "station_states"
    __table_args__ = (UniqueConstraint("station", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    station: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    last_value: Mapped[float | None]
    last_observed_at: Mapped[dt.datetime | None]
    # The highest level crossed and not yet re-armed (fell below threshold − hysteresis).
    level: Mapped[Level | None] = mapped_column(str_enum(Level, "level"))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    alerted_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FeedPoll(Base):
    """A polled Atom/RSS feed of CAP alerts: validators for conditional GET, entries seen."""

    __tablename__ = "feed_polls"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(1000), unique=True)
    etag: Mapped[str | None] = mapped_column(String(300))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    polled_at: Mapped[dt.datetime | None]
    ok_at: Mapped[dt.datetime | None]
    error: Mapped[str] = mapped_column(Text, default="")
    seen: Mapped[list[str]] = mapped_column(JSON, default=list)
