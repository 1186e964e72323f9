"""The set-based statements that store a provider's answers on deliveries and their attempts."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, and_, bindparam, update
from sqlalchemy.sql.dml import Update

from broadcaster.delivery.attempts import report_statement
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
    Outcome.failed: update(deliveries)
    .where(_LEASED)
    .values(
        state=S.failed.value,
        error_code=bindparam("d_error"),
        final_at=bindparam("d_now"),
        **_RELEASED,
    ),
    Outcome.retry: update(deliveries)
    .where(_LEASED)
    .values(
        state=S.queued.value,
        error_code=bindparam("d_error"),
        not_before=bindparam("d_not_before"),
        **_RELEASED,
    ),
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
ON_ATTEMPT: dict[Outcome, Update] = {
    Outcome.accepted: update(attempts)
    .where(_OUT)
    .values(
        outcome=bindparam("d_state"),
        provider_message_id=bindparam("d_provider"),
        finished_at=bindparam("d_final"),
    ),
    Outcome.failed: update(attempts)
    .where(_OUT)
    .values(
        outcome=S.failed.value, error_code=bindparam("d_error"), finished_at=bindparam("d_now")
    ),
    # nothing was sent: this attempt is history, the next lease makes a new one
    Outcome.retry: update(attempts)
    .where(_OUT)
    .values(
        outcome=S.superseded.value, error_code=bindparam("d_error"), finished_at=bindparam("d_now")
    ),
    Outcome.unknown: update(attempts)
    .where(_OUT)
    .values(outcome=S.unknown.value, error_code=bindparam("d_error")),
}

# An acceptance that came after its lease ran out (the attempt is `unknown`): sent, forward.
# Parameters: r_id, r_provider.
LATE_ACCEPT = report_statement(S.sent, frozenset({S.unknown})).values(error_code=None)
