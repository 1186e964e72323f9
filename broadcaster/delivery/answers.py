"""The set-based statements that store a provider's answers on deliveries and their attempts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Connection, Table, TextClause, and_, bindparam, text, update
from sqlalchemy.sql.dml import Update

from broadcaster.delivery.attempts import LEASE_EXPIRED, report_statement
from broadcaster.delivery.models import Delivery, DeliveryAttempt, DeliveryState
from channels.base import Outcome

deliveries = cast(Table, Delivery.__table__)
attempts = cast(Table, DeliveryAttempt.__table__)
S = DeliveryState

# Each statement runs as one executemany per outcome over the same parameters: d_id,
# d_token, d_now, d_state, d_provider, d_error, d_segments, d_not_before, d_final.
_LEASED = and_(
    deliveries.c.id == bindparam("d_id"),
    deliveries.c.lease_token == bindparam("d_token"),
    deliveries.c.state == S.sending.value,
)
_RELEASED = {"lease_token": None, "lease_expires_at": None}
# A refusal: nothing was sent (failed for good, or queued again to retry).
_REFUSED: dict[Outcome, dict[str, object]] = {
    Outcome.failed: {
        "state": S.failed.value,
        "error_code": bindparam("d_error"),
        "final_at": bindparam("d_now"),
        **_RELEASED,
    },
    Outcome.retry: {
        "state": S.queued.value,
        "error_code": bindparam("d_error"),
        "not_before": bindparam("d_not_before"),
        **_RELEASED,
    },
}
ON_DELIVERY: dict[Outcome, Update] = {
    Outcome.accepted: update(deliveries)
    .where(_LEASED)
    .values(
        state=bindparam("d_state"),  # sent, or delivered when the answer is final
        provider_id=bindparam("d_provider"),
        segments=bindparam("d_segments"),
        sent_at=bindparam("d_now"),
        error_code=None,  # an earlier attempt's refusal is history (kept on that attempt)
        final_at=bindparam("d_final"),
        **_RELEASED,
    ),
    Outcome.failed: update(deliveries).where(_LEASED).values(**_REFUSED[Outcome.failed]),
    Outcome.retry: update(deliveries).where(_LEASED).values(**_REFUSED[Outcome.retry]),
    Outcome.unknown: update(deliveries)
    .where(_LEASED)
    .values(
        state=S.unknown.value,
        error_code=bindparam("d_error"),
        sent_at=bindparam("d_now"),
        **_RELEASED,
    ),
}

# The delivery's attempt that is out (`sending`: one at most) gets the same answer. The
# ledger runs these only for rows it found under this worker's lease, locked.
_OUT = and_(attempts.c.delivery_id == bindparam("d_id"), attempts.c.outcome == S.sending.value)
_ATTEMPT_REFUSED: dict[Outcome, dict[str, object]] = {
    Outcome.failed: {
        "outcome": S.failed.value,
        "error_code": bindparam("d_error"),
        "finished_at": bindparam("d_now"),
    },
    # nothing was sent: this attempt is history, the next lease makes a new one
    Outcome.retry: {
        "outcome": S.superseded.value,
        "error_code": bindparam("d_error"),
        "finished_at": bindparam("d_now"),
    },
}
ON_ATTEMPT: dict[Outcome, Update] = {
    Outcome.accepted: update(attempts)
    .where(_OUT)
    .values(
        outcome=bindparam("d_state"),
        provider_message_id=bindparam("d_provider"),
        finished_at=bindparam("d_final"),
    ),
    Outcome.failed: update(attempts).where(_OUT).values(**_ATTEMPT_REFUSED[Outcome.failed]),
    Outcome.retry: update(attempts).where(_OUT).values(**_ATTEMPT_REFUSED[Outcome.retry]),
    Outcome.unknown: update(attempts)
    .where(_OUT)
    .values(outcome=S.unknown.value, error_code=bindparam("d_error")),
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
        update(deliveries).where(_EXPIRED).values(**_REFUSED[outcome]),
        update(attempts).where(_LOST).values(**_ATTEMPT_REFUSED[outcome]),
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
_ROWS = (
    "unnest(CAST(:ids AS bigint[]), CAST(:numbers AS int[]), CAST(:states AS varchar[]), "
    "CAST(:providers AS varchar[]), CAST(:errors AS varchar[]), CAST(:segments AS int[]), "
    "CAST(:not_befores AS timestamptz[]), CAST(:finals AS timestamptz[])) "
    "AS r(id, number, state, provider, error, segments, not_before, final)"
)
_DELIVERY_SET = {
    Outcome.accepted: "state = r.state, provider_id = r.provider, segments = r.segments, "
    "sent_at = :now, error_code = NULL, final_at = r.final",
    Outcome.failed: "state = 'failed', error_code = r.error, final_at = :now",
    Outcome.retry: "state = 'queued', error_code = r.error, not_before = r.not_before",
    Outcome.unknown: "state = 'unknown', error_code = r.error, sent_at = :now",
}
_ATTEMPT_SET = {
    Outcome.accepted: "outcome = r.state, provider_message_id = r.provider, finished_at = r.final",
    Outcome.failed: "outcome = 'failed', error_code = r.error, finished_at = :now",
    Outcome.retry: "outcome = 'superseded', error_code = r.error, finished_at = :now",
    Outcome.unknown: "outcome = 'unknown', error_code = r.error",
}
SET_BASED: dict[Outcome, tuple[TextClause, TextClause]] = {
    outcome: (
        text(
            f"UPDATE deliveries AS d SET {_DELIVERY_SET[outcome]}, lease_token = NULL, "  # noqa: S608 (constants)
            f"lease_expires_at = NULL FROM {_ROWS} "
            "WHERE d.id = r.id AND d.lease_token = :token AND d.state = 'sending'"
        ),
        text(
            f"UPDATE delivery_attempts AS a SET {_ATTEMPT_SET[outcome]} FROM {_ROWS} "  # noqa: S608
            "WHERE a.delivery_id = r.id AND a.number = r.number AND a.outcome = 'sending'"
        ),
    )
    for outcome in Outcome
}
_ARRAYS = {
    "ids": "d_id",
    "numbers": "d_number",
    "states": "d_state",
    "providers": "d_provider",
    "errors": "d_error",
    "segments": "d_segments",
    "not_befores": "d_not_before",
    "finals": "d_final",
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
            key: [row[name] for row in chunk] for key, name in _ARRAYS.items()
        }
        arrays.update(token=token, now=chunk[0]["d_now"])
        matched += connection.execute(for_deliveries, arrays).rowcount
        connection.execute(for_attempts, arrays)
    return matched
