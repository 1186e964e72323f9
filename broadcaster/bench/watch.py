"""Watching a fan-out from outside: the simulator's marks and the database's delivery states."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import func, select

from broadcaster.alerts.models import Recipient
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery


@dataclass
class Timeline:
    """(wall time, messages the simulator holds) samples while the hand-off runs."""

    samples: list[tuple[float, int]] = field(default_factory=list)

    def steady_rate(self, total: int, low: float = 0.1, high: float = 0.9) -> float | None:
        """Messages/s between `low` and `high` of the total (ramp-up and tail left out)."""
        start = next(((t, n) for t, n in self.samples if n >= low * total), None)
        end = next(((t, n) for t, n in self.samples if n >= high * total), None)
        if start is None or end is None or end[0] <= start[0]:
            return None
        return (end[1] - start[1]) / (end[0] - start[0])


class Sim:
    """The benchmark's client of the simulator's /bench/marks and control API; the marks are
    those of the provider measured (Twilio's Messages API, or "aliyun": Aliyun SMS)."""

    def __init__(self, url: str, provider: str = "twilio") -> None:
        self.url = url
        self.http = httpx.Client(timeout=30)
        self.query = {"provider": provider}

    def marks(self) -> dict[str, Any]:
        data: dict[str, Any] = self.http.get(f"{self.url}/bench/marks", params=self.query).json()
        return data

    def messages(self) -> int:
        return int(self.marks()["messages"])

    def reset(self) -> None:
        self.http.post(f"{self.url}/sim/api/reset").raise_for_status()

    def configure(self, **config: Any) -> None:
        """Change the simulator's knobs (fault injection) while it runs."""
        self.http.post(f"{self.url}/sim/api/config", json=config).raise_for_status()

    def counters(self) -> dict[str, int]:
        stats: dict[str, Any] = self.http.get(f"{self.url}/sim/api/stats").json()
        return {k: int(v) for k, v in stats.get("counters", {}).items()}

    def duplicates(self) -> dict[str, int]:
        """Messages beyond one per number and text (Aliyun: and the requests that carried
        them); one pass over the simulator's store."""
        found = self.http.get(f"{self.url}/bench/duplicates", params=self.query).json()
        return {k: int(v) for k, v in found.items()}

    def close(self) -> None:
        self.http.close()


def wait_handoff(
    sim: Sim, expected: int, *, stall: float, every: float = 0.05
) -> tuple[dict[str, Any], Timeline]:
    """Poll until the simulator holds `expected` messages or nothing moved for `stall` s."""
    timeline = Timeline()
    last_count, last_move = -1, time.monotonic()
    while True:
        marks = sim.marks()
        count = int(marks["messages"])
        timeline.samples.append((float(marks["now"]), count))
        if count >= expected:
            return marks, timeline
        if count != last_count:
            last_count, last_move = count, time.monotonic()
        elif time.monotonic() - last_move > stall:
            return marks, timeline
        time.sleep(every)


def wait_callbacks(
    sim: Sim, expected: int, *, stall: float, every: float = 0.1
) -> tuple[dict[str, Any], float | None]:
    """Poll until `expected` callbacks were answered (each only after its commit)."""
    last_count, last_move = -1, time.monotonic()
    while True:
        marks = sim.marks()
        count = int(marks["callbacks_sent"]) + int(marks["callbacks_failed"])
        pending = marks["pending"]
        if count >= expected and not pending["queued"] and not pending["delayed"]:
            return marks, float(marks["now"])
        if count != last_count:
            last_count, last_move = count, time.monotonic()
        elif time.monotonic() - last_move > stall:
            return marks, None
        time.sleep(every)


def delivery_states(
    db: Database, alert_id: int, channels: Collection[str] | None = None
) -> dict[str, int]:
    """Deliveries of the alert by state (on `channels` only, if given), from the record."""
    where = [Delivery.alert_id == alert_id]
    if channels is not None:
        where.append(Delivery.channel.in_(channels))
    with db.read() as session:
        rows = session.execute(
            select(Delivery.state, func.count()).where(*where).group_by(Delivery.state)
        ).all()
    return {state.value: int(count) for state, count in rows}


def delivery_errors(db: Database, alert_id: int) -> dict[str, int]:
    """Deliveries of the alert that are not delivered, by state and error code."""
    with db.read() as session:
        rows = session.execute(
            select(Delivery.state, Delivery.error_code, func.count())
            .where(Delivery.alert_id == alert_id, Delivery.state != "delivered")
            .group_by(Delivery.state, Delivery.error_code)
        ).all()
    return {f"{state.value}:{code}": int(count) for state, code, count in rows}


def _epoch(value: dt.datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()


def vulnerable_done_at(db: Database, alert_id: int) -> tuple[float | None, float | None]:
    """When the last vulnerable household's and the first other household's SMS were sent."""
    with db.read() as session:

        def sent(vulnerable: bool, last: bool) -> float | None:
            agg = func.max if last else func.min
            value = session.scalar(
                select(agg(Delivery.sent_at))
                .join(Recipient, Recipient.id == Delivery.recipient_id)
                .where(Delivery.alert_id == alert_id, Recipient.is_vulnerable.is_(vulnerable))
            )
            return _epoch(value)

        return sent(True, True), sent(False, False)


def count_lease_lost(logs: list[str]) -> int:
    """Results recorded after their lease was lost, as the workers logged them."""
    total = 0
    for text in logs:
        for line in text.splitlines():
            if "after their lease was lost" in line:
                words = line.split()
                index = words.index("results") if "results" in words else 0
                if index and words[index - 1].isdigit():
                    total += int(words[index - 1])
    return total
