"""A household's state under an alert only moves forward, by the one table of moves."""

from __future__ import annotations

from broadcaster.alerts.models import RecipientState as R
from broadcaster.alerts.states import CONCERNED, FINAL, MOVES_FROM, NOT_FINAL, OUT, may_move

# How far a household has got: reaching it, then its answer, and a help request; released
# (the area no longer includes it) ends its part in the alert.
RANK = {R.pending: 0, R.reached: 1, R.unreachable: 1, R.confirmed: 2, R.visited: 2,
        R.needs_help: 3, R.released: 4}  # fmt: skip


def test_every_state_is_final_or_not_or_out_and_never_two_of_them() -> None:
    assert set(FINAL) | set(NOT_FINAL) | set(OUT) == set(R)
    assert not set(FINAL) & set(NOT_FINAL)
    assert not (set(FINAL) | set(NOT_FINAL)) & set(OUT)
    assert set(CONCERNED) == set(FINAL) | set(NOT_FINAL)


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


def test_a_released_household_never_moves_and_one_asking_for_help_is_never_released() -> None:
    for target in R:
        assert not may_move(R.released, target)
    assert not may_move(R.needs_help, R.released)
    assert may_move(R.confirmed, R.released)
