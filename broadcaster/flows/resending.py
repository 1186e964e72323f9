"""What an update sends: a new round for every household (a raised level, an evacuation
order), a correction to those already sent, "no longer concerned" to those a narrowed area
leaves out — all planned through the channels' planners."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, Integer, cast, func, select, update
from sqlalchemy.orm import Session

from broadcaster.alerts import policy, rounds
from broadcaster.alerts.models import Alert, AlertState, Recipient, RecipientState
from broadcaster.alerts.states import CONCERNED
from broadcaster.alerts.texts import NOTICE_RELEASED
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.delivery.planning import priority_expression
from broadcaster.flows import issuing as service
from broadcaster.flows import notices
from broadcaster.flows.addressing import address_the_rest, planned
from broadcaster.flows.planners import reach_of
from broadcaster.followup.models import VisitTask
from broadcaster.followup.steps import escalation
from broadcaster.followup.visits import OPEN as OPEN_VISITS
from broadcaster.registry.models import Household
from broadcaster.relay.service import plan_for_policy

SENDING = (AlertState.sending, AlertState.active)


def add_counts(counts: dict[str, int], more: dict[str, int]) -> None:
    """Deliveries per channel, summed into `counts`."""
    for channel, n in more.items():
        counts[channel] = counts.get(channel, 0) + n


def concerned(alert: Alert) -> ColumnElement[bool]:
    """The alert's households still concerned (not released by a narrowed area)."""
    return (Recipient.alert_id == alert.id) & Recipient.state.in_(CONCERNED)


def ask_again(session: Session, *, alert: Alert, now: dt.datetime) -> tuple[int, dict[str, int]]:
    """A new round: queued warnings of earlier revisions withdrawn, every concerned household
    pending again (its last round kept), then sent the new text on every channel of the alert
    (groups and loudspeakers anew), escalation from the level's policy, open visits carried
    into the round and vulnerable households visited at once when the policy says so."""
    notices.withdraw_earlier_warnings(session, alert=alert, now=now)
    notices.withdraw_earlier_posts(session, alert=alert, now=now)
    plan = escalation(policy.parse_policy(alert.policy))
    priority = (
        select(cast(priority_expression(alert.level.rank), Integer))
        .where(Household.id == Recipient.household_id)
        .scalar_subquery()
    )
    asked = rounds.start_round(
        session, alert=alert, now=now, first_action_at=plan.next_time(now, 0), priority=priority
    )
    session.execute(
        update(VisitTask)
        .where(
            VisitTask.alert_id == alert.id,
            VisitTask.state.in_(OPEN_VISITS),
            VisitTask.round < alert.round,
        )
        .values(round=alert.round)
        .execution_options(synchronize_session=False)
    )
    counts = plan_channels(session, alert=alert, now=now, only=concerned(alert))
    if alert.state is AlertState.active:
        alert.state = AlertState.sending  # sending again; the reconciler settles it once done
    service.schedule_follow_up(session, alert=alert, now=now, scheduled=True, only=concerned(alert))
    return asked, counts


def notify_correction(
    session: Session, *, alert: Alert, now: dt.datetime
) -> tuple[int, dict[str, int]]:
    """A correction (new text, a lower level): households already sent the alert get the new
    text by message (calls are not repeated), groups and loudspeakers get it anew; nobody's
    confirmation is reset, and queued sends carry the new text."""
    sent = notices.was_sent(alert) & Recipient.state.in_(CONCERNED)
    notified = int(session.scalar(select(func.count()).select_from(Recipient).where(sent)) or 0)
    notices.withdraw_earlier_posts(session, alert=alert, now=now)
    counts: dict[str, int] = {}
    for channel in alert.channels:
        reach = reach_of(channel)
        if reach in notices.PER_PERSON_TEXT:
            add_counts(counts, _plan(session, alert, channel, now, sent))
        elif reach in notices.POSTED:
            add_counts(counts, _plan(session, alert, channel, now, None))
    return notified, counts


def release_outside(
    session: Session, *, alert: Alert, inside: ColumnElement[bool], now: dt.datetime
) -> tuple[int, dict[str, int]]:
    """Households no longer in the (narrowed) area are released; those that were sent the
    alert are told they are no longer concerned; their queued warnings are withdrawn."""
    outside = Recipient.household_id.not_in(select(Household.id).where(inside))
    told = list(
        session.scalars(
            select(Recipient.id).where(
                notices.was_sent(alert), outside, Recipient.state.in_(CONCERNED)
            )
        )
    )
    released = rounds.release(session, alert=alert, outside=outside, now=now)
    if not released:
        return 0, {}
    gone = select(Recipient.id).where(
        Recipient.alert_id == alert.id, Recipient.state == RecipientState.released
    )
    session.execute(
        update(Delivery)
        .where(
            Delivery.alert_id == alert.id,
            Delivery.recipient_id.in_(gone),
            Delivery.state == DeliveryState.queued,
            Delivery.notice.is_(None),
        )
        .values(state=DeliveryState.cancelled, final_at=now, error_code="released")
        .execution_options(synchronize_session=False)
    )
    counts: dict[str, int] = {}
    if told and alert.state in SENDING:
        counts = notices.plan_notices(
            session,
            alert=alert,
            notice=NOTICE_RELEASED,
            households=Recipient.id.in_(told),
            now=now,
            closing=False,
        )
    return released, counts


def rejoin_inside(
    session: Session,
    *,
    alert: Alert,
    inside: ColumnElement[bool],
    now: dt.datetime,
    counts: dict[str, int],
) -> int:
    """Released households inside the area again start the current round and are sent it."""
    plan = escalation(policy.parse_policy(alert.policy))
    back = rounds.rejoin(
        session,
        alert=alert,
        inside=Recipient.household_id.in_(select(Household.id).where(inside)),
        now=now,
        first_action_at=plan.next_time(now, 0) if alert.state in SENDING else None,
    )
    joined = int(session.scalar(select(func.count()).select_from(Recipient).where(back)) or 0)
    if joined and alert.state in SENDING:
        add_counts(counts, plan_channels(session, alert=alert, now=now, only=back))
    return joined


def plan_channels(
    session: Session, *, alert: Alert, now: dt.datetime, only: ColumnElement[bool]
) -> dict[str, int]:
    """Deliveries of the alert's current revision on each of its channels to the households
    `only` selects (zone-wide channels: to the groups and loudspeakers without the current
    text yet), and relay tasks of newly touched villages."""
    counts: dict[str, int] = {}
    for channel in alert.channels:
        add_counts(counts, _plan(session, alert, channel, now, only))
    add_counts(counts, plan_for_policy(session, alert=alert, now=now))
    add_counts(counts, address_the_rest(session, alert=alert, now=now, only=only))
    return counts


def _plan(
    session: Session,
    alert: Alert,
    channel: str,
    now: dt.datetime,
    only: ColumnElement[bool] | None,
) -> dict[str, int]:
    more = planned(session, alert=alert, channel=channel, now=now, only=only)
    return {channel: more} if more else {}
