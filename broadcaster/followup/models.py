"""Door-visit tasks for field workers (包保干部): the last step that reaches every household."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from broadcaster.db.base import Base, str_enum


class VisitState(enum.StrEnum):
    open = "open"
    in_progress = "in_progress"
    done = "done"
    unable = "unable"
    cancelled = "cancelled"


class VisitOutcome(enum.StrEnum):
    """What the worker found at the door."""

    safe = "safe"
    evacuated = "evacuated"
    needs_help = "needs_help"
    not_home = "not_home"
    refused = "refused"
    address_invalid = "address_invalid"


class Placement(enum.StrEnum):
    """Where the people of an evacuated household went (集中安置 / 投亲靠友 / 其他)."""

    shelter = "shelter"
    relatives = "relatives"
    other = "other"


class VisitTask(Base):
    """One household to visit under one alert, assigned to one worker."""

    __tablename__ = "visit_tasks"
    __table_args__ = (
        Index("ix_visit_tasks_worker_state", "worker_id", "state", "priority"),
        Index("ix_visit_tasks_alert_state", "alert_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id"), unique=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"))
    priority: Mapped[int] = mapped_column(default=0)
    state: Mapped[VisitState] = mapped_column(
        str_enum(VisitState, "visit_state"), default=VisitState.open
    )
    reason: Mapped[str] = mapped_column(String(32), default="escalation")
    created_at: Mapped[dt.datetime]
    due_at: Mapped[dt.datetime | None]
    reassign_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    reassigned_from: Mapped[int | None] = mapped_column(ForeignKey("workers.id"))
    flagged: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[dt.datetime | None]
    done_at: Mapped[dt.datetime | None]
    outcome: Mapped[VisitOutcome | None] = mapped_column(str_enum(VisitOutcome, "visit_outcome"))
    notes: Mapped[str] = mapped_column(Text, default="")
    client_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    done_by: Mapped[str | None] = mapped_column(String(100))


class VisitReport(Base):
    """Every outcome recorded at a door, in order; the phone's id makes a resend harmless."""

    __tablename__ = "visit_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("visit_tasks.id"), index=True)
    client_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    outcome: Mapped[VisitOutcome] = mapped_column(str_enum(VisitOutcome, "visit_outcome_report"))
    notes: Mapped[str] = mapped_column(Text, default="")
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    at: Mapped[dt.datetime]  # when it was found at the door (the phone's clock, bounded)
    by: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[dt.datetime | None]  # when the server got it (later when synced)
    # What the task had become when the finding arrived (reassigned, cancelled, done…):
    # the finding is kept all the same (DESIGN §3.13).
    moved_on: Mapped[str | None] = mapped_column(String(32))
    # An evacuation (转移): how many people of the household were moved, and where to.
    people_moved: Mapped[int | None]
    placement: Mapped[Placement | None] = mapped_column(str_enum(Placement, "placement"))
    shelter_id: Mapped[int | None] = mapped_column(ForeignKey("shelters.id"), index=True)
    destination: Mapped[str] = mapped_column(String(200), default="", server_default="")
