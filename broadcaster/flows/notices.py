"""Notices about an alert — the all-clear, a cancel's correction, "no longer concerned" —
planned through the planners of the channels that carried it, to those it reached."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from broadcaster.alerts.models import Alert, Recipient, RecipientState
from broadcaster.alerts.policy import parse_policy
from broadcaster.db.database import rowcount
from broadcaster.delivery.models import Delivery, DeliveryState, LoudspeakerTask, TaskState
from broadcaster.flows.planners import planner_for, reach_of
from broadcaster.registry.models import Person, PhoneKind
from broadcaster.relay.service import relay_channel
from channels.base import Reach

R = RecipientState
# A message in these states went (or may have gone) to the provider: the household was sent it.
WENT_OUT = (
    DeliveryState.sending,
    DeliveryState.sent,
    DeliveryState.delivered,
    DeliveryState.unknown,
)
# Households known to have heard of the alert whatever the record of their messages says.
HEARD = (R.reached, R.confirmed, R.needs_help, R.visited)
PER_PERSON_TEXT = (Reach.mobile, Reach.email)  # notices any household with such an address gets
POSTED = (Reach.group_robot, Reach.loudspeaker)  # re-posted per group / loudspeaker


def was_sent(alert: Alert) -> ColumnElement[bool]:
    """Households of the alert that were sent it: a warning of theirs went out, or they are
    known to have heard it (reached, answered, visited)."""
    went = exists().where(
        Delivery.recipient_id == Recipient.id,
        Delivery.notice.is_(None),
        Delivery.state.in_(WENT_OUT),
    )
    return and_(Recipient.alert_id == alert.id, or_(went, Recipient.state.in_(HEARD)))


def without_mobile() -> ColumnElement[bool]:
    """Households with no active mobile: a call is the only way a notice reaches them."""
    member = aliased(Person)  # the planner joins the person called; this is any member
    return ~exists().where(
        member.household_id == Recipient.household_id,
        member.active.is_(True),
        member.phone_kind == PhoneKind.mobile,
    )


def used_channels(alert: Alert) -> list[str]:
    """The channels that may have carried the alert: its own and its escalation steps'."""
    steps = [step.channel for step in parse_policy(alert.policy).steps if step.channel]
    return list(dict.fromkeys([*alert.channels, *steps]))


def plan_notices(
    session: Session,
    *,
    alert: Alert,
    notice: str,
    households: ColumnElement[bool],
    now: dt.datetime,
    closing: bool,
) -> dict[str, int]:
    """Queue `notice` to the `households` on the person channels that reach them by text;
    when `closing` (the alert ends) also by call to those with no mobile, and to every group,
    loudspeaker and relay holder the alert was posted to. Returns deliveries per channel."""
    counts: dict[str, int] = {}
    channels = used_channels(alert)
    relay = relay_channel()
    if closing and relay is not None:
        channels.append(relay)
    for channel in dict.fromkeys(channels):
        reach = reach_of(channel)
        if reach in PER_PERSON_TEXT:
            only = households
        elif reach is Reach.phone and closing:
            only = and_(households, without_mobile())
        elif reach.zone_wide and closing:
            only = None
        else:
            continue
        before = _count(session, alert.id, channel)
        planner_for(channel)(session, alert=alert, now=now, only=only, notice=notice)
        planned = _count(session, alert.id, channel) - before
        if planned:
            counts[channel] = counts.get(channel, 0) + planned
    return counts


def _count(session: Session, alert_id: int, channel: str) -> int:
    query = select(func.count()).where(Delivery.alert_id == alert_id, Delivery.channel == channel)
    return int(session.scalar(query) or 0)


def withdraw_earlier_posts(session: Session, *, alert: Alert, now: dt.datetime) -> int:
    """Group posts and loudspeaker plays of an earlier text that have not gone yet are
    withdrawn (the new text is posted instead), and their operator tasks closed."""
    posted = [c for c in used_channels(alert) if reach_of(c) in POSTED]
    earlier = and_(
        Delivery.alert_id == alert.id,
        Delivery.channel.in_(posted),
        Delivery.revision < alert.text_revision,
        Delivery.notice.is_(None),
    )
    withdrawn = rowcount(
        session.execute(
            update(Delivery)
            .where(earlier, Delivery.state == DeliveryState.queued)
            .values(state=DeliveryState.cancelled, final_at=now, error_code="revised")
            .execution_options(synchronize_session=False)
        )
    )
    session.execute(
        update(LoudspeakerTask)
        .where(
            LoudspeakerTask.alert_id == alert.id,
            LoudspeakerTask.revision < alert.text_revision,
            LoudspeakerTask.state == TaskState.open,
        )
        .values(state=TaskState.cancelled)
        .execution_options(synchronize_session=False)
    )
    return withdrawn


def withdraw_earlier_warnings(session: Session, *, alert: Alert, now: dt.datetime) -> int:
    """Households' warnings of an earlier revision that have not gone yet are withdrawn: the
    new round plans every household again."""
    return rowcount(
        session.execute(
            update(Delivery)
            .where(
                Delivery.alert_id == alert.id,
                Delivery.recipient_id.is_not(None),
                Delivery.revision < alert.revision,
                Delivery.notice.is_(None),
                Delivery.state == DeliveryState.queued,
            )
            .values(state=DeliveryState.cancelled, final_at=now, error_code="revised")
            .execution_options(synchronize_session=False)
        )
    )
