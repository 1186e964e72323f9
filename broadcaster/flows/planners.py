"""Which planner writes each channel's deliveries."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert
from broadcaster.delivery.planning import (
    plan_email,
    plan_people_by_mobile,
    plan_sms,
    plan_voice,
)
from broadcaster.delivery.planning_zones import plan_loudspeakers, plan_wecom
from broadcaster.relay.service import plan_relay


class Planner(Protocol):
    def __call__(
        self,
        session: Session,
        *,
        alert: Alert,
        now: dt.datetime,
        only: ColumnElement[bool] | None = None,
    ) -> int: ...


PLANNERS: dict[str, Planner] = {
    "sms": plan_sms,
    "voice": plan_voice,
    "email": plan_email,
    "wecom_group": plan_wecom,
    "loudspeaker": plan_loudspeakers,
    "relay": plan_relay,
}


def planner_for(channel: str) -> Planner:
    """The channel's planner; a third-party channel reaches people by their mobile number."""
    if channel in PLANNERS:
        return PLANNERS[channel]

    def plan_third_party(
        session: Session,
        *,
        alert: Alert,
        now: dt.datetime,
        only: ColumnElement[bool] | None = None,
    ) -> int:
        return plan_people_by_mobile(session, alert=alert, now=now, only=only, channel=channel)

    return plan_third_party
