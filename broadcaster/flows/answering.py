"""One answer from one number, recorded for every household it answers for: as a member, or as
a proxy (代联系人) whose answer the policy may leave short of final (a visit still due)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Recipient
from broadcaster.alerts.policy import parse_policy
from broadcaster.alerts.states import NOT_FINAL
from broadcaster.auth.audit import Actor
from broadcaster.confirm.models import Answer, ConfirmedBy, ConfirmVia
from broadcaster.flows.confirming import record_confirmation
from broadcaster.flows.senders import Answerer
from broadcaster.followup.visits import create_visits
from broadcaster.registry.models import Household

PROXY_VISIT = "proxy_confirmed"  # a visit task's reason: a proxy answered, the policy wants a look


@dataclass(frozen=True)
class Answered:
    """A household an answer was recorded for, and the round it counted for."""

    recorded_for: Recipient
    round: int
    person_id: int | None
    final: bool
    # help notices queued to the responsible worker and the zone lead, per channel: the
    # caller enqueues them once committed
    sends: dict[str, int] = field(default_factory=dict)


def answer_for_households(
    session: Session,
    *,
    answerers: Sequence[Answerer],
    answer: Answer,
    via: ConfirmVia,
    actor: Actor,
    now: dt.datetime,
    text: str = "",
) -> list[Answered]:
    """Record `answer` for each household (locked in recipient order). A proxy's "safe" is
    kept but not final when the proxy may not confirm, or when the household has a
    vulnerability the alert's policy names (`proxy_still_visit`): then it gets a visit task
    at once. A call for help counts from anyone."""
    done: list[Answered] = []
    for who in sorted(answerers, key=lambda item: item.recipient_id):
        recipient = session.get(Recipient, who.recipient_id, with_for_update=True)
        assert recipient is not None
        alert = session.get_one(Alert, recipient.alert_id)
        final, visit = True, False
        if who.confirmed_by is ConfirmedBy.proxy and answer is not Answer.needs_help:
            household = session.get_one(Household, recipient.household_id)
            policy = parse_policy(alert.policy)
            final = who.may_confirm and policy.proxy_is_final(list(household.vulnerability))
            visit = who.may_confirm and not final
        recorded = record_confirmation(
            session,
            recipient=recipient,
            via=via,
            answer=answer,
            actor=actor,
            now=now,
            person_id=who.person_id,
            text=text,
            confirmed_by=who.confirmed_by,
            proxy_id=who.proxy_id,
            final=final,
        )
        if visit and recorded.confirmation.round == recipient.round:
            create_visits(
                session,
                alert=alert,
                condition=(Recipient.id == recipient.id) & Recipient.state.in_(NOT_FINAL),
                now=now,
                reassign_after=parse_policy(alert.policy).visit_reassign_after,
                reason=PROXY_VISIT,
            )
        done.append(
            Answered(recipient, recorded.confirmation.round, who.person_id, final, recorded.sends)
        )
    return done
