"""Who a reply's number answers for: every household of the alert it belongs to, as a member or
as a proxy (代联系人) — one number may be registered in several households."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, AlertState, Recipient
from broadcaster.alerts.texts import NOTICE_HELP
from broadcaster.confirm.models import ConfirmedBy
from broadcaster.delivery.models import Delivery
from broadcaster.registry.models import Person, Proxy

OPEN = (AlertState.sending, AlertState.active)
# a worker told of a household's call for help does not answer for it by replying
NOT_HELP_NOTICE = or_(Delivery.notice.is_(None), Delivery.notice != NOTICE_HELP)


@dataclass(frozen=True)
class Answerer:
    """One household a number answers for, and in which capacity."""

    recipient_id: int
    confirmed_by: ConfirmedBy
    person_id: int | None = None
    proxy_id: int | None = None
    may_confirm: bool = True  # a proxy may be listed to be told, not to answer


def reply_alert(session: Session, *, sender: str, medium: str) -> int | None:
    """The open alert a reply answers: the latest that sent to this number on the reply's
    medium, else the latest open alert of a household listing the number as its proxy."""
    sent = session.scalar(
        select(Delivery.alert_id)
        .join(Alert, Alert.id == Delivery.alert_id)
        .where(
            Delivery.address == sender,
            Delivery.channel == medium,
            Alert.state.in_(OPEN),
            NOT_HELP_NOTICE,
        )
        .order_by(Alert.issued_at.desc(), Delivery.id.desc())
        .limit(1)
    )
    if sent is not None:
        return sent
    return session.scalar(
        select(Recipient.alert_id)
        .join(Alert, Alert.id == Recipient.alert_id)
        .join(Proxy, Proxy.household_id == Recipient.household_id)
        .where(Proxy.phone == sender, Alert.state.in_(OPEN))
        .order_by(Alert.issued_at.desc(), Recipient.id)
        .limit(1)
    )


def answerers(session: Session, *, alert_id: int, sender: str, medium: str) -> list[Answerer]:
    """Every household of the alert this number answers for, in recipient order: those it
    was sent to on `medium`, those listing it as a member's phone, and those listing it as a
    proxy's. A member's number counts as the member's even if it is also a proxy's."""
    found: dict[int, Answerer] = {}
    members = session.execute(
        select(Recipient.id, Person.id)
        .join(Person, Person.household_id == Recipient.household_id)
        .where(Recipient.alert_id == alert_id, Person.phone == sender, Person.active.is_(True))
        .order_by(Recipient.id, Person.position)
    )
    for recipient_id, person_id in members:
        found.setdefault(recipient_id, Answerer(recipient_id, ConfirmedBy.member, person_id))
    proxies = session.execute(
        select(Recipient.id, Proxy.id, Proxy.may_confirm)
        .join(Proxy, Proxy.household_id == Recipient.household_id)
        .where(Recipient.alert_id == alert_id, Proxy.phone == sender)
        .order_by(Recipient.id, Proxy.may_confirm.desc(), Proxy.position)
    )
    for recipient_id, proxy_id, may_confirm in proxies:
        found.setdefault(
            recipient_id,
            Answerer(
                recipient_id,
                ConfirmedBy.proxy,
                proxy_id=proxy_id,
                may_confirm=bool(may_confirm),
            ),
        )
    sent = session.execute(
        select(Delivery.recipient_id, Delivery.person_id)
        .where(
            Delivery.alert_id == alert_id,
            Delivery.address == sender,
            Delivery.channel == medium,
            NOT_HELP_NOTICE,
        )
        .order_by(Delivery.id.desc())
    )
    for sent_to, sent_person in sent:  # sent to, but no longer listed: as it was sent
        if sent_to is not None and sent_to not in found:
            found[sent_to] = Answerer(sent_to, ConfirmedBy.member, sent_person)
    return [found[key] for key in sorted(found)]
