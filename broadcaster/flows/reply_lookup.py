"""Who a group of replies answers for, in a few statements: `reply_alert` and `answerers` for
every number at once, with the same rules and order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Recipient
from broadcaster.confirm.models import ConfirmedBy
from broadcaster.db.planner import unindexed
from broadcaster.delivery.models import Delivery
from broadcaster.flows.senders import NOT_HELP_NOTICE, OPEN, Answerer
from broadcaster.registry.models import Person, Proxy

EARLIEST = dt.datetime.min


@dataclass(frozen=True)
class Sent:
    """A delivery of an open alert to a number on the reply's medium."""

    alert_id: int
    issued_at: dt.datetime
    delivery_id: int
    recipient_id: int | None
    person_id: int | None


@dataclass(frozen=True)
class Match:
    """The alert a number's reply answers (None: none open) and whom it answers for."""

    alert_id: int | None
    answerers: list[Answerer]


def match_senders(session: Session, senders: Collection[str], medium: str) -> dict[str, Match]:
    """`reply_alert` and `answerers` of each sender, as they would answer one at a time."""
    sent = _sent(session, senders, medium)
    alerts = {
        sender: max(rows, key=lambda s: (s.issued_at, s.delivery_id)).alert_id
        for sender, rows in sent.items()
    }
    alerts.update(_proxy_alerts(session, [s for s in senders if s not in alerts]))
    by_alert: dict[int, list[str]] = {}
    for sender, alert_id in alerts.items():
        by_alert.setdefault(alert_id, []).append(sender)
    found: dict[str, dict[int, Answerer]] = {sender: {} for sender in senders}
    for alert_id, numbers in by_alert.items():
        _members(session, alert_id, numbers, found)
        _proxies(session, alert_id, numbers, found)
    for sender, alert_id in alerts.items():  # sent to, but no longer listed: as it was sent
        mine = found[sender]
        for row in sorted(sent.get(sender, ()), key=lambda s: -s.delivery_id):
            listed = row.alert_id != alert_id or row.recipient_id is None
            if not listed and row.recipient_id not in mine:
                assert row.recipient_id is not None
                mine[row.recipient_id] = Answerer(
                    row.recipient_id, ConfirmedBy.member, row.person_id
                )
    return {
        sender: Match(alerts.get(sender), [found[sender][key] for key in sorted(found[sender])])
        for sender in senders
    }


def _sent(session: Session, senders: Collection[str], medium: str) -> dict[str, list[Sent]]:
    rows = session.execute(
        select(
            Delivery.address,
            Delivery.alert_id,
            Alert.issued_at,
            Delivery.id,
            Delivery.recipient_id,
            Delivery.person_id,
        )
        # the alert's key unindexed: SQLite (no statistics after a bulk write) would start
        # from the open alerts and walk each one's deliveries on the channel, a million of
        # them for each batch of replies, instead of finding the senders by address
        .join(Alert, Alert.id == unindexed(Delivery.alert_id))
        .where(
            Delivery.address.in_(senders),
            Delivery.channel == medium,
            Alert.state.in_(OPEN),
            NOT_HELP_NOTICE,
        )
    )
    found: dict[str, list[Sent]] = {}
    for address, alert_id, issued_at, delivery_id, recipient_id, person_id in rows:
        found.setdefault(address, []).append(
            Sent(alert_id, issued_at or EARLIEST, delivery_id, recipient_id, person_id)
        )
    return found


def _proxy_alerts(session: Session, senders: list[str]) -> dict[str, int]:
    """The latest open alert of a household listing each number as its proxy."""
    if not senders:
        return {}
    rows = session.execute(
        select(Proxy.phone, Recipient.alert_id, Alert.issued_at, Recipient.id)
        .join(Recipient, Proxy.household_id == Recipient.household_id)
        .join(Alert, Alert.id == Recipient.alert_id)
        .where(Proxy.phone.in_(senders), Alert.state.in_(OPEN))
    )
    best: dict[str, tuple[dt.datetime, int, int]] = {}
    for phone, alert_id, issued_at, recipient_id in rows:
        key = (issued_at or EARLIEST, -recipient_id, alert_id)
        if phone not in best or key[:2] > best[phone][:2]:
            best[phone] = key
    return {phone: key[2] for phone, key in best.items()}


def _members(
    session: Session, alert_id: int, numbers: list[str], found: dict[str, dict[int, Answerer]]
) -> None:
    # `alert_id + 0`: driven by the phone index, not by walking the alert's households
    rows = session.execute(
        select(Recipient.id, Person.id, Person.phone)
        .join(Person, Person.household_id == Recipient.household_id)
        .where(
            Recipient.alert_id + 0 == alert_id,
            Person.phone.in_(numbers),
            Person.active.is_(True),
        )
        .order_by(Recipient.id, Person.position)
    )
    for recipient_id, person_id, phone in rows:
        found[str(phone)].setdefault(
            recipient_id, Answerer(recipient_id, ConfirmedBy.member, person_id)
        )


def _proxies(
    session: Session, alert_id: int, numbers: list[str], found: dict[str, dict[int, Answerer]]
) -> None:
    rows = session.execute(
        select(Recipient.id, Proxy.id, Proxy.may_confirm, Proxy.phone)
        .join(Proxy, Proxy.household_id == Recipient.household_id)
        .where(Recipient.alert_id + 0 == alert_id, Proxy.phone.in_(numbers))
        .order_by(Recipient.id, Proxy.may_confirm.desc(), Proxy.position)
    )
    for recipient_id, proxy_id, may_confirm, phone in rows:
        found[phone].setdefault(
            recipient_id,
            Answerer(
                recipient_id, ConfirmedBy.proxy, proxy_id=proxy_id, may_confirm=bool(may_confirm)
            ),
        )


def households_of(session: Session, recipient_ids: set[int]) -> dict[int, int]:
    """The household of each recipient."""
    if not recipient_ids:
        return {}
    rows = session.execute(
        select(Recipient.id, Recipient.household_id).where(Recipient.id.in_(recipient_ids))
    )
    return {int(rid): int(hid) for rid, hid in rows}


def phones_of(session: Session, household_ids: set[int]) -> dict[int, set[str]]:
    """Every phone listed in each household (the numbers its acknowledgement may have gone to)."""
    found: dict[int, set[str]] = {}
    if household_ids:
        rows = session.execute(
            select(Person.household_id, Person.phone).where(
                Person.household_id.in_(household_ids), Person.phone.is_not(None)
            )
        )
        for household_id, phone in rows:
            found.setdefault(household_id, set()).add(str(phone))
    return found
