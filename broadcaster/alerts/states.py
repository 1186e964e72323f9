"""A household's state under an alert: the one table of the moves it may make, forward only,
within one round; a revision that asks again starts a new round (never a move back)."""

from __future__ import annotations

from sqlalchemy import ColumnElement

from broadcaster.alerts.models import Recipient, RecipientState

R = RecipientState

# A household is final once it confirmed, asked for help or was visited.
FINAL = (R.confirmed, R.needs_help, R.visited)
NOT_FINAL = (R.pending, R.reached, R.unreachable)
# No longer concerned (the area was narrowed): out of the alert's counts, and where it ends.
OUT = (R.released,)
CONCERNED = (*NOT_FINAL, *FINAL)

# Each state a household may move into, from where. Nothing moves back: a confirmed or
# visited household can still ask for help, and a help request is where it ends.
MOVES_FROM: dict[RecipientState, frozenset[RecipientState]] = {
    R.reached: frozenset({R.pending}),
    R.confirmed: frozenset(NOT_FINAL),
    R.visited: frozenset(NOT_FINAL),
    R.needs_help: frozenset({*NOT_FINAL, R.confirmed, R.visited}),
    # a household asking for help is never released: its request stands
    R.released: frozenset({*NOT_FINAL, R.confirmed, R.visited}),
}


def may_move(current: RecipientState, target: RecipientState) -> bool:
    """Whether a household in `current` may move to `target`."""
    return current in MOVES_FROM.get(target, frozenset())


def movable_to(target: RecipientState) -> ColumnElement[bool]:
    """The SQL condition of households that may move to `target` (for set-based moves)."""
    return Recipient.state.in_(MOVES_FROM[target])


def starts_round(round_number: int) -> ColumnElement[bool]:
    """Households whose state belongs to an earlier round than `round_number` (the only ones a
    new round may start for): a round follows a later revision, and a round never repeats."""
    return (Recipient.round < round_number) & Recipient.state.in_(CONCERNED)
