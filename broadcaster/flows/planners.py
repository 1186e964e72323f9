"""Which planner writes a channel's deliveries: chosen by the addresses the channel reaches."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Protocol

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert
from broadcaster.delivery.planning import plan_email, plan_mobiles, plan_phones
from broadcaster.delivery.planning_zones import plan_group_robots, plan_loudspeakers
from broadcaster.relay.service import plan_relay
from channels.base import Reach
from channels.registry import reach_of

__all__ = ["Planner", "planner_for", "reach_of"]


class Planner(Protocol):
    def __call__(
        self,
        session: Session,
        *,
        alert: Alert,
        now: dt.datetime,
        only: ColumnElement[bool] | None = None,
        notice: str | None = None,
    ) -> int: ...


class ReachPlanner(Protocol):
    def __call__(
        self,
        session: Session,
        *,
        alert: Alert,
        now: dt.datetime,
        channel: str,
        only: ColumnElement[bool] | None = None,
        notice: str | None = None,
    ) -> int: ...


PLANNERS: dict[Reach, ReachPlanner] = {
    Reach.mobile: plan_mobiles,
    Reach.phone: plan_phones,
    Reach.email: plan_email,
    Reach.group_robot: plan_group_robots,
    Reach.loudspeaker: plan_loudspeakers,
    Reach.group_owner: plan_relay,
}


def planner_for(channel: str) -> Planner:
    """The planner of the addresses the channel reaches, writing deliveries on `channel`."""
    return partial(PLANNERS[reach_of(channel)], channel=channel)
