"""Every targeted household addressed at once: what the first channels miss gets the policy's
next channel that reaches it, its proxy contacts (代联系人) and a door visit, at t+0."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Recipient
from broadcaster.alerts.policy import parse_policy
from broadcaster.alerts.states import NOT_FINAL
from broadcaster.db.database import refresh_statistics
from broadcaster.delivery.models import Delivery
from broadcaster.delivery.planning import plan_proxies
from broadcaster.flows.planners import planner_for
from broadcaster.followup.steps import escalation
from broadcaster.followup.visits import create_visits
from broadcaster.registry.models import PhoneKind
from broadcaster.reports.addressing import unaddressed, warned
from channels.base import Reach
from channels.registry import media, reach_of

PROXY_REACH = {PhoneKind.mobile: (Reach.mobile, Reach.phone), PhoneKind.landline: (Reach.phone,)}
NO_CHANNEL = "no_channel"  # a visit task's reason: no channel of the level reaches the household


def planned(
    session: Session,
    *,
    alert: Alert,
    channel: str,
    now: dt.datetime,
    only: ColumnElement[bool] | None,
) -> int:
    """How many deliveries the channel's planner adds for the households `only` selects."""
    before = _count(session, alert.id, channel)
    planner_for(channel)(session, alert=alert, now=now, only=only)
    return _count(session, alert.id, channel) - before


def _count(session: Session, alert_id: int, channel: str) -> int:
    query = select(func.count()).where(Delivery.alert_id == alert_id, Delivery.channel == channel)
    return int(session.scalar(query) or 0)


def policy_channels(alert: Alert) -> list[str]:
    """The channels the alert may reach a household by, in the order its level would use them:
    its own first, then its policy's first channels and escalation steps (installed ones that
    address households, not villages)."""
    policy = parse_policy(alert.policy)
    steps = [s.channel for s in escalation(policy).steps if s.channel]
    installed = media()
    ordered = dict.fromkeys([*alert.channels, *policy.start_channels, *steps])
    return [c for c in ordered if c in installed and not reach_of(c).zone_wide]


def address_the_rest(
    session: Session,
    *,
    alert: Alert,
    now: dt.datetime,
    only: ColumnElement[bool] | None = None,
) -> dict[str, int]:
    """After the alert's channels were planned for the households `only` selects (all of the
    alert's when None): those still unaddressed get, at once, the first channel of the level
    that reaches one of their numbers (a landline: a call now, not at the voice step); those
    that none of their own numbers can be reached on (no phone at all, or no channel for it)
    get the warning through their proxy contacts — by text to a mobile, a call to a landline
    — and a door visit now, ordered like every visit (vulnerable households first). Returns
    the deliveries planned per channel, to enqueue after commit."""
    refresh_statistics(session, "recipients", "deliveries", "visit_tasks")
    chosen = (Recipient.alert_id == alert.id) if only is None else only
    counts: dict[str, int] = {}
    for channel in policy_channels(alert):
        if channel in alert.channels:
            continue  # planned for these households already
        more = planned(
            session, alert=alert, channel=channel, now=now, only=and_(chosen, unaddressed(alert.id))
        )
        if more:
            counts[channel] = counts.get(channel, 0) + more
    on_their_own = and_(
        chosen, Recipient.alert_id == alert.id, Recipient.state.in_(NOT_FINAL), ~warned(own=True)
    )
    for kind, reaches in PROXY_REACH.items():
        carrier = _first_reaching(alert, reaches)
        if carrier is None:
            continue
        more = plan_proxies(
            session, alert=alert, now=now, channel=carrier, kind=kind, only=on_their_own
        )
        if more:
            counts[carrier] = counts.get(carrier, 0) + more
    create_visits(
        session,
        alert=alert,
        condition=on_their_own,
        now=now,
        reassign_after=parse_policy(alert.policy).visit_reassign_after,
        reason=NO_CHANNEL,
    )
    return counts


def _first_reaching(alert: Alert, reaches: tuple[Reach, ...]) -> str | None:
    """The alert's first channel (see `policy_channels`) whose items go to these addresses."""
    for reach in reaches:
        for channel in policy_channels(alert):
            if reach_of(channel) is reach:
                return channel
    return None
