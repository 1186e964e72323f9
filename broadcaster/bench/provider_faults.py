"""Provider faults for benchmarks: the simulator's knobs for a share of failing requests, and
the figures that compare a faulty fan-out with a fault-free one (also for `bench chaos`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from broadcaster.alerts.models import Alert
from broadcaster.db.database import Database


def fault_config(share: float, timeout_seconds: float) -> dict[str, float]:
    """The simulator's knobs for `share` of requests failing, as in issue 21's run: two
    thirds answered HTTP 500, one third held past the client's timeout (the message is
    created all the same, so only a lookup can tell)."""
    return {
        "error_500_rate": share * 2 / 3,
        "timeout_rate": share / 3,
        "timeout_seconds": timeout_seconds,
    }


def compare_with_fault_free(faulty: dict[str, Any], clean: dict[str, Any]) -> dict[str, Any]:
    """The fault-free run's rates next to the faulty run's, and their ratio."""

    def ratio(key: str) -> float | None:
        a, b = faulty.get(key), clean.get(key)
        return round(a / b, 3) if a and b else None

    return {
        "fault_free_steady_rate": clean.get("steady_rate"),
        "fault_free_handoff_rate": clean.get("handoff_rate"),
        "steady_over_fault_free": ratio("steady_rate"),
        "handoff_over_fault_free": ratio("handoff_rate"),
    }


def lease_lost(db: Database, alert_id: int) -> int:
    """Answers recorded after their lease was lost, as the alert counts them."""
    with db.read() as session:
        return int(session.scalar(select(Alert.lease_lost).where(Alert.id == alert_id)) or 0)
