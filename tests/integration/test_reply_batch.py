"""A group of replies kept set-based leaves the same record as the same replies kept one after
another: messages, answers, household states, withdrawn sends, acknowledgements, audit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Recipient
from broadcaster.auth.models import AuditEvent
from broadcaster.confirm.models import Confirmation, HelpRequest, InboundMessage
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery
from broadcaster.flows.replies import Ack, Inbound, keep_reply
from broadcaster.flows.reply_batch import keep_replies
from broadcaster.followup.models import VisitTask
from broadcaster.settings import Settings
from tests.factories import alerts as fa
from tests.factories import registry as f

SMS = "sms"
SHARED, PROXY = "+8617411110001", "+8617422220002"
IDS = {"visit"}  # new rows' ids: PostgreSQL's sequences move on past a rollback


def record(session: Session) -> dict[str, Any]:
    """What the replies left, without ids and times."""
    session.flush()
    return {
        "inbound": sorted(
            session.execute(
                select(
                    InboundMessage.provider_id,
                    InboundMessage.sender,
                    InboundMessage.answer,
                    InboundMessage.alert_id,
                    InboundMessage.recipient_id,
                )
            ).all()
        ),
        "answers": sorted(
            session.execute(
                select(
                    Confirmation.recipient_id,
                    Confirmation.person_id,
                    Confirmation.answer,
                    Confirmation.by,
                    Confirmation.round,
                    Confirmation.confirmed_by,
                    Confirmation.proxy_id,
                    Confirmation.final,
                )
            ).all(),
            key=repr,
        ),
        "households": sorted(
            session.execute(
                select(Recipient.id, Recipient.state, Recipient.next_action_at.is_(None))
            ).all()
        ),
        "deliveries": sorted(
            session.execute(
                select(
                    Delivery.recipient_id,
                    Delivery.address,
                    Delivery.channel,
                    Delivery.state,
                    Delivery.notice,
                    Delivery.error_code,
                    Delivery.revision,
                )
            ).all(),
            key=repr,
        ),
        "visits": sorted(
            session.execute(select(VisitTask.recipient_id, VisitTask.state)).all(), key=repr
        ),
        "help": sorted(session.execute(select(HelpRequest.recipient_id)).all()),
        "audit": sorted(
            (e.action, e.object_id, sorted((k, v) for k, v in e.detail.items() if k not in IDS))
            for e in session.scalars(select(AuditEvent))
        ),
    }


def test_a_group_of_replies_leaves_what_one_reply_after_another_leaves(
    db: Database, settings: Settings
) -> None:
    with db.transaction() as session:
        grid = f.zone_tree(session)["G1"]
        for n in range(6):
            f.household(session, grid=grid, phones=(f"+86174555000{n}",))
        f.household(session, grid=grid, code="PARENTS", phones=(SHARED,))
        f.household(session, grid=grid, code="SON", phones=("+8617411110002", SHARED))
        cared = f.household(session, grid=grid, code="CARED", vulnerability=("bedridden",))
        f.proxy(session, household=cared, phone=PROXY)
        phones = [f"+86174555000{n}" for n in range(6)]
    alert_id = fa.issue(db, settings, zones=["V1"]).alert.id
    fa.mark_sent(db, alert_id)
    messages = [
        Inbound("SM1", phones[0], "1", SMS),  # plain safe answers, set-based
        Inbound("SM2", phones[1], "平安", SMS),
        Inbound("SM3", phones[2], "hello?", SMS),  # kept, not understood
        Inbound("SM1", phones[0], "1", SMS),  # the provider sent it again
        Inbound("SM4", phones[3], "2", SMS),  # help: one at a time
        Inbound("SM5", SHARED, "1", SMS),  # a shared phone: both households
        Inbound("SM6", PROXY, "1", SMS),  # a proxy: kept, a visit still due
        Inbound("SM7", phones[4], "1", SMS),  # the same number twice in one group
        Inbound("SM8", phones[4], "2", SMS),
        Inbound("SM9", "+8617499999999", "1", SMS),  # a stranger
        Inbound("SM10", phones[5], "1", SMS),
    ]
    results = []
    for together in (True, False):
        acks: list[Ack] = []
        with db.dry_run() as session:
            now = utcnow()
            if together:
                keep_replies(session, messages, now, acks)
            else:
                for message in messages:
                    keep_reply(session, message, now, acks)
            results.append((record(session), sorted(acks, key=repr)))
    (grouped, grouped_acks), (single, single_acks) = results
    assert len(grouped["inbound"]) == 10
    assert len(grouped_acks) >= 6
    for part in grouped:
        assert grouped[part] == single[part], part
    assert grouped_acks == single_acks
