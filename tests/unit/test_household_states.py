"""A household's state under an alert only moves forward, by the one table of moves."""

from __future__ import annotations

from broadcaster.alerts.models import RecipientState as R
from broadcaster.alerts.states import FINAL, MOVES_FROM, NOT_FINAL, may_move

# How far a household has got: reaching it, then its answer, and a help request last.
RANK = {R.pending: 0, R.reached: 1, R.unreachable: 1, R.confirmed: 2, R.visited: 2,
        R.needs_help: 3}  # fmt: skip


def test_every_state_is_final_or_not_and_never_both() -> None:
    assert set(FINAL) | set(NOT_FINAL) == set(R)
    assert not set(FINAL) & set(NOT_FINAL)


def test_every_move_goes_forward() -> None:
    for target, sources in MOVES_FROM.items():
        for source in sources:
            assert RANK[source] < RANK[target], (source, target)


def test_a_final_household_never_moves_back() -> None:
    for final in FINAL:
        for target in NOT_FINAL:
            assert not may_move(final, target)
    assert may_move(R.confirmed, R.needs_help)  # a safe household can still ask for help
    assert not may_move(R.needs_help, R.confirmed)
    assert may_move(R.pending, R.reached)
    assert not may_move(R.reached, R.reached)
