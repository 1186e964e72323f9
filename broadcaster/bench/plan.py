"""`bench plan`: planning time and peak memory of the process planning an alert to every
household. `python -m broadcaster.bench.plan URL` is that process: it prints one JSON line."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import event

from broadcaster.alerts.models import AlertSource
from broadcaster.alerts.schemas import AlertIn
from broadcaster.auth.audit import SYSTEM
from broadcaster.bench import machine as m
from broadcaster.bench.plan_explain import explain_writes
from broadcaster.bench.procs import SECRET
from broadcaster.bench.profiles import py_spy
from broadcaster.bench.scratch import Scratch, database_size_mib
from broadcaster.db.database import Database
from broadcaster.flows.issuing import issue_alert
from broadcaster.settings import Settings
from channels.registry import media

ALERT: dict[str, Any] = {
    "hazard": "flood",
    "level": "red",
    "headline": "山洪灾害红色预警",
    "body": "预计未来3小时示范区将出现100毫米以上强降雨。",
    "instruction": "请立即转移到安全地带。",
    "zones": ["DEMO"],
    "channels": ["sms"],
}


def _statement_timer(db: Database) -> dict[str, float]:
    """Seconds spent per SQL statement (by its first words), filled while the engine runs."""
    spent: dict[str, float] = defaultdict(float)

    @event.listens_for(db.engine, "before_cursor_execute")
    def _before(conn: Any, _cursor: Any, _stmt: str, _params: Any, _ctx: Any, _many: Any) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    @event.listens_for(db.engine, "after_cursor_execute")
    def _after(conn: Any, _cursor: Any, stmt: str, _params: Any, _ctx: Any, _many: Any) -> None:
        started = conn.info["bench_started"].pop()
        spent[" ".join(stmt.split())[:90]] += time.perf_counter() - started

    return spent


def measure(url: str, explain: bool = False) -> dict[str, Any]:
    """Issue one alert to the district in one transaction, in this process; the figures
    (with `explain` on PostgreSQL: each bulk write's time and its triggers')."""
    settings = Settings(database_url=url, secret_key=SECRET)
    db = Database(url)
    channels = set(media())
    spent = _statement_timer(db)
    explained = explain_writes(db) if explain and db.dialect == "postgresql" else None
    db.ping()
    body = AlertIn.model_validate(ALERT)
    gc.collect()
    reset = m.reset_peak_rss()
    rss_before = m.rss_mib(os.getpid())
    started = time.perf_counter()
    with db.transaction() as session:
        issued = issue_alert(
            session,
            body=body,
            actor=SYSTEM,
            source=AlertSource.officer,
            settings=settings,
            available_channels=channels,
        )
        planned = time.perf_counter()
    committed = time.perf_counter()
    peak = m.peak_rss_mib(os.getpid())
    db.dispose()
    top = sorted(spent.items(), key=lambda kv: kv[1], reverse=True)[:6]
    return {
        "households": issued.alert.households_targeted,
        "deliveries": sum(issued.channel_counts.values()),
        "plan_s": round(committed - started, 3),
        "statements_s": round(planned - started, 3),
        "commit_s": round(committed - planned, 3),
        "rss_before_mib": rss_before,
        "peak_rss_mib": peak,
        "peak_reset": reset,
        "top_statements": [(text, round(seconds, 3)) for text, seconds in top],
        **({"explained": explained} if explained is not None else {}),
    }


def run_plan(
    scratch: Scratch, profile: Path | None = None, explain: bool = False
) -> dict[str, Any]:
    """One run in a fresh process (optionally under py-spy); adds the database size."""
    url = scratch.next_run()
    command = [sys.executable, "-m", "broadcaster.bench.plan", url, *(["--explain"] * explain)]
    binary = py_spy()
    if profile is not None and binary:
        profile.parent.mkdir(parents=True, exist_ok=True)
        command = [
            binary,
            "record",
            "--rate",
            "100",
            "--format",
            "raw",
            "--output",
            str(profile),
            "--",
            *command,
        ]
    load_before = m.load_average()
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"planning failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(lines[-1])
    db = Database(url)
    try:
        figures["db_size_mib"] = database_size_mib(db, scratch)
    finally:
        db.dispose()
    figures["load_average_before"] = load_before
    figures["load_average_after"] = m.load_average()
    if profile is not None and profile.is_file():
        figures["profile"] = str(profile)
    return figures


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], "--explain" in sys.argv[2:]), ensure_ascii=False))
