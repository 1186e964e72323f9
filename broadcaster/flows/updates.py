"""Updates of a live alert, each a kept revision: a raised level or an evacuation order asks
every household again (a new round), a correction tells those already sent, the area grows
(new households) or shrinks (those left out are told); queued sends carry the new text."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from broadcaster.alerts import authority, policy, revisions
from broadcaster.alerts.authority import Issuer
from broadcaster.alerts.models import (
    Alert,
    AlertState,
    Hazard,
    Level,
    MsgType,
    Recipient,
    RevisionKind,
)
from broadcaster.auth.audit import Actor, record
from broadcaster.db.base import utcnow
from broadcaster.delivery.planning import insert_recipients
from broadcaster.errors import InvalidState, NotFound
from broadcaster.feeds.messages import Message, record_message
from broadcaster.flows import approval, resending
from broadcaster.flows import issuing as service
from broadcaster.flows.resending import SENDING, add_counts
from broadcaster.flows.settling import settle_recipients
from broadcaster.registry.models import Household
from broadcaster.settings import Settings

OPEN_STATES = (AlertState.pending_approval, AlertState.sending, AlertState.active)


@dataclass(frozen=True)
class Revision:
    """What an Update sets: the text, level, hazard, expiry and the area as given.

    `evacuate`: True makes it an evacuation order (转移令), False lifts the order, None keeps
    it. `replace_zones`: the zones are the whole new area (an officer's update), so households
    outside it are released; otherwise (a feed's update) they are added to the area."""

    headline: str
    body: str
    instruction: str
    level: Level
    hazard: Hazard
    expires_at: dt.datetime | None
    zone_codes: tuple[str, ...] = ()
    area: dict[str, Any] | None = None
    evacuate: bool | None = None
    replace_zones: bool = False


@dataclass(frozen=True)
class Assessment:
    """What an update means for the households: whether what they read changed, and whether
    they are asked again (a raised level, a new evacuation order, or a correction when the
    level's policy says so)."""

    raised: bool
    evacuation: bool
    words: bool
    asks_again: bool


@dataclass(frozen=True)
class Changed:
    """What an update or cancel did; `channel_counts` are enqueued after commit."""

    alert: Alert
    households_added: int = 0
    channel_counts: dict[str, int] | None = None
    withdrawn: int = 0
    tasks_closed: int = 0
    households_released: int = 0
    households_asked: int = 0
    households_notified: int = 0
    assessment: Assessment | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def locked_open(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise NotFound(f"预警不存在 / no alert {alert_id}")
    if alert.state not in OPEN_STATES:
        raise InvalidState(f"预警已结束 / alert is already {alert.state.value}")
    return alert


def assess(alert: Alert, revision: Revision, settings: Settings) -> Assessment:
    """What the revision changes, judged against the alert as it stands."""
    raised = revision.level.rank > alert.level.rank
    evacuation = bool(revision.evacuate) and not alert.evacuate
    words = (
        revision.level is not alert.level
        or revision.hazard is not alert.hazard
        or revision.headline[:200] != alert.headline
        or revision.body != alert.body
        or revision.instruction != alert.instruction
        or (revision.evacuate is not None and revision.evacuate != alert.evacuate)
    )
    level_policy = policy.parse_policy(policy.snapshot(settings.config_dir, revision.level))
    reconfirm = words and level_policy.reconfirm_corrections
    return Assessment(raised, evacuation, words, raised or evacuation or reconfirm)


def update_alert(
    session: Session,
    *,
    alert_id: int,
    revision: Revision,
    households: Sequence[Select[Any]],
    message: Message,
    actor: Actor,
    issuer: Issuer,
    settings: Settings,
    available_channels: set[str],
) -> Changed:
    """Apply the revision (only the alert's issuer, an officer or an admin may: NotIssuer
    otherwise, nothing changed) and plan what it sends, in the caller's transaction.

    `households` are selects of the household ids of the (new) area. A raised level brings
    its policy and extra channels and, like an evacuation order, starts a new round: every
    household still concerned, confirmed ones included, gets the new text on the alert's
    channels, groups and loudspeakers get it anew, escalation restarts from the level's
    policy. A correction goes to the households already sent the alert (confirmations kept).
    """
    alert = locked_open(session, alert_id)
    authority.require(alert, issuer, "update")
    now = utcnow()
    revisions.first_revision(session, alert)
    judged = assess(alert, revision, settings)
    if judged.raised:
        alert.policy = policy.snapshot(settings.config_dir, revision.level)
        level_channels = policy.parse_policy(alert.policy).channels or ()
        extra = [c for c in level_channels if c in available_channels]
        alert.channels = list(dict.fromkeys([*alert.channels, *extra]))
    _apply(alert, revision, judged)
    live = alert.state in SENDING
    inside = or_(*(Household.id.in_(s) for s in households)) if households else None
    released, counts = 0, dict[str, int]()
    if revision.replace_zones and inside is not None:
        released, counts = resending.release_outside(session, alert=alert, inside=inside, now=now)
    asked = notified = 0
    if live and judged.asks_again:
        asked, more = resending.ask_again(session, alert=alert, now=now)
        add_counts(counts, more)
    elif live and judged.words:
        notified, more = resending.notify_correction(session, alert=alert, now=now)
        add_counts(counts, more)
    added, more = top_up_all(session, alert=alert, households=households, now=now)
    add_counts(counts, more)
    if inside is not None and revision.replace_zones:
        added += resending.rejoin_inside(
            session, alert=alert, inside=inside, now=now, counts=counts
        )
    record_message(session, alert, message, MsgType.update)
    approval.flag_if_empty(alert)
    kept = revisions.record_revision(
        session,
        alert,
        kind=RevisionKind.update,
        asks_again=live and judged.asks_again,
        identifier=message.identifier,
        now=now,
        by=actor.name,
    )
    kept.households_added, kept.households_released = added, released
    kept.deliveries = {c: n for c, n in counts.items() if n}
    record(
        session,
        actor=actor,
        action="alert.update",
        object_type="alert",
        object_id=alert.id,
        identifier=message.identifier,
        revision=alert.revision,
        level=alert.level.value,
        evacuate=alert.evacuate,
        asks_again=kept.asks_again,
        households_added=added,
        households_released=released,
        households_asked=asked,
        households_notified=notified,
        deliveries=counts,
    )
    return Changed(
        alert,
        added,
        counts,
        households_released=released,
        households_asked=asked,
        households_notified=notified,
        assessment=judged,
    )


def _apply(alert: Alert, revision: Revision, judged: Assessment) -> None:
    """The alert now reads as revised: a new revision number (and text revision when what
    people read changed); a feed's zones are added to, an officer's replace them."""
    alert.level, alert.hazard = revision.level, revision.hazard
    alert.headline, alert.body = revision.headline[:200], revision.body
    alert.instruction, alert.expires_at = revision.instruction, revision.expires_at
    if revision.evacuate is not None:
        alert.evacuate = revision.evacuate
    alert.revision += 1
    if judged.words:
        alert.text_revision = alert.revision
    if revision.replace_zones:
        alert.zone_codes = list(dict.fromkeys(revision.zone_codes))
    else:
        alert.zone_codes = list(dict.fromkeys([*alert.zone_codes, *revision.zone_codes]))
    if revision.area is not None:
        alert.area = revision.area


def top_up_all(
    session: Session, *, alert: Alert, households: Sequence[Select[Any]], now: dt.datetime
) -> tuple[int, dict[str, int]]:
    """`top_up` for each select of household ids; households added and deliveries planned."""
    added, counts = 0, dict.fromkeys(alert.channels, 0)
    for selected in households:
        more, planned = top_up(session, alert=alert, households=selected, now=now)
        added += more
        add_counts(counts, planned)
    return added, counts


def top_up(
    session: Session, *, alert: Alert, households: Select[Any], now: dt.datetime
) -> tuple[int, dict[str, int]]:
    """Recipients for households not yet targeted; deliveries for them unless still pending."""
    watermark = session.scalar(select(func.max(Recipient.id))) or 0
    existing = select(Recipient.household_id).where(Recipient.alert_id == alert.id)
    where = Household.id.in_(households) & Household.id.not_in(existing)
    insert_recipients(session, alert=alert, where=where)
    new = (Recipient.alert_id == alert.id) & (Recipient.id > watermark)
    added = int(session.scalar(select(func.count()).where(new)) or 0)
    alert.households_targeted += added
    if alert.state not in SENDING:
        settle_recipients(session, new)
        return added, {}  # held: planned for every household when approved; ended: never
    counts = resending.plan_channels(session, alert=alert, now=now, only=new) if added else {}
    if added:
        service.schedule_follow_up(session, alert=alert, now=now, only=new)
        settle_recipients(session, new)
    return added, counts
