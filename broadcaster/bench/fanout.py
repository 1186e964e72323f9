"""`bench fanout`: one alert to every household of a generated district, through the real API,
workers and simulator (each its own process), with the raw and naive baselines in the same run."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
from rq import Queue, Worker
from sqlalchemy import func, select

from broadcaster.bench import machine as m
from broadcaster.bench import procs as p
from broadcaster.bench.baselines import baselines, provider_settings
from broadcaster.bench.profiles import Profiler
from broadcaster.bench.provider_faults import fault_config, lease_lost
from broadcaster.bench.scratch import Scratch, database_size_mib, heads_only
from broadcaster.bench.watch import (
    Sim,
    count_lease_lost,
    delivery_errors,
    delivery_states,
    vulnerable_done_at,
    wait_callbacks,
    wait_handoff,
)
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery

Say = Callable[[str], None]
ALERT: dict[str, Any] = {
    "hazard": "flood",
    "level": "red",
    "headline": "山洪灾害红色预警",
    "body": "预计未来3小时示范区将出现100毫米以上强降雨，山洪、地质灾害风险极高。",
    "instruction": "请立即转移到安全地带，远离河道和低洼地区。",
    "zones": ["DEMO"],
}
STATUSES_PER_MESSAGE = 2  # the simulator reports "sent", then "delivered"


@dataclass
class FanoutOptions:
    households: int = 100_000
    channels: list[str] = field(default_factory=lambda: ["sms"])
    workers: int = 2
    naive_sample: int = 2000
    raw_concurrency: int = 100
    baselines: bool = True
    heads_only: bool = False
    sim_callbacks: bool = True
    callback_delay_ms: float = 0.0
    callback_concurrency: int = 64
    rate_per_second: float = 100_000.0
    delivery: dict[str, str] = field(default_factory=dict)
    stall_seconds: float = 120.0
    profile_dir: Path | None = None
    faults: float = 0.0  # share of provider requests failing: 2/3 HTTP 500, 1/3 timeouts
    fault_timeout_seconds: float = 30.0  # how long the simulator holds a timed-out request
    provider: str = "twilio"  # the SMS provider measured: twilio, or aliyun
    aliyun_batch: int = 0  # aliyun: SendBatchSms of this many numbers; 0: one SendSms each


def wait_workers(redis_url: str, prefix: str, count: int, workers: list[p.Proc]) -> None:
    connection = redis.Redis.from_url(redis_url)
    queue = Queue(f"{prefix}:urgent", connection=connection)
    try:
        if not p.wait_until(
            lambda: Worker.count(connection=connection, queue=queue) >= count, timeout=60
        ):
            raise RuntimeError("the workers did not start:\n" + workers[0].tail())
    finally:
        connection.close()


def issue_alert(api_url: str, channels: list[str]) -> tuple[dict[str, Any], float, float]:
    body = {**ALERT, "channels": channels}
    headers = {"Authorization": f"Bearer {p.ADMIN_KEY}", "Idempotency-Key": secrets.token_hex(8)}
    with httpx.Client(timeout=3600) as client:
        started = time.time()
        response = client.post(f"{api_url}/api/v1/alerts", json=body, headers=headers)
        accepted = time.time()
    if response.status_code != 201:
        raise RuntimeError(f"POST /api/v1/alerts answered {response.status_code}: {response.text}")
    created: dict[str, Any] = response.json()
    return created, started, accepted


def _texted(o: FanoutOptions) -> list[str]:
    """The channels whose texts the measured provider's simulator receives: the measured ones,
    and on Twilio the relay texts to group owners that a red alert's policy plans at issue
    (`relay_after`) — they go through the same Messages API."""
    return o.channels + (["relay"] if o.provider == "twilio" else [])


def _deliveries(db: Database, alert_id: int, channels: list[str]) -> int:
    """The alert's deliveries on the measured channels (a landline-only household's call at
    issue, issue 16, is not a message the simulator's Messages API counts)."""
    with db.read() as session:
        return int(
            session.scalar(
                select(func.count()).where(
                    Delivery.alert_id == alert_id, Delivery.channel.in_(channels)
                )
            )
            or 0
        )


def _ours(
    o: FanoutOptions, db: Database, sim: Sim, api_url: str, procs: dict[str, p.Proc], say: Say
) -> dict[str, Any]:
    """The measured fan-out; returns its figures."""
    meter = m.CpuMeter({name: proc.pid for name, proc in procs.items()})
    meter.start()
    created, started, accepted = issue_alert(api_url, o.channels)
    alert_id = int(created["id"])
    deliveries = _deliveries(db, alert_id, _texted(o))
    say(
        f"alert {alert_id}: {created['households_targeted']:,} households, "
        f"{deliveries:,} deliveries planned in {accepted - started:.2f} s"
    )
    marks, timeline = wait_handoff(sim, deliveries, stall=o.stall_seconds)
    handed = int(marks["messages"])
    first, last = marks["first_created"], marks["last_created"]
    say(f"handed off {handed:,} in {(last or accepted) - accepted:.2f} s after the 201")
    figures: dict[str, Any] = {
        "alert_id": alert_id,
        "households": created["households_targeted"],
        "deliveries": deliveries,
        "handed_off": handed,
        "planning_s": round(accepted - started, 3),
        "first_handoff_s": round(first - accepted, 3) if first else None,
        "handoff_s": round(last - accepted, 3) if last else None,
        "end_to_end_s": round(last - started, 3) if last else None,
        "handoff_rate": round(handed / (last - accepted), 1) if last and last > accepted else None,
        "steady_rate": _round(timeline.steady_rate(deliveries)),
    }
    if o.sim_callbacks:
        expected = STATUSES_PER_MESSAGE * handed
        marks, done = wait_callbacks(sim, expected, stall=o.stall_seconds)
        figures["callbacks_applied_s"] = round(done - accepted, 3) if done else None
        figures["callbacks_failed"] = marks["callbacks_failed"]
        figures["callback_retries"] = marks["callback_retries"]
        if done:
            p.wait_until(
                lambda: delivery_states(db, alert_id).get("delivered", 0) >= handed, timeout=30
            )
        say(f"callbacks applied {figures['callbacks_applied_s']} s after the 201")
    else:  # the last results may still be on their way to the ledger
        p.wait_until(lambda: not _in_flight(db, alert_id), timeout=30, every=0.2)
    figures["cpu_s"] = meter.stop()
    figures["peak_rss_mib"] = {name: m.peak_rss_mib(proc.pid) for name, proc in procs.items()}
    figures["delivery_states"] = delivery_states(db, alert_id, _texted(o))
    figures["delivery_errors"] = delivery_errors(db, alert_id)
    vulnerable_last, others_first = vulnerable_done_at(db, alert_id)
    figures["vulnerable_done_s"] = _since(vulnerable_last, accepted)
    figures["others_first_s"] = _since(others_first, accepted)
    figures["sample_body"] = marks.get("first_body") or ""
    return figures


def _in_flight(db: Database, alert_id: int) -> bool:
    states = delivery_states(db, alert_id)
    return bool(states.get("queued") or states.get("sending"))


def _round(value: float | None, digits: int = 1) -> float | None:
    return round(value, digits) if value is not None else None


def _since(at: float | None, origin: float) -> float | None:
    return round(at - origin, 3) if at is not None else None


def run_fanout(o: FanoutOptions, scratch: Scratch, redis_url: str, say: Say) -> dict[str, Any]:
    """One complete run: our fan-out, then the raw limit and the naive baseline."""
    url = scratch.next_run()
    db = Database(url)
    if o.heads_only:
        say(f"heads only: {heads_only(db):,} other people deactivated")
    prefix = f"bench{secrets.token_hex(4)}"
    log_dir = scratch.directory / "logs" / prefix
    profiler = Profiler(o.profile_dir)
    with p.Processes(log_dir) as processes:
        sim_url = p.start_simulator(
            processes,
            callbacks=o.sim_callbacks,
            callback_delay_ms=o.callback_delay_ms,
            callback_concurrency=o.callback_concurrency,
            aliyun=o.provider == "aliyun",
        )
        sim = Sim(sim_url, o.provider)
        if o.faults:
            sim.configure(**fault_config(o.faults, o.fault_timeout_seconds))
        api_port = p.free_port()
        api_url = f"http://127.0.0.1:{api_port}"
        env = p.stack_env(
            database_url=url,
            redis_url=redis_url,
            prefix=prefix,
            api_url=api_url,
            sim_url=sim_url,
            data_dir=log_dir,
            delivery=o.delivery,
            rate_per_second=o.rate_per_second,
        )
        env.update(provider_settings(o.provider, sim_url, o.rate_per_second, o.aliyun_batch))
        api = p.start_api(processes, env, api_port)
        workers = p.start_workers(processes, env, o.workers)
        wait_workers(redis_url, prefix, o.workers, workers)
        named = {"api": api, **{w.name: w for w in workers}, "simulator": processes.procs[0]}
        for name, proc in named.items():
            profiler.start(name, proc.pid)
        load_before = m.load_average()
        try:
            figures = _ours(o, db, sim, api_url, named, say)
        finally:
            figures_profiles = profiler.stop()
        figures["load_average_before"] = load_before
        figures["db_size_mib"] = database_size_mib(db, scratch)
        figures["lease_lost"] = lease_lost(db, int(figures["alert_id"]))
        figures["lease_lost_logged"] = count_lease_lost([w.tail(100_000) for w in workers])
        found = sim.duplicates()
        figures["duplicates"] = found["duplicates"]
        if "requests" in found:
            figures["provider_requests"] = found["requests"]
        if o.faults:
            figures["faults"] = o.faults
            figures["injected"] = {
                k: v for k, v in sim.counters().items() if k.startswith("injected")
            }
            sim.configure(**fault_config(0.0, o.fault_timeout_seconds))
        figures["profiles"] = figures_profiles
        for worker in workers:
            worker.stop()
        sample = figures.pop("sample_body", "") or ALERT["body"]
        if o.baselines:
            figures.update(baselines(o, processes, sim, redis_url, prefix, sample, figures, say))
        sim.close()
    db.dispose()
    figures["load_average_after"] = m.load_average()
    figures["logs"] = str(log_dir)
    figures["prefix"] = prefix
    return figures
