"""A household asks for help: its responsible worker (包保责任人) and the zone lead are texted (or
called, on a landline) at once through the normal delivery path, and a visit is due now."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Recipient
from broadcaster.alerts.policy import parse_policy
from broadcaster.alerts.texts import NOTICE_HELP
from broadcaster.auth.audit import SYSTEM, record
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.followup.visits import visit_for_help, zone_lead
from broadcaster.registry.importer.values import PhoneError, normalise_phone
from broadcaster.registry.models import Household, PhoneKind, Worker
from channels.base import Reach
from channels.registry import channel_for

HELP_PRIORITY = -2  # before any warning, and before the residents' acknowledgements (-1)


def worker_channel(phone: str) -> str | None:
    """The medium that reaches a worker's number: a text to a mobile, a call to a landline."""
    try:
        kind = normalise_phone(phone).kind
    except PhoneError:
        kind = PhoneKind.mobile
    first, other = (Reach.mobile, Reach.phone) if kind is PhoneKind.mobile else (Reach.phone, None)
    return channel_for(first) or (channel_for(other) if other else None)


def helpers(session: Session, household: Household) -> list[Worker]:
    """Who is told: the household's responsible worker and its zone's lead (once each)."""
    found: dict[int, Worker] = {}
    for worker in (household.worker, zone_lead(session, household)):
        if worker is not None and worker.active and worker.phone:
            found.setdefault(worker.id, worker)
    return list(found.values())


def call_for_help(session: Session, *, recipient: Recipient, now: dt.datetime) -> dict[str, int]:
    """Tell the helpers (one queued notice each, not repeated while one is still queued) and
    make the household's visit due now, ahead of all others. Returns the notices queued per
    channel, to enqueue after commit."""
    alert = session.get_one(Alert, recipient.alert_id)
    household = session.get_one(Household, recipient.household_id)
    queued = set(
        session.scalars(
            select(Delivery.address).where(
                Delivery.recipient_id == recipient.id,
                Delivery.notice == NOTICE_HELP,
                Delivery.state == DeliveryState.queued,
            )
        )
    )
    counts: dict[str, int] = {}
    told = []
    for worker in helpers(session, household):
        channel = worker_channel(worker.phone)
        if channel is None or worker.phone in queued:
            continue
        session.add(
            Delivery(
                alert_id=alert.id,
                recipient_id=recipient.id,
                channel=channel,
                address=worker.phone,
                state=DeliveryState.queued,
                priority=HELP_PRIORITY,
                attempts=0,
                queued_at=now,
                revision=recipient.round,
                notice=NOTICE_HELP,
            )
        )
        counts[channel] = counts.get(channel, 0) + 1
        told.append(worker.id)
    reassign_after = parse_policy(alert.policy).visit_reassign_after
    task = visit_for_help(session, recipient=recipient, now=now, reassign_after=reassign_after)
    session.flush()
    record(
        session,
        actor=SYSTEM,
        action="help.notify",
        object_type="recipient",
        object_id=recipient.id,
        alert_id=alert.id,
        workers=told,
        visit=task.id,
    )
    return counts
