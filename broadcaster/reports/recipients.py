"""The recipients table of one alert, filtered and paged."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Recipient, RecipientState
from broadcaster.alerts.schemas import AttemptOut, ConfirmationOut, RecipientOut, RecipientPage
from broadcaster.confirm.models import Confirmation
from broadcaster.delivery.attempts import AttemptRow, of_recipients
from broadcaster.delivery.models import Delivery
from broadcaster.registry.models import Household, Zone
from broadcaster.registry.service import households_in_zone, zone_by_code


def recipient_page(
    session: Session,
    *,
    alert: Alert,
    state: RecipientState | None,
    zone: str | None,
    vulnerable: bool | None,
    offset: int,
    limit: int,
) -> RecipientPage:
    stmt = (
        select(Recipient, Household.code, Household.head_name, Zone.code)
        .join(Household, Household.id == Recipient.household_id)
        .join(Zone, Zone.id == Household.grid_id)
        .where(Recipient.alert_id == alert.id)
    )
    if state is not None:
        stmt = stmt.where(Recipient.state == state)
    if vulnerable is not None:
        stmt = stmt.where(Recipient.is_vulnerable.is_(vulnerable))
    if zone:
        stmt = stmt.where(Household.id.in_(households_in_zone(zone_by_code(session, zone))))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(
        stmt.order_by(Recipient.priority, Recipient.id).offset(offset).limit(limit)
    ).all()
    states = _delivery_states(session, [r[0].id for r in rows])
    attempts = of_recipients(session, [r[0].id for r in rows])
    answers = confirmations_of(session, [r[0] for r in rows])
    items = [
        RecipientOut(
            household_code=code,
            head_name=head,
            grid_code=grid,
            state=r.state,
            is_vulnerable=r.is_vulnerable,
            priority=r.priority,
            reached_at=r.reached_at,
            deliveries=states.get(r.id, {}),
            attempts=[_attempt(a) for a in attempts.get(r.id, [])],
            confirmations=answers.get(r.id, []),
        )
        for r, code, head, grid in rows
    ]
    return RecipientPage(total=total, offset=offset, limit=limit, items=items)


def confirmations_of(
    session: Session, recipients: list[Recipient]
) -> dict[int, list[ConfirmationOut]]:
    """Each household's answers of its current round, oldest first, with who gave them."""
    found: dict[int, list[ConfirmationOut]] = {}
    rounds = {r.id: r.round for r in recipients}
    if not rounds:
        return found
    for row in session.scalars(
        select(Confirmation)
        .where(Confirmation.recipient_id.in_(rounds))
        .order_by(Confirmation.at, Confirmation.id)
    ):
        if row.round != rounds[row.recipient_id]:
            continue
        found.setdefault(row.recipient_id, []).append(
            ConfirmationOut(
                via=row.via.value,
                answer=row.answer.value,
                by=row.by,
                confirmed_by=row.confirmed_by.value if row.confirmed_by else None,
                final=row.final,
                at=row.at,
            )
        )
    return found


def _attempt(row: AttemptRow) -> AttemptOut:
    return AttemptOut(
        delivery=_key(row.channel, row.address),
        number=row.number,
        provider=row.provider,
        requested_at=row.requested_at,
        outcome=row.outcome.value,
        error_code=row.error_code,
        provider_message_id=row.provider_message_id,
        finished_at=row.finished_at,
    )


def _key(channel: str, address: str) -> str:
    """How the API names one of a household's deliveries: channel and the address's end."""
    return f"{channel}:{address[-4:]}"


def _delivery_states(session: Session, recipient_ids: list[int]) -> dict[int, dict[str, str]]:
    """For each recipient, the furthest state of each channel's deliveries ("sms": "delivered")."""
    found: dict[int, dict[str, str]] = {}
    if not recipient_ids:
        return found
    rows = session.execute(
        select(Delivery.recipient_id, Delivery.channel, Delivery.address, Delivery.state)
        .where(Delivery.recipient_id.in_(recipient_ids))
        .order_by(Delivery.id)
    )
    for recipient_id, channel, address, state in rows:
        if recipient_id is None:
            continue
        found.setdefault(recipient_id, {})[_key(channel, address)] = state.value
    return found
