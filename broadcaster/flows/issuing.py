"""Issuing an alert: idempotent, planned in one transaction, follow-up scheduled."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from broadcaster.alerts import policy
from broadcaster.alerts.authority import Issuer
from broadcaster.alerts.identifiers import new_identifier
from broadcaster.alerts.models import Alert, AlertSource, AlertState, MsgType, Recipient
from broadcaster.alerts.schemas import AlertIn
from broadcaster.auth.audit import Actor, record
from broadcaster.db.base import utcnow
from broadcaster.delivery.approved import check_templates
from broadcaster.delivery.planning import plan_recipients
from broadcaster.errors import Conflict
from broadcaster.flows.addressing import address_the_rest
from broadcaster.flows.planners import planner_for
from broadcaster.flows.settling import settle_recipients
from broadcaster.followup.steps import escalation
from broadcaster.followup.visits import create_visits
from broadcaster.registry.service import zones_by_code
from broadcaster.relay.service import plan_for_policy
from broadcaster.settings import Settings


@dataclass(frozen=True)
class Issued:
    """An alert and what planning queued, per channel."""

    alert: Alert
    created: bool
    channel_counts: dict[str, int]


def request_hash(body: AlertIn) -> str:
    """A stable digest of the request, to tell a replay from a different request."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(session: Session, key: str, digest: str, issuer: str | None) -> Alert | None:
    """The caller's own earlier alert with this key (keys are scoped per issuer)."""
    scope = Alert.issuer.is_(None) if issuer is None else Alert.issuer == issuer
    existing = session.scalar(select(Alert).where(Alert.idempotency_key == key, scope))
    if existing is not None and existing.request_hash != digest:
        raise Conflict(
            "Idempotency-Key 已用于另一个请求 / Idempotency-Key was used for a different request",
            field="Idempotency-Key",
        )
    return existing


def issue_alert(
    session: Session,
    *,
    body: AlertIn,
    actor: Actor,
    source: AlertSource,
    settings: Settings,
    available_channels: set[str],
    idempotency_key: str | None = None,
    issuer: Issuer | None = None,
) -> Issued:
    """Create the alert, its recipients and deliveries in the caller's transaction.

    `issuer` is kept on the alert (who may later update or cancel it) and scopes the
    Idempotency-Key; without one, only officers and admins may act on the alert.
    """
    digest = request_hash(body)
    ref = issuer.ref if issuer else None
    if idempotency_key and (existing := _replay(session, idempotency_key, digest, ref)):
        return Issued(existing, False, {})
    zones = zones_by_code(session, body.zones)
    snapshot = policy.snapshot(settings.config_dir, body.level)
    level_policy = policy.parse_policy(snapshot)  # a bad policy table is refused before anything
    channels = policy.choose_channels(body.channels, level_policy, available_channels)
    hold = policy.needs_approval(level_policy, source)  # planned and sent only once approved
    now = utcnow()
    alert = Alert(
        identifier=new_identifier(settings),
        sender=settings.sender_name,
        source=source,
        msg_type=MsgType.alert,
        status=body.status,
        hazard=body.hazard,
        level=body.level,
        headline=body.headline,
        body=body.body,
        instruction=body.instruction,
        zone_codes=body.zones,
        channels=channels,
        policy=snapshot,
        state=AlertState.pending_approval if hold else AlertState.sending,
        expires_at=body.expires_at,
        issued_at=None if hold else now,
        created_by=actor.name,
        issuer=ref,
        idempotency_key=idempotency_key,
        request_hash=digest,
        public=body.public and body.status.is_drill,
    )
    check_templates(alert, settings=settings)  # a value no approved template carries: 422
    try:
        with session.begin_nested():
            session.add(alert)
            session.flush()
    except IntegrityError:
        if idempotency_key and (existing := _replay(session, idempotency_key, digest, ref)):
            return Issued(existing, False, {})
        raise
    steps = escalation(level_policy)
    alert.households_targeted = plan_recipients(
        session,
        alert=alert,
        zones=zones,
        next_action_at=None if hold else steps.next_time(now, 0),
        visit_vulnerable=not hold and steps.visit_vulnerable_at_once,
    )
    counts = {} if hold else {c: planner_for(c)(session, alert=alert, now=now) for c in channels}
    if not hold:
        counts.update(plan_for_policy(session, alert=alert, now=now))
        for channel, more in address_the_rest(session, alert=alert, now=now).items():
            counts[channel] = counts.get(channel, 0) + more
    visits = 0 if hold else schedule_follow_up(session, alert=alert, now=now, scheduled=True)
    settle_recipients(session, Recipient.alert_id == alert.id)
    record(
        session,
        actor=actor,
        action="alert.issue",
        object_type="alert",
        object_id=alert.id,
        level=body.level.value,
        zones=body.zones,
        households=alert.households_targeted,
        deliveries=counts,
        visits_at_once=visits,
        drill=alert.is_drill,
        pending_approval=hold,
    )
    return Issued(alert, True, counts)


def schedule_follow_up(
    session: Session,
    *,
    alert: Alert,
    now: dt.datetime,
    scheduled: bool = False,
    only: ColumnElement[bool] | None = None,
) -> int:
    """The first escalation time of every household of the alert (or just those `only`
    selects), unless planning `scheduled` it already; vulnerable ones may get a visit now."""
    plan = escalation(policy.parse_policy(alert.policy))
    first = plan.next_time(now, 0)
    households = Recipient.alert_id == alert.id if only is None else only
    if first is not None and not scheduled:
        session.execute(
            update(Recipient)
            .where(households)
            .values(next_action_at=first)
            .execution_options(synchronize_session=False)
        )
    if not plan.visit_vulnerable_at_once:
        return 0
    vulnerable = households & Recipient.is_vulnerable.is_(True)
    return create_visits(
        session,
        alert=alert,
        condition=vulnerable,
        now=now,
        reassign_after=plan.reassign_after,
        reason="vulnerable",
    )
