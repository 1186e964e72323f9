"""The set-based statements that store a provider's answers on deliveries and their attempts."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, and_, bindparam, update
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
