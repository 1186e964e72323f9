"""A household's state under an alert: the one table of the moves it may make, forward only."""

from __future__ import annotations

from sqlalchemy import ColumnElement

from broadcaster.alerts.models import Recipient, RecipientState

R = RecipientState

# A household is final once it confirmed, asked for help or was visited.
FINAL = (R.confirmed, R.needs_help, R.visited)
NOT_FINAL = (R.pending, R.reached, R.unreachable)

# Each state a household may move into, from where. Nothing moves back: a confirmed or
# visited household can still ask for help, and a help request is where it ends.
MOVES_FROM: dict[RecipientState, frozenset[RecipientState]] = {
    R.reached: frozenset({R.pending}),
    R.confirmed: frozenset(NOT_FINAL),
    R.visited: frozenset(NOT_FINAL),
    R.needs_help: frozenset({*NOT_FINAL, R.confirmed, R.visited}),
}


def may_move(current: RecipientState, target: RecipientState) -> bool:
    """Whether a household in `current` may move to `target`."""
    return current in MOVES_FROM.get(target, frozenset())


def movable_to(target: RecipientState) -> ColumnElement[bool]:
    """The SQL condition of households that may move to `target` (for set-based moves)."""
    return Recipient.state.in_(MOVES_FROM[target])
