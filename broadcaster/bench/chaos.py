"""`bench chaos`: one alert to a generated district per scenario, a fault injected mid-fan-out;
per scenario households missed, duplicates, recovery time, hand-off rate and 5xx seen."""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, text
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
# What is measured: the SMS fan-out; the rest (a landline-only household's call at issue, a
# relay text) is waited for after it, and reported apart (`others_*`, `all_final_s`)
MEASURED = ("sms",)
# The residents' side of a call: the phone is picked up after a second's ring, nobody
# presses a key, each prompt times out after a second; the call then completes
CALLS = {"auto_answer": True, "answer_after_ms": 1000, "silence_after_ms": 1000}


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


def _open(db: Database, alert_id: int, channels: tuple[str, ...] | None = MEASURED) -> int:
    states = delivery_states(db, alert_id, channels)
    return sum(states.get(state, 0) for state in OPEN_STATES)


def others_open(db: Database, alert_id: int) -> dict[str, int]:
    """Deliveries outside the measured SMS not final yet, by channel and state ("voice
    queued, held": waiting out a per-number window, e.g. a landline two households share)."""
    with db.read() as session:
        rows = session.execute(
            select(Delivery.channel, Delivery.state, Delivery.error_code, func.count())
            .where(
                Delivery.alert_id == alert_id,
                Delivery.channel.not_in(MEASURED),
                Delivery.state.in_(OPEN_STATES),
            )
            .group_by(Delivery.channel, Delivery.state, Delivery.error_code)
        ).all()
    found: Counter[str] = Counter()
    for channel, state, code, count in rows:
        held = ", held" if code in ("number_limit", "rate_limited") else ""
        found[f"{channel} {state.value}{held}"] += int(count)
    return dict(found)


def tail_detail(db: Database, alert_id: int, after: float | None) -> dict[str, Any]:
    """The measured deliveries that became final after the last message was handed off
    (epoch `after`): how many, how many of them a look-up asked about (their callback was
    late), and how long after being sent they became final (median, max)."""
    if after is None:
        return {}
    since = dt.datetime.fromtimestamp(after, dt.UTC)
    with db.read() as session:
        rows = session.execute(
            select(Delivery.sent_at, Delivery.final_at, Delivery.checked_at).where(
                Delivery.alert_id == alert_id,
                Delivery.channel.in_(MEASURED),
                Delivery.final_at > since,
            )
        ).all()
    waited = sorted((final - sent).total_seconds() for sent, final, _c in rows if sent and final)
    return {
        "final_after_last_send": len(rows),
        "of_them_asked_about": sum(1 for *_t, checked in rows if checked is not None),
        "sent_to_final_median_s": _round(waited[len(waited) // 2]) if waited else None,
        "sent_to_final_max_s": _round(waited[-1]) if waited else None,
    }


def _backends_cpu(db: Database, app_name: str) -> float | None:
    """CPU seconds of the service's PostgreSQL backends still connected (same machine)."""
    with db.read() as session:
        pids = session.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"), {"n": app_name}
        ).all()
    used = [m.cpu_seconds(int(pid)) for pid in pids]
    return round(sum(u for u in used if u is not None), 1) if used else None


def wait_all_final(db: Database, alert_id: int, timeout: float) -> float | None:
    """When every delivery of the alert, on every channel, is final (None: not in time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # the record is being fought over; look again
            if _open(db, alert_id, None) == 0:
                return time.time()
        time.sleep(0.25)
    return None


Sample = tuple[float, int, int]  # time, messages the simulator holds, callbacks it has to send


def wait_final(
    db: Database, alert_id: int, timeout: float, sim: Sim
) -> tuple[float | None, list[Sample]]:
    """When every measured delivery of the alert reached a final state (None: not within
    `timeout`), and what the simulator held and had yet to call back, sampled meanwhile."""
    deadline = time.monotonic() + timeout
    samples: list[Sample] = []
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            marks = sim.marks()
            waiting = sum(marks.get("pending", {}).values())
            samples.append((time.time(), int(marks["messages"]), waiting))
        try:
            if _open(db, alert_id) == 0:
                return time.time(), samples
        except Exception:  # noqa: S110 - the record is being fought over; look again
            pass
        time.sleep(0.25)
    return None, samples


def split_recovery(
    o: ChaosOptions, fault_end: float, final_at: float | None, rest: int, sim: Sim,
    samples: list[Sample], during: int,
) -> dict[str, float | None]:  # fmt: skip
    """Where the recovery went: `rest_s` is sending what was left at the fault's end at the
    rate limit (no recovery can be faster), the remainder is what the fault cost: waiting
    before the hand-off resumed, sending below the rate, and the tail after the last message
    (final callbacks, look-ups, resends): `callbacks_behind_s` is how long after the last
    message the simulator still had status callbacks to send (the service taking them in
    slower than it sends)."""
    rest_s = rest / o.rate_per_second
    last = sim.marks().get("last_created")
    resumed = next((t for t, n, _w in samples if n > during), None)
    behind = next((t for t, _n, w in samples if last and t >= float(last) and not w), None)
    recovery = final_at - fault_end if final_at else None
    last_send = max(0.0, float(last) - fault_end) if last else None
    return {
        "recovery_s": _round(recovery),
        "rest_s": _round(rest_s),
        "recovery_beyond_rest_s": _round(recovery - rest_s if recovery is not None else None),
        "resume_s": _round(resumed - fault_end if resumed and rest else None),
        "last_send_s": _round(last_send),
        "tail_s": _round(recovery - last_send if recovery and last_send is not None else None),
        "callbacks_behind_s": _round(behind - float(last) if behind and last else None),
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
    sim.configure(calls=CALLS)
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
    others = others_open(db, alert_id)
    all_final = wait_all_final(db, alert_id, o.settle_timeout) if final_at else None
    rest = max(0, planned - during)
    parts = split_recovery(o, fault_end, final_at, rest, sim, samples, during)
    received = httpx.get(f"{sim_url}/bench/numbers", timeout=60).json()["numbers"]
    marks = sim.marks()
    last = marks.get("last_created")
    tail = tail_detail(db, alert_id, float(last) if last else None) if final_at else {}
    officer_counts = officer.stop()
    died = [proc.name for proc in stack.service if not proc.alive()]
    cpu = {proc.name: m.cpu_seconds(proc.pid) for proc in processes.procs if proc.alive()}
    if stack.app_name is not None:
        cpu["postgres"] = _backends_cpu(db, stack.app_name)
    result = outcome(db, alert_id, received)
    sim.close()
    return {
        **result,
        "deliveries": sum(delivery_states(db, alert_id, MEASURED).values()),
        **parts,
        "open_at_end": 0 if final_at else _open(db, alert_id),
        "tail": tail,
        "others_open_at_sms_final": others,
        "all_final_s": _round(all_final - fault_end if all_final else None),
        "open_at_end_all": 0 if all_final else _open(db, alert_id, None),
        "fault_s": round(fault_end - fault_start, 1),
        "fault_end_at": round(fault_end, 2),  # epoch seconds: to read the logs against
        "rate_before": round(rate_before, 1) if rate_before else None,
        "rate_during": round((during - before) / (fault_end - fault_start), 1),
        "client_5xx": officer_counts["5xx"] + int(marks.get("callback_5xx") or 0),
        "officer": officer_counts,
        "callback_5xx": marks.get("callback_5xx"),
        "callbacks_failed": marks.get("callbacks_failed"),
        "callbacks_sent": marks.get("callbacks_sent"),
        "cpu_s": {name: round(seconds, 1) for name, seconds in cpu.items() if seconds is not None},
        "service_died": died,
        "restarted": stack.restarts,
        "delivery_states": delivery_states(db, alert_id),
        **stack.notes,
    }
