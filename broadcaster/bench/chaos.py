"""`bench chaos`: one alert to a generated district per scenario, a fault injected mid-fan-out;
per scenario households missed, duplicates, recovery time, hand-off rate and 5xx seen."""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.engine import make_url

from broadcaster.bench import machine as m
from broadcaster.bench import procs as p
from broadcaster.bench.chaos_faults import FAULTS, ChaosStack, Officer, Say
from broadcaster.bench.fanout import issue_alert, wait_workers
from broadcaster.bench.scratch import Scratch
from broadcaster.bench.watch import Sim, delivery_states
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery
from broadcaster.redis_embedded import EmbeddedRedis

OPEN_STATES = ("queued", "sending", "sent", "unknown")
# What is measured: the SMS fan-out (a landline-only household's call at issue is not)
MEASURED = ("sms",)


@dataclass
class ChaosOptions:
    households: int = 5000
    scenarios: list[str] = field(default_factory=lambda: list(FAULTS))
    workers: int = 2
    rate_per_second: float = 250.0
    fault_at: float = 0.2  # the fault strikes once this share of the messages is handed off
    down_seconds: float = 10.0
    provider_fault_seconds: float = 20.0
    settle_timeout: float = 300.0
    delivery: dict[str, str] = field(default_factory=dict)


def _with_app_name(url: str, name: str) -> str:
    return make_url(url).update_query_dict({"application_name": name}).render_as_string(False)


def _open(db: Database, alert_id: int) -> int:
    states = delivery_states(db, alert_id, MEASURED)
    return sum(states.get(state, 0) for state in OPEN_STATES)


def wait_final(
    db: Database, alert_id: int, timeout: float, sim: Sim
) -> tuple[float | None, list[tuple[float, int]]]:
    """When every delivery of the alert reached a final state (None: not within `timeout`),
    and (time, messages the simulator holds) sampled meanwhile."""
    deadline = time.monotonic() + timeout
    samples: list[tuple[float, int]] = []
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            samples.append((time.time(), sim.messages()))
        try:
            if _open(db, alert_id) == 0:
                return time.time(), samples
        except Exception:  # noqa: S110 - the record is being fought over; look again
            pass
        time.sleep(0.25)
    return None, samples


def split_recovery(
    o: ChaosOptions, fault_end: float, final_at: float | None, rest: int, sim: Sim,
    samples: list[tuple[float, int]], during: int,
) -> dict[str, float | None]:  # fmt: skip
    """Where the recovery went: `rest_s` is sending what was left at the fault's end at the
    rate limit (no recovery can be faster), the remainder is what the fault cost: waiting
    before the hand-off resumed, sending below the rate, and the tail after the last message
    (final callbacks, look-ups, resends)."""
    rest_s = rest / o.rate_per_second
    last = sim.marks().get("last_created")
    resumed = next((t for t, n in samples if n > during), None)
    recovery = final_at - fault_end if final_at else None
    last_send = max(0.0, float(last) - fault_end) if last else None
    return {
        "recovery_s": _round(recovery),
        "rest_s": _round(rest_s),
        "recovery_beyond_rest_s": _round(recovery - rest_s if recovery is not None else None),
        "resume_s": _round(resumed - fault_end if resumed and rest else None),
        "last_send_s": _round(last_send),
        "tail_s": _round(recovery - last_send if recovery and last_send is not None else None),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def outcome(db: Database, alert_id: int, received: dict[str, int]) -> dict[str, int]:
    """Households the provider never got a message for, and messages it got twice."""
    with db.read() as session:
        rows = session.execute(
            select(Delivery.recipient_id, Delivery.address).where(
                Delivery.alert_id == alert_id,
                Delivery.channel.in_(MEASURED),
                Delivery.resend_of.is_(None),
            )
        ).all()
    planned: Counter[str] = Counter(address for _recipient, address in rows)
    missed = {recipient for recipient, address in rows if not received.get(address)}
    duplicates = sum(max(0, received.get(a, 0) - n) for a, n in planned.items())
    return {
        "households": len({r for r, _a in rows}),
        "missed": len(missed),
        "duplicates": duplicates,
    }


def run_scenario(name: str, o: ChaosOptions, scratch: Scratch, say: Say) -> dict[str, Any]:
    """A fresh district copy, Redis and stack; the fault; then wait until all is final."""
    url = scratch.next_run()
    prefix = f"chaos{secrets.token_hex(3)}"
    postgres = scratch.dialect == "postgresql"
    service_url = _with_app_name(url, prefix) if postgres else url
    log_dir = scratch.directory / "logs" / prefix
    redis_dir = Path(tempfile.mkdtemp(prefix="bb-chaos-", dir="/tmp"))
    server = EmbeddedRedis(redis_dir)
    server.start()
    db = Database(url)
    try:
        with p.Processes(log_dir) as processes:
            figures = _measure(name, o, processes, server, db, service_url, prefix, say)
    finally:
        db.dispose()
        server.stop()
        if server.alive():
            server.kill()
        shutil.rmtree(redis_dir, ignore_errors=True)
    figures.update(scenario=name, dialect=scratch.dialect, logs=str(log_dir))
    return figures


def _measure(
    name: str,
    o: ChaosOptions,
    processes: p.Processes,
    server: EmbeddedRedis,
    db: Database,
    service_url: str,
    prefix: str,
    say: Say,
) -> dict[str, Any]:
    sim_url = p.start_simulator(
        processes, callbacks=True, callback_delay_ms=0, callback_concurrency=64
    )
    sim = Sim(sim_url)
    api_port = p.free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    env = p.stack_env(
        database_url=service_url,
        redis_url=server.url,
        prefix=prefix,
        api_url=api_url,
        sim_url=sim_url,
        data_dir=processes.log_dir,
        delivery=o.delivery,
        rate_per_second=o.rate_per_second,
    )
    api = p.start_api(processes, env, api_port)
    workers = p.start_workers(processes, env, o.workers)
    wait_workers(server.url, prefix, o.workers, workers)
    stack = ChaosStack(
        processes, env, api, api_port, workers, server, sim_url, service_url,
        prefix if service_url != db.url else None, say, o.down_seconds, o.provider_fault_seconds,
    )  # fmt: skip
    created, _started, accepted = issue_alert(api_url, ["sms"])
    alert_id = int(created["id"])
    officer = Officer(api_url, alert_id, p.ADMIN_KEY)
    officer.start()
    planned = sum(delivery_states(db, alert_id, MEASURED).values())
    p.wait_until(lambda: sim.messages() >= o.fault_at * planned, timeout=120, every=0.02)
    before, fault_start = sim.messages(), time.time()
    rate_before = before / (fault_start - accepted) if fault_start > accepted else None
    say(f"{name}: fault at +{fault_start - accepted:.1f} s, {before:,} messages handed off")
    FAULTS[name][1](stack)
    during, fault_end = sim.messages(), time.time()
    final_at, samples = wait_final(db, alert_id, o.settle_timeout, sim)
    rest = max(0, planned - during)
    parts = split_recovery(o, fault_end, final_at, rest, sim, samples, during)
    received = httpx.get(f"{sim_url}/bench/numbers", timeout=60).json()["numbers"]
    marks = sim.marks()
    officer_counts = officer.stop()
    died = [proc.name for proc in stack.service if not proc.alive()]
    result = outcome(db, alert_id, received)
    sim.close()
    return {
        **result,
        "deliveries": sum(delivery_states(db, alert_id, MEASURED).values()),
        **parts,
        "open_at_end": 0 if final_at else _open(db, alert_id),
        "fault_s": round(fault_end - fault_start, 1),
        "fault_end_at": round(fault_end, 2),  # epoch seconds: to read the logs against
        "rate_before": round(rate_before, 1) if rate_before else None,
        "rate_during": round((during - before) / (fault_end - fault_start), 1),
        "client_5xx": officer_counts["5xx"] + int(marks.get("callback_5xx") or 0),
        "officer": officer_counts,
        "callback_5xx": marks.get("callback_5xx"),
        "callbacks_failed": marks.get("callbacks_failed"),
        "service_died": died,
        "restarted": stack.restarts,
        "delivery_states": delivery_states(db, alert_id),
        **stack.notes,
    }


COLUMNS = [
    ("scenario", "scenario"),
    ("households", "households"),
    ("missed", "missed"),
    ("duplicates", "dupl."),
    ("recovery_s", "recovery s"),
    ("rest_s", "rest s"),
    ("recovery_beyond_rest_s", "beyond rest s"),
    ("resume_s", "resumed s"),
    ("tail_s", "tail s"),
    ("open_at_end", "open"),
    ("rate_before", "msg/s before"),
    ("rate_during", "during"),
    ("client_5xx", "5xx"),
    ("service_died", "died"),
]
LEGEND = (
    "recovery: the fault's end → every delivery final; rest: sending what was left then at "
    "the rate limit (no recovery is faster); beyond rest: what the fault cost; resumed: the "
    "hand-off's first message after the fault; tail: the last message handed off → all final"
)


def print_table(document: dict[str, Any]) -> None:
    machine = document["machine"]
    console = Console()
    if not console.is_terminal:
        console.width = 160
    title = (
        f"bench chaos · {document['dialect']} · {machine.get('cores')} cores · "
        f"load {machine.get('load_average')} · {machine.get('commit')}"
    )
    out = Table(title=title, title_justify="left")
    for _key, label in COLUMNS:
        out.add_column(label, justify="left" if _key == "scenario" else "right")
    for figures in document["scenarios"]:
        cells = []
        for key, _label in COLUMNS:
            value = figures.get(key)
            cells.append(", ".join(value) if isinstance(value, list) else "—" if value is None
                         else str(value))  # fmt: skip
        out.add_row(*cells)
    console.print(out)
    console.print(LEGEND)


def emit(
    options: ChaosOptions, dialect: str, scenarios: list[dict[str, Any]], json_only: bool
) -> None:
    document = {
        "bench": "chaos",
        "dialect": dialect,
        "machine": m.machine(),
        "options": options.__dict__,
        "scenarios": scenarios,
    }
    if not json_only:
        print_table(document)
    print(json.dumps(document, ensure_ascii=False, default=str, separators=(",", ":")))
