"""Provider status reports applied to deliveries and households: states only move forward."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, TextClause, and_, bindparam, exists, or_, select, text, update
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Recipient, RecipientState
from broadcaster.alerts.states import movable_to
from broadcaster.db.planner import unindexed
from broadcaster.delivery.attempts import report_statement
from broadcaster.delivery.ledger import lock_in_order
from broadcaster.delivery.models import Delivery, DeliveryState

deliveries = cast(Table, Delivery.__table__)
S = DeliveryState

# The states a delivery may come from to reach each state (DESIGN §3.4).
PREDECESSORS: dict[DeliveryState, frozenset[DeliveryState]] = {
    S.sent: frozenset({S.queued, S.sending, S.unknown}),
    S.delivered: frozenset({S.queued, S.sending, S.unknown, S.sent}),
    S.failed: frozenset({S.queued, S.sending, S.unknown, S.sent}),
}
FINAL = frozenset({S.delivered, S.failed})


@dataclass(frozen=True)
class StatusReport:
    """One provider report about one delivery (matched by our id, checked by provider id)."""

    delivery_id: int
    provider_id: str
    state: DeliveryState
    error_code: str | None = None


def _statement(state: DeliveryState):  # type: ignore[no-untyped-def]
    values: dict[str, object] = {
        "state": state.value,
        "provider_id": bindparam("r_provider"),
        "lease_token": None,
        "lease_expires_at": None,
    }
    if state in FINAL:
        values["final_at"] = bindparam("r_now")
    if state is S.failed:
        values["error_code"] = bindparam("r_error")
    if state is S.delivered:
        values["error_code"] = None  # a refused earlier attempt is not this message's fate
    return (
        update(deliveries)
        .where(
            and_(
                deliveries.c.id == bindparam("r_id"),
                # equalities, not IN: an expanding IN cannot run as executemany
                or_(*(deliveries.c.state == s.value for s in sorted(PREDECESSORS[state]))),
                or_(
                    deliveries.c.provider_id.is_(None),
                    deliveries.c.provider_id == bindparam("r_provider"),
                ),
            )
        )
        .values(**values)
    )


_STATEMENTS = {state: _statement(state) for state in PREDECESSORS}
# The attempt a report is about moves forward by the same table (a superseded one never).
_ATTEMPTS = {state: report_statement(state, PREDECESSORS[state]) for state in PREDECESSORS}
CHUNK = 1000  # reports per statement
# PostgreSQL: a batch as three arrays unnested into rows — one statement text for any batch
# size (compiled once, three parameters), where VALUES rows are compiled and sent anew
UNNEST = (
    "unnest(CAST(:ids AS bigint[]), CAST(:providers AS varchar[]), CAST(:errors AS varchar[]))"
    " AS r(id, provider, error)"
)


def _within(column: str, state: DeliveryState) -> str:
    return f"{column} IN ({', '.join(repr(s.value) for s in sorted(PREDECESSORS[state]))})"


def _set_based(state: DeliveryState) -> TextClause:
    """`_statement` for a whole batch: one UPDATE … FROM unnest(…) (PostgreSQL)."""
    values = [f"state = '{state.value}'", "provider_id = r.provider"]
    values += ["lease_token = NULL", "lease_expires_at = NULL"]
    if state in FINAL:
        values.append("final_at = :now")
    if state is S.failed:
        values.append("error_code = r.error")
    if state is S.delivered:
        values.append("error_code = NULL")
    return text(
        f"UPDATE deliveries AS d SET {', '.join(values)} FROM {UNNEST} "  # noqa: S608 (constants)
        f"WHERE d.id = r.id AND {_within('d.state', state)} "
        "AND (d.provider_id IS NULL OR d.provider_id = r.provider)"
    )


def _set_based_attempts(state: DeliveryState) -> TextClause:
    """`report_statement` for a whole batch (PostgreSQL)."""
    values = [f"outcome = '{state.value}'", "provider_message_id = r.provider"]
    if state in FINAL:
        values.append("finished_at = :now")
        values.append("error_code = r.error" if state is S.failed else "error_code = NULL")
    return text(
        f"UPDATE delivery_attempts AS a SET {', '.join(values)} FROM {UNNEST} "  # noqa: S608
        f"WHERE a.delivery_id = r.id AND {_within('a.outcome', state)} "
        "AND (a.provider_message_id IS NULL OR a.provider_message_id = r.provider)"
    )


_SET_BASED = {state: (_set_based(state), _set_based_attempts(state)) for state in PREDECESSORS}


def apply_reports(session: Session, reports: Sequence[StatusReport], now: dt.datetime) -> int:
    """Apply a batch of reports to deliveries and their attempts; returns how many moved a
    delivery forward."""
    lock_in_order(session, [r.delivery_id for r in reports])
    moved = 0
    by_state: dict[DeliveryState, list[dict[str, object]]] = {}
    for report in reports:
        if report.state not in _STATEMENTS:
            continue
        by_state.setdefault(report.state, []).append(
            {
                "r_id": report.delivery_id,
                "r_provider": report.provider_id,
                "r_error": report.error_code,
                "r_now": now,
            }
        )
    for state in (S.sent, S.delivered, S.failed):  # forward order within one batch
        params = by_state.get(state, [])
        connection = session.connection()
        if params and connection.dialect.name != "postgresql":
            # SQLite: one prepared statement run per row in C (no round trips; its UPDATE …
            # FROM takes no VALUES with column names)
            moved += connection.execute(_STATEMENTS[state], params).rowcount
            connection.execute(_ATTEMPTS[state], params)
            continue
        for start in range(0, len(params), CHUNK):
            chunk = params[start : start + CHUNK]
            arrays = {
                "ids": [row["r_id"] for row in chunk],
                "providers": [row["r_provider"] for row in chunk],
                "errors": [row["r_error"] for row in chunk],
                "now": now,
            }
            for_deliveries, for_attempts = _SET_BASED[state]
            moved += connection.execute(for_deliveries, arrays).rowcount
            connection.execute(for_attempts, arrays)
    delivered = [r.delivery_id for r in reports if r.state is S.delivered]
    if delivered:
        mark_reached(session, delivered, now)
    return moved


def mark_reached(session: Session, delivery_ids: Sequence[int], now: dt.datetime) -> None:
    """Households with a delivered message move from pending to reached — a message of their
    current round (a late report of an earlier revision's message, or a notice such as the
    all-clear, reaches nobody for this round)."""
    delivered = (
        Delivery.id.in_(delivery_ids),
        unindexed(Delivery.state) == S.delivered,  # by the keys, not every delivered row
        Delivery.notice.is_(None),
    )
    households = select(Delivery.recipient_id).where(*delivered)
    this_round = exists().where(
        *delivered, Delivery.recipient_id == Recipient.id, Delivery.revision >= Recipient.round
    )
    session.execute(
        update(Recipient)
        .where(Recipient.id.in_(households), this_round, movable_to(RecipientState.reached))
        .values(state=RecipientState.reached, reached_at=now)
        .execution_options(synchronize_session=False)
    )
