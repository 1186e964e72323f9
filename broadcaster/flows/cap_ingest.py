"""CAP in: a document becomes a new alert, an update or cancel of one, or a harmless duplicate."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass

import redis
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from broadcaster.alerts import authority, policy
from broadcaster.alerts.authority import Issuer
from broadcaster.alerts.identifiers import new_identifier
from broadcaster.alerts.models import Alert, AlertSource, AlertState, Level, MsgType
from broadcaster.auth.audit import Actor, record
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.dispatch import try_enqueue_sends
from broadcaster.feeds.areas import Coverage, coverage
from broadcaster.feeds.cap import CapError, FeedAlert, FeedContent
from broadcaster.feeds.cap.values import format_reference
from broadcaster.feeds.cap_in import read_cap, stale_reason
from broadcaster.feeds.messages import Message, record_message
from broadcaster.feeds.models import AlertMessage
from broadcaster.feeds.schemas import CapAction
from broadcaster.flows import approval, closing, updates
from broadcaster.flows.updates import OPEN_STATES, Revision
from broadcaster.settings import Settings
from channels.registry import media


@dataclass(frozen=True)
class Ingested:
    """What one CAP document did; `channel_counts` are enqueued after commit."""

    action: CapAction
    alert: Alert
    households_added: int = 0
    channel_counts: dict[str, int] = dataclasses.field(default_factory=dict)
    withdrawn: int = 0
    tasks_closed: int = 0
    # A cancel's corrections, per cancelled alert: (alert id, level, deliveries per channel).
    notices: tuple[tuple[int, Level, dict[str, int]], ...] = ()

    @property
    def created(self) -> bool:
        return self.action == "issued"


def find_message(session: Session, sender: str, identifier: str) -> Alert | None:
    """The alert a message (sender + identifier) already acted on, if any."""
    alert_id = session.scalar(
        select(AlertMessage.alert_id).where(
            AlertMessage.sender == sender, AlertMessage.identifier == identifier
        )
    )
    if alert_id is not None:
        return session.get(Alert, alert_id)
    return session.scalar(
        select(Alert).where(Alert.sender == sender, Alert.identifier == identifier)
    )


def referenced(session: Session, feed: FeedAlert) -> list[Alert]:
    """The alerts the message's references name, newest first, each once."""
    found: dict[int, Alert] = {}
    for reference in feed.references:
        alert = find_message(session, reference.sender, reference.identifier)
        if alert is not None:
            found[alert.id] = alert
    return sorted(found.values(), key=lambda a: a.id, reverse=True)


def ingest(
    session: Session,
    *,
    feed: FeedAlert,
    actor: Actor,
    issuer: Issuer,
    settings: Settings,
    available_channels: set[str],
) -> Ingested:
    """Act on one mapped CAP message inside the caller's transaction.

    An Update or Cancel acts only on alerts its issuer may act on (NotIssuer otherwise).
    """
    existing = find_message(session, feed.sender, feed.identifier)
    if existing is not None:
        return Ingested("duplicate", existing)
    message = Message(
        feed.sender,
        feed.identifier,
        feed.sent,
        " ".join(format_reference(r) for r in feed.references),
    )
    targets = referenced(session, feed)
    for alert in targets:
        if alert.is_drill != feed.is_drill:
            raise CapError(
                "alert/status",
                "演练/测试与实际预警不能互相更新或取消 / an exercise or test cannot update or "
                "cancel an actual alert, nor the other way round",
            )
        authority.require(alert, issuer, "cancel" if feed.msg_type is MsgType.cancel else "update")
    if feed.msg_type is MsgType.cancel:
        return _cancel(session, targets, message, actor, issuer)
    assert feed.content is not None
    live = [a for a in targets if a.state in OPEN_STATES]
    area = coverage(session, feed.content.area)
    if feed.msg_type is MsgType.update and live:
        changed = updates.update_alert(
            session,
            alert_id=live[0].id,
            revision=_revision(feed.content, area),
            households=area.selects(),
            message=message,
            actor=actor,
            issuer=issuer,
            settings=settings,
            available_channels=available_channels,
        )
        return Ingested(
            "updated", changed.alert, changed.households_added, changed.channel_counts or {}
        )
    superseding = session.scalar(
        select(Alert)
        .where(Alert.references.contains(f"{feed.sender},{feed.identifier},", autoescape=True))
        .order_by(Alert.id.desc())
    )
    if feed.msg_type is MsgType.alert and superseding is not None:
        record_message(session, superseding, message, superseding.msg_type)
        return Ingested("superseded", superseding)
    return _issue(
        session, feed, feed.content, area, message, actor, issuer, settings, available_channels
    )


def _cancel(
    session: Session, targets: list[Alert], message: Message, actor: Actor, issuer: Issuer
) -> Ingested:
    if not targets:
        raise CapError(
            "alert/references",
            "引用的预警不存在，无可取消 / no alert matches the references: nothing to cancel",
        )
    live = [a for a in targets if a.state in OPEN_STATES]
    if not live:
        record_message(session, targets[0], message, MsgType.cancel)
        return Ingested("unchanged", targets[0])
    withdrawn = closed = 0
    told: list[tuple[int, Level, dict[str, int]]] = []
    for alert in live:
        changed = closing.cancel_alert(
            session, alert_id=alert.id, message=message, actor=actor, issuer=issuer
        )
        withdrawn, closed = withdrawn + changed.withdrawn, closed + changed.tasks_closed
        if changed.channel_counts:
            told.append((alert.id, alert.level, changed.channel_counts))
        # one row per alert: the same message cancelling a second alert gets a suffix
        message = dataclasses.replace(message, identifier=f"{message.identifier[:100]}#{alert.id}")
    return Ingested(
        "cancelled", live[0], withdrawn=withdrawn, tasks_closed=closed, notices=tuple(told)
    )


def _revision(content: FeedContent, area: Coverage) -> Revision:
    return Revision(
        headline=content.headline,
        body=content.body,
        instruction=content.instruction,
        level=content.level,
        hazard=content.hazard,
        expires_at=content.expires,
        zone_codes=tuple(area.zone_codes),
        area=dataclasses.asdict(content.area),
    )


def _issue(
    session: Session,
    feed: FeedAlert,
    content: FeedContent,
    area: Coverage,
    message: Message,
    actor: Actor,
    issuer: Issuer,
    settings: Settings,
    available_channels: set[str],
) -> Ingested:
    """A new alert from the feed, held for approval when the policy says so."""
    snapshot = policy.snapshot(settings.config_dir, content.level)
    level_policy = policy.parse_policy(snapshot)
    hold = policy.needs_approval(level_policy, AlertSource.feed)
    now = utcnow()
    stale = stale_reason(feed, content, settings, now)
    state = AlertState.sending
    if stale or hold:
        state = AlertState.expired if stale else AlertState.pending_approval
    taken = session.scalar(select(Alert.id).where(Alert.identifier == feed.identifier))
    alert = Alert(
        identifier=new_identifier(settings) if taken else feed.identifier,
        sender=feed.sender,
        source=AlertSource.feed,
        msg_type=feed.msg_type,
        status=feed.status,
        hazard=content.hazard,
        level=content.level,
        headline=content.headline[:200],
        body=content.body,
        instruction=content.instruction,
        zone_codes=area.zone_codes,
        channels=[c for c in level_policy.start_channels if c in available_channels],
        policy=snapshot,
        state=state,
        expires_at=content.expires,
        issued_at=now if state is AlertState.sending else None,
        closed_at=now if stale else None,
        created_by=actor.name,
        issuer=issuer.ref,
        area=dataclasses.asdict(content.area),
    )
    session.add(alert)
    session.flush()
    record_message(session, alert, message, feed.msg_type)
    _added, counts = updates.top_up_all(session, alert=alert, households=area.selects(), now=now)
    approval.flag_if_empty(alert)
    if stale:
        alert.flagged, alert.note = True, stale
    record(
        session,
        actor=actor,
        action="alert.issue",
        object_type="alert",
        object_id=alert.id,
        cap_sender=feed.sender,
        cap_identifier=feed.identifier,
        level=content.level.value,
        zones=area.zone_codes,
        located=len(area.located),
        households=alert.households_targeted,
        deliveries=counts,
        drill=alert.is_drill,
        state=alert.state.value,
        flagged=alert.flagged,
    )
    return Ingested("issued", alert, alert.households_targeted, counts)


def ingest_document(
    db: Database,
    settings: Settings,
    data: bytes,
    actor: Actor,
    issuer: Issuer,
    senders: Collection[str] = (),
) -> Ingested:
    """Parse outside any transaction, then act on it in one; a racing twin is a duplicate.
    An Update or Cancel of an alert the issuer may not act on changes nothing and is audited;
    with `senders` (a polled feed's configured upstream), a document of any other is refused."""
    feed = read_cap(data, settings)
    if senders and feed.sender not in senders:
        raise CapError(
            "alert/sender",
            f"发送者 {feed.sender} 不是该订阅源配置的发送者 / sender {feed.sender} is not one "
            "this feed is configured for",
        )
    try:
        with authority.audited(db, actor), db.transaction() as session:
            return ingest(
                session,
                feed=feed,
                actor=actor,
                issuer=issuer,
                settings=settings,
                available_channels=set(media()),
            )
    except IntegrityError:
        with db.read() as session:
            existing = find_message(session, feed.sender, feed.identifier)
        if existing is None:
            raise
        return Ingested("duplicate", existing)


def enqueue(settings: Settings, connection: redis.Redis | None, result: Ingested) -> None:
    for alert_id, level, counts in result.notices:  # a cancel's corrections
        try_enqueue_sends(
            settings, connection, alert_id=alert_id, level=level, channel_counts=counts
        )
    alert = result.alert
    if result.channel_counts and alert.state in (AlertState.sending, AlertState.active):
        try_enqueue_sends(
            settings,
            connection,
            alert_id=alert.id,
            level=alert.level,
            channel_counts=result.channel_counts,
        )
