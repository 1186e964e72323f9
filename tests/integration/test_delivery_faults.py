"""Provider faults and dead workers at the scale of a village, through the real stack: a
worker killed mid-batch is taken over once its lease runs out (lease 3 s here); with 30 %
of requests failing or timing out every number gets exactly one message; counts stay honest,
and every attempt is in the attempt log."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryAttempt, DeliveryState
from broadcaster.settings import Settings
from tests.factories import registry as f
from tests.factories.alerts import RED_RAIN
from tests.stack import Stack, running_stack, wait_until


def village(db: Database, households: int) -> None:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for _ in range(households):
            f.household(session, grid=zones["G1"])


def issue(stack: Stack) -> int:
    with stack.client() as api:
        answer = api.post("/api/v1/alerts", json={**RED_RAIN, "zones": ["V1"]})
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def counts(stack: Stack, alert_id: int) -> dict[str, Any]:
    with stack.client() as api:
        result: dict[str, Any] = api.get(f"/api/v1/alerts/{alert_id}").json()["counts"]
    return result


def settled(stack: Stack, alert_id: int, households: int) -> bool:
    now = counts(stack, alert_id)
    states = now["deliveries"].get("sms", {}).get("by_state", {})
    in_flight = sum(states.get(s, 0) for s in ("queued", "sending", "sent", "unknown"))
    return now["households_reached"] == households and in_flight == 0


def per_number(stack: Stack) -> Counter[str]:
    return Counter(m.to for m in stack.sim_messages())


def attempts(db: Database, addresses: list[str]) -> list[tuple[Any, ...]]:
    with db.read() as session:
        return [
            tuple(r)
            for r in session.execute(
                select(
                    Delivery.id,
                    Delivery.address,
                    Delivery.state,
                    Delivery.error_code,
                    Delivery.resend_of,
                    Delivery.provider_id,
                ).where(Delivery.address.in_(addresses))
            )
        ]


def resends(db: Database) -> list[tuple[str | None, list[str]]]:
    """Per superseded attempt: its error code and the states of the attempts resent for it."""
    with db.read() as session:
        old = session.execute(
            select(Delivery.id, Delivery.address, Delivery.error_code).where(
                Delivery.state == DeliveryState.superseded
            )
        ).all()
        new = session.execute(
            select(Delivery.resend_of, Delivery.address, Delivery.state).where(
                Delivery.resend_of.is_not(None)
            )
        ).all()
    chains = []
    for old_id, address, error in old:
        followers = [n for n in new if n.resend_of == old_id]
        assert all(n.address == address for n in followers)
        chains.append((error, [str(n.state) for n in followers]))
    assert len(new) == len(old)  # no resend without a superseded attempt behind it
    return chains


def test_killed_worker_mid_batch_is_taken_over_by_the_next_worker(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    households = 80
    village(db, households)
    slow = {"latency_ms": 1500}
    with running_stack(
        db,
        redis_settings,
        tmp_path / "stack",
        slow,
        batch_size=households,
        concurrency=4,
        slow_after_seconds=5,
        lease_seconds=3,
        unknown_grace_seconds=1,
    ) as stack:
        alert_id = issue(stack)
        victim = stack.start_worker()
        wait_until(lambda: len(stack.sim_messages()) >= 4, timeout=60, every=0.05)
        victim.send_signal(signal.SIGKILL)  # mid-batch: most of its lease never went out
        killed_at = time.monotonic()
        victim.wait()
        stack.sim.config = stack.sim.config.patched({"latency_ms": 0})
        stack.start_worker()
        # Liveness: taken over with nobody touching the victim's rows. How fast is a figure,
        # not a test (printed here; README "Provider faults and dead workers", bench chaos).
        wait_until(lambda: settled(stack, alert_id, households), timeout=120, every=0.1)
        recovery = time.monotonic() - killed_at
        final = counts(stack, alert_id)
    states = final["deliveries"]["sms"]["by_state"]
    print(f"\nworker killed mid-batch: all delivered {recovery:.1f} s after the kill; {states}")
    # Taken over through the lease: each attempt the victim leased but never sent ended
    # superseded ("not_sent", after the provider said it never got it) by exactly one new
    # attempt to the same number, delivered; nothing else was resent.
    chains = resends(db)
    assert chains
    assert all(old_error == "not_sent" for old_error, _new in chains)
    assert all(new == ["delivered"] for _old_error, new in chains)
    assert max(per_number(stack).values()) == 1
    assert len(per_number(stack)) == households
    assert states.get("delivered") == households
    assert states.get("superseded", 0) > 0  # the leased-but-unsent: looked up, then resent
    assert "failed" not in states
    assert final["deliveries"]["sms"]["total"] == households  # superseded ones are history
    assert final["lease_lost"] == 0
    log = attempt_log(db)
    assert sum(n for (outcome, _code), n in log.items() if outcome == "delivered") == households
    assert (
        sum(n for (outcome, _code), n in log.items() if outcome == "superseded")
        == (
            states["superseded"]  # the attempts of the resent ones stay, as history
        )
    )


def test_thirty_percent_faults_deliver_every_number_once(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    households = 150
    village(db, households)
    faults = {"error_500_rate": 0.2, "timeout_rate": 0.1, "timeout_seconds": 4}
    with running_stack(
        db,
        redis_settings,
        tmp_path / "stack",
        faults,
        batch_size=50,
        provider_timeout_seconds=1,
        unknown_grace_seconds=3,
    ) as stack:
        alert_id = issue(stack)
        stack.start_worker()
        stack.start_worker()
        wait_until(lambda: settled(stack, alert_id, households), timeout=180, every=0.2)
        final = counts(stack, alert_id)
        injected = stack.sim.store.counters
    states = final["deliveries"]["sms"]["by_state"]
    print(f"\n30 % faults: {states}; injected {dict(injected)}")
    assert injected["injected_500"] > 0
    assert injected["injected_timeout"] > 0
    numbers = per_number(stack)
    assert len(numbers) == households
    twice = [n for n, count in numbers.items() if count > 1]
    assert not twice, attempts(db, twice)  # a timeout's message is found, never sent twice
    assert states.get("delivered") == households
    assert "failed" not in states
    assert final["lease_lost"] == 0
    log = attempt_log(db)
    assert sum(n for (outcome, _code), n in log.items() if outcome == "delivered") == households
    assert not {o for o, _code in log} - {"delivered", "superseded"}


def attempt_log(db: Database) -> Counter[tuple[str, str | None]]:
    """Checks each delivery against its attempts (numbered 1 to its lease count, all but
    the last superseded, the last in the delivery's final state); outcomes with their codes."""
    found: dict[int, tuple[DeliveryState, int, list[tuple[int, DeliveryState]]]] = {}
    outcomes: Counter[tuple[str, str | None]] = Counter()
    with db.read() as session:
        for delivery_id, state, leased, number, outcome, code in session.execute(
            select(
                Delivery.id,
                Delivery.state,
                Delivery.attempts,
                DeliveryAttempt.number,
                DeliveryAttempt.outcome,
                DeliveryAttempt.error_code,
            )
            .join(DeliveryAttempt, DeliveryAttempt.delivery_id == Delivery.id)
            .order_by(Delivery.id, DeliveryAttempt.number)
        ):
            found.setdefault(delivery_id, (state, leased, []))[2].append((number, outcome))
            outcomes[(outcome.value, code)] += 1
        assert len(found) == session.scalar(select(func.count()).select_from(Delivery))
    for delivery_id, (state, leased, tries) in found.items():
        assert [n for n, _o in tries] == list(range(1, leased + 1)), (delivery_id, tries)
        assert {o for _n, o in tries[:-1]} <= {DeliveryState.superseded}, (delivery_id, tries)
        assert tries[-1][1] is state, (delivery_id, state, tries)
    return outcomes


def error_codes(db: Database) -> Counter[str | None]:
    with db.read() as session:
        return Counter(session.scalars(select(Delivery.error_code)))


def test_breaker_holds_a_down_provider_and_drops_nothing(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    households = 40
    village(db, households)
    breaker = {"min_requests": 5, "error_rate": 0.6, "open_seconds": 2, "probes": 1}
    with running_stack(
        db,
        redis_settings,
        tmp_path / "stack",
        {"error_500_rate": 1.0},
        batch_size=households,
        breaker=breaker,
    ) as stack:
        alert_id = issue(stack)
        stack.start_worker()
        wait_until(lambda: error_codes(db)["circuit_open"] > 0, timeout=60, every=0.1)
        time.sleep(3)  # down for a while: probes only
        down = counts(stack, alert_id)["deliveries"]["sms"]["by_state"]
        refused = stack.sim.store.counters["injected_500"]
        stack.sim.config = stack.sim.config.patched({"error_500_rate": 0.0})
        wait_until(lambda: settled(stack, alert_id, households), timeout=120, every=0.2)
        final = counts(stack, alert_id)
    print(f"\nprovider down: {down}, {refused} requests refused; then {final['deliveries']}")
    assert set(down) <= {"queued", "sending"}  # held, never failed or dropped
    assert refused < households * 2  # without the breaker: 4 tries each, again every 5 s
    assert max(per_number(stack).values()) == 1
    assert final["deliveries"]["sms"]["by_state"] == {"delivered": households}
    log = attempt_log(db)
    assert log[("superseded", "circuit_open")] > 0  # each hold is an attempt that never went
    assert sum(n for (outcome, _code), n in log.items() if outcome == "delivered") == households
