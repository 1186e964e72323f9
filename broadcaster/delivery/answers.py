"""The set-based statements that store a provider's answers on deliveries and their attempts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    column,
    func,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.dml import Update
from sqlalchemy.types import TypeEngine

from broadcaster.delivery.attempts import LEASE_EXPIRED, report_statement
from broadcaster.delivery.models import Delivery, DeliveryAttempt, DeliveryState
from channels.base import Outcome

deliveries = cast(Table, Delivery.__table__)
attempts = cast(Table, DeliveryAttempt.__table__)
S = DeliveryState

# An answer's parameters: state, provider, error, segments, now, not_before, final (an
# executemany names them d_<name>; PostgreSQL's set-based form takes their arrays).
Param = Callable[[str], Any]
_RELEASED = {"lease_token": None, "lease_expires_at": None}


def _param(name: str) -> Any:
    return bindparam(f"d_{name}")


def _on_delivery(outcome: Outcome, p: Param) -> dict[str, object]:
    """What an answer writes on its delivery. A refusal: nothing was sent (failed for good,
    or queued again to retry)."""
    if outcome is Outcome.accepted:
        return {
            "state": p("state"),  # sent, or delivered when the answer is final
            "provider_id": p("provider"),
            "segments": p("segments"),
            "sent_at": p("now"),
            "error_code": None,  # an earlier attempt's refusal is history (kept on that attempt)
            "final_at": p("final"),
            **_RELEASED,
        }
    if outcome is Outcome.failed:
        return {
            "state": S.failed.value,
            "error_code": p("error"),
            "final_at": p("now"),
            **_RELEASED,
        }
    if outcome is Outcome.retry:
        return {
            "state": S.queued.value,
            "error_code": p("error"),
            "not_before": p("not_before"),
            **_RELEASED,
        }
    return {"state": S.unknown.value, "error_code": p("error"), "sent_at": p("now"), **_RELEASED}


def _on_attempt(outcome: Outcome, p: Param) -> dict[str, object]:
    """What an answer writes on the delivery's attempt that is out. A retry: nothing was
    sent, so this attempt is history and the next lease makes a new one."""
    if outcome is Outcome.accepted:
        return {
            "outcome": p("state"),
            "provider_message_id": p("provider"),
            "finished_at": p("final"),
        }
    if outcome is Outcome.unknown:
        return {"outcome": S.unknown.value, "error_code": p("error")}
    done = S.failed if outcome is Outcome.failed else S.superseded
    return {"outcome": done.value, "error_code": p("error"), "finished_at": p("now")}


# Each statement runs as one executemany per outcome over the same parameters: d_id,
# d_token and the answer's (above) as d_<name>.
_LEASED = and_(
    deliveries.c.id == bindparam("d_id"),
    deliveries.c.lease_token == bindparam("d_token"),
    deliveries.c.state == S.sending.value,
)
ON_DELIVERY: dict[Outcome, Update] = {
    outcome: update(deliveries).where(_LEASED).values(**_on_delivery(outcome, _param))
    for outcome in Outcome
}

# The delivery's attempt that is out (`sending`: one at most) gets the same answer. The
# ledger runs these only for rows it found under this worker's lease, locked.
_OUT = and_(attempts.c.delivery_id == bindparam("d_id"), attempts.c.outcome == S.sending.value)
ON_ATTEMPT: dict[Outcome, Update] = {
    outcome: update(attempts).where(_OUT).values(**_on_attempt(outcome, _param))
    for outcome in Outcome
}

# An acceptance that came after its lease ran out (the attempt is `unknown`): sent, forward.
# Parameters: r_id, r_provider.
LATE_ACCEPT = report_statement(S.sent, frozenset({S.unknown})).values(error_code=None)

# A refusal (nothing was sent) that came after its lease ran out: the delivery, `unknown`
# since, is failed or queued again as the provider said, and its attempt with it — its fate
# is known, so no lookup is needed (none can answer while that provider is down). The ledger
# runs the attempt's statement only for rows it found so, locked. Parameters as ON_DELIVERY's.
_EXPIRED = and_(
    deliveries.c.id == bindparam("d_id"),
    deliveries.c.state == S.unknown.value,
    deliveries.c.lease_token.is_(None),
    deliveries.c.provider_id.is_(None),
    deliveries.c.error_code == LEASE_EXPIRED,
)
_LOST = and_(attempts.c.delivery_id == bindparam("d_id"), attempts.c.outcome == S.unknown.value)
LATE_REFUSAL: dict[Outcome, tuple[Update, Update]] = {
    outcome: (
        update(deliveries).where(_EXPIRED).values(**_on_delivery(outcome, _param)),
        update(attempts).where(_LOST).values(**_on_attempt(outcome, _param)),
    )
    for outcome in (Outcome.failed, Outcome.retry)
}

# PostgreSQL: a batch's answers of one outcome as one UPDATE … FROM unnest(…) for the
# deliveries and one for their attempts. Run as executemany, each answer was a statement of
# its own, and each statement fires the tables' statement-level triggers (tallies, flags,
# references): on the million-household run those made the workers' database connections
# the busiest processes on the machine. The attempt is named by its full key (the number is
# the lease count, unchanged while the lease holds): a unique key keeps the join on the
# primary key whatever the statistics say of a table that grew since they were taken.
# each unnested column: its array parameter, its executemany name, its type
_ARRAYS: dict[str, tuple[str, str, TypeEngine[Any]]] = {
    "id": ("ids", "d_id", BigInteger()),
    "number": ("numbers", "d_number", Integer()),
    "state": ("states", "d_state", String()),
    "provider": ("providers", "d_provider", String()),
    "error": ("errors", "d_error", String()),
    "segments": ("segment_counts", "d_segments", Integer()),
    "not_before": ("not_befores", "d_not_before", DateTime(timezone=True)),
    "final": ("finals", "d_final", DateTime(timezone=True)),
}
_ROWS = (
    func.unnest(*(sql_cast(bindparam(a), ARRAY(t)) for a, _n, t in _ARRAYS.values()))
    .table_valued(*(column(name, t) for name, (_a, _n, t) in _ARRAYS.items()))
    .render_derived(name="r")
)


def _row(name: str) -> Any:
    return bindparam("now") if name == "now" else _ROWS.c[name]


SET_BASED: dict[Outcome, tuple[Update, Update]] = {
    outcome: (
        update(deliveries)
        .where(
            deliveries.c.id == _ROWS.c.id,
            deliveries.c.lease_token == bindparam("token"),
            deliveries.c.state == S.sending.value,
        )
        .values(**_on_delivery(outcome, _row)),
        update(attempts)
        .where(
            attempts.c.delivery_id == _ROWS.c.id,
            attempts.c.number == _ROWS.c.number,
            attempts.c.outcome == S.sending.value,
        )
        .values(**_on_attempt(outcome, _row)),
    )
    for outcome in Outcome
}
CHUNK = 1000  # answers per statement


def store_answers(
    connection: Connection, outcome: Outcome, params: Sequence[dict[str, Any]], token: str
) -> int:
    """Store a batch's answers of one outcome (parameters as ON_DELIVERY's, with d_number:
    the attempt's number) on the deliveries still leased by `token` and on their attempts
    that are out; how many deliveries matched."""
    if connection.dialect.name != "postgresql":  # SQLite: a prepared statement per row, in C
        matched = connection.execute(ON_DELIVERY[outcome], list(params)).rowcount
        connection.execute(ON_ATTEMPT[outcome], list(params))
        return int(matched)
    for_deliveries, for_attempts = SET_BASED[outcome]
    matched = 0
    for start in range(0, len(params), CHUNK):
        chunk = params[start : start + CHUNK]
        arrays: dict[str, Any] = {
            key: [row[name] for row in chunk] for key, name, _type in _ARRAYS.values()
        }
        arrays.update(token=token, now=chunk[0]["d_now"])
        matched += connection.execute(for_deliveries, arrays).rowcount
        connection.execute(for_attempts, arrays)
    return matched
