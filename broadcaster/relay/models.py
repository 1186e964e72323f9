"""Relay tasks: one per WeChat/QQ group under an alert, for the person who forwards it."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from broadcaster.db.base import Base, str_enum


class RelayState(enum.StrEnum):
    """open → forwarded | escalated → forwarded; cancelled when the alert ends first."""

    open = "open"
    forwarded = "forwarded"
    escalated = "escalated"
    cancelled = "cancelled"


class RelayTask(Base):
    """A group owner's job: paste the alert into one group and say so.

    Forwarding reaches a group, never a household: it is counted apart from confirmations.
    """

    __tablename__ = "relay_tasks"
    __table_args__ = (
        Index("ix_relay_tasks_alert_group", "alert_id", "group_id", unique=True),
        Index("ix_relay_tasks_state_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    # Who forwards: a worker, or just a phone number (snapshotted when the task is made).
    owner_worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"))
    owner_phone: Mapped[str | None] = mapped_column(String(20))
    member_count: Mapped[int] = mapped_column(default=0)
    state: Mapped[RelayState] = mapped_column(
        str_enum(RelayState, "relay_state"), default=RelayState.open
    )
    created_at: Mapped[dt.datetime]
    due_at: Mapped[dt.datetime | None]
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))
    forwarded_at: Mapped[dt.datetime | None]
    forwarded_by: Mapped[str | None] = mapped_column(String(100))
    forwarded_by_worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"))
    escalated_at: Mapped[dt.datetime | None]
    escalated_to_worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"))
    lead_delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))
    flagged: Mapped[bool] = mapped_column(default=False)
