"""Targeting and planning: recipients and deliveries written by set-based SQL in one transaction."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    SQLColumnExpression,
    String,
    case,
    cast,
    false,
    func,
    insert,
    literal,
    select,
    text,
    union,
)
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Recipient, RecipientState
from broadcaster.db.base import UTCDateTime
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.registry.models import (
    Household,
    Person,
    PhoneKind,
    Proxy,
    Zone,
    household_zones,
)
from broadcaster.registry.service import households_in_zone

# Lower runs first: level (red first), then vulnerable households, then zone risk.
LEVEL_WEIGHT = 100
VULNERABLE_WEIGHT = 10
MAX_RISK = 9


def priority_expression(level_rank: int):  # type: ignore[no-untyped-def]
    """Priority of a household under an alert of this level (DESIGN §3.7)."""
    # Bounded inside the aggregate, so the subquery is evaluated once per household (a CASE
    # around it evaluated it twice, 5 µs a household each time in PostgreSQL's EXPLAIN ANALYZE).
    bounded_risk = (
        select(func.coalesce(func.max(case((Zone.risk > MAX_RISK, MAX_RISK), else_=Zone.risk)), 0))
        .join(household_zones, household_zones.c.zone_id == Zone.id)
        .where(household_zones.c.household_id == Household.id)
        .scalar_subquery()
    )
    vulnerable = case((Household.is_vulnerable, 0), else_=VULNERABLE_WEIGHT)
    return (4 - level_rank) * LEVEL_WEIGHT + vulnerable + (MAX_RISK - bounded_risk)


def roomy_planning(session: Session) -> None:
    """On PostgreSQL, give this transaction's hash joins room: planning joins a district's
    households, people and recipients (millions of rows) and 4 MB spills them to disk."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL work_mem = '128MB'"))


def plan_recipients(
    session: Session,
    *,
    alert: Alert,
    zones: list[Zone],
    next_action_at: dt.datetime | None = None,
    visit_vulnerable: bool = False,
) -> int:
    """One recipient per household of the zones (a household in several zones once), with
    its first escalation time when known (written here: a second pass over a million rows
    cost PostgreSQL 19 s). When a visit to each vulnerable household opens at once
    (`visit_vulnerable`), they are written `visiting` already: the visit tasks' trigger then
    finds them set instead of updating each one (PostgreSQL, a million households: about
    5 s), and the settling pass corrects any the planning did not visit."""
    roomy_planning(session)
    targeted = union(*[households_in_zone(zone) for zone in zones]).subquery()
    insert_recipients(
        session,
        alert=alert,
        where=Household.id.in_(select(targeted.c[0])),
        next_action_at=next_action_at,
        visiting=Household.is_vulnerable if visit_vulnerable else None,
    )
    # Counted, not taken from rowcount: PostgreSQL drivers report -1 for INSERT … SELECT here.
    count = select(func.count()).where(Recipient.alert_id == alert.id)
    return int(session.scalar(count) or 0)


def insert_recipients(
    session: Session,
    *,
    alert: Alert,
    where: ColumnElement[bool],
    next_action_at: dt.datetime | None = None,
    visiting: SQLColumnExpression[bool] | None = None,
) -> None:
    """One pending recipient per household that `where` selects, by INSERT … SELECT; its
    round is the alert's current revision (a household joining later starts there);
    `visiting` as given (else not)."""
    rows = select(
        literal(alert.id, Integer),
        Household.id,
        literal(RecipientState.pending.value),
        cast(priority_expression(alert.level.rank), Integer),
        Household.is_vulnerable,
        literal(0, Integer),
        literal(next_action_at, UTCDateTime()),
        literal(alert.revision, Integer),
        false() if visiting is None else visiting,
    ).where(where)
    columns = [
        "alert_id",
        "household_id",
        "state",
        "priority",
        "is_vulnerable",
        "stage",
        "next_action_at",
        "round",
        "visiting",
    ]
    session.execute(insert(Recipient).from_select(columns, rows))


PERSON_COLUMNS = [
    "alert_id",
    "recipient_id",
    "person_id",
    "channel",
    "address",
    "state",
    "priority",
    "attempts",
    "queued_at",
    "revision",
    "notice",
]


def _plan_people(
    session: Session,
    *,
    alert: Alert,
    now: dt.datetime,
    channel: str,
    address: Any,
    condition: ColumnElement[bool],
    only: ColumnElement[bool] | None = None,
    notice: str | None = None,
) -> int:
    """One delivery on `channel` per active person of every recipient household that
    meets `condition`, addressed to `address` (a Person column), carrying the alert's current
    revision (or `notice`, e.g. the all-clear, instead of the warning)."""
    rows = (
        select(
            Recipient.alert_id,
            Recipient.id,
            Person.id,
            literal(channel),
            address,
            literal(DeliveryState.queued.value),
            Recipient.priority,
            literal(0, Integer),
            literal(now, UTCDateTime()),
            literal(alert.revision, Integer),
            literal(notice, String(16)),
        )
        .join(Person, Person.household_id == Recipient.household_id)
        .where(Recipient.alert_id == alert.id, Person.active.is_(True), condition)
    )
    if only is not None:  # escalation: just the households that are due
        rows = rows.where(only)
    session.execute(insert(Delivery).from_select(PERSON_COLUMNS, rows))
    count = select(func.count()).where(Delivery.alert_id == alert.id, Delivery.channel == channel)
    return int(session.scalar(count) or 0)


# Person planners: one delivery per active person with this kind of address.
# Mobiles: one SMS-like message per mobile number.
plan_mobiles = partial(
    _plan_people, address=Person.phone, condition=Person.phone_kind == PhoneKind.mobile
)
# Phones: one call per active number, landlines included (calls are their only channel).
plan_phones = partial(_plan_people, address=Person.phone, condition=Person.phone.is_not(None))
# E-mail: one message per person with an address.
plan_email = partial(_plan_people, address=Person.email, condition=Person.email.is_not(None))


def plan_proxies(
    session: Session,
    *,
    alert: Alert,
    now: dt.datetime,
    channel: str,
    kind: PhoneKind,
    only: ColumnElement[bool],
) -> int:
    """One delivery on `channel` to each proxy contact (代联系人) with a `kind` number of the
    recipient households `only` selects, unless that number already has the warning of the
    household's round; returns how many were planned. The delivery names no person: a proxy
    speaks for the household, it is not one of its members."""
    already = (
        select(Delivery.id)
        .where(
            Delivery.recipient_id == Recipient.id,
            Delivery.address == Proxy.phone,
            Delivery.notice.is_(None),
            Delivery.revision >= Recipient.round,
        )
        .exists()
    )
    rows = (
        select(
            Recipient.alert_id,
            Recipient.id,
            literal(None, Integer),
            literal(channel),
            Proxy.phone,
            literal(DeliveryState.queued.value),
            Recipient.priority,
            literal(0, Integer),
            literal(now, UTCDateTime()),
            literal(alert.revision, Integer),
            literal(None, String(16)),
        )
        .join(Proxy, Proxy.household_id == Recipient.household_id)
        .where(Recipient.alert_id == alert.id, Proxy.phone_kind == kind, only, ~already)
    )
    before = select(func.count()).where(Delivery.alert_id == alert.id, Delivery.channel == channel)
    counted = int(session.scalar(before) or 0)
    session.execute(insert(Delivery).from_select(PERSON_COLUMNS, rows))
    return int(session.scalar(before) or 0) - counted
