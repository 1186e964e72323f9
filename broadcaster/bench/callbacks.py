"""`bench callbacks`: signed status callbacks and inbound replies applied through the real API
(its own process), and the latency of the alert status read, with N deliveries in the database."""

from __future__ import annotations

import math
import secrets
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, text

from broadcaster.alerts.models import AlertSource, Recipient, RecipientState
from broadcaster.alerts.schemas import AlertIn
from broadcaster.auth.audit import SYSTEM
from broadcaster.bench import firehose as fh
from broadcaster.bench import machine as m
from broadcaster.bench import procs as p
from broadcaster.bench.plan import ALERT
from broadcaster.bench.profiles import Profiler
from broadcaster.bench.scratch import Scratch, database_size_mib
from broadcaster.confirm.models import InboundMessage
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery
from broadcaster.flows.issuing import issue_alert
from broadcaster.settings import Settings
from channels.registry import media

Say = Callable[[str], None]
DELIVERIES_PER_HOUSEHOLD = 2.34  # active mobiles per generated household (seed 20200824)
PROVIDER_ID = {
    "sqlite": "'SM' || printf('%032x', id)",
    "postgresql": "'SM' || lpad(to_hex(id), 32, '0')",
}


@dataclass
class CallbackOptions:
    deliveries: int = 1_000_000
    callbacks: int = 20_000
    replies: int = 2_000
    concurrency: int = 200
    reads: int = 50
    statuses: list[str] = field(default_factory=lambda: ["delivered"])
    api_processes: int = 1
    profile_dir: Path | None = None


def households_for(deliveries: int) -> int:
    return max(1, math.ceil(deliveries / DELIVERIES_PER_HOUSEHOLD))


def prepare(db: Database, settings: Settings) -> tuple[int, int, float, float]:
    """Plan one alert in-process, then mark every delivery sent with a fake provider id (and
    its attempt, so that callbacks find it as they would)."""
    started = time.perf_counter()
    with db.transaction() as session:
        issued = issue_alert(
            session,
            body=AlertIn.model_validate(ALERT),
            actor=SYSTEM,
            source=AlertSource.officer,
            settings=settings,
            available_channels=set(media()),
        )
    planned = time.perf_counter()
    alert_id = issued.alert.id
    with db.transaction() as session:
        session.execute(
            text(
                f"UPDATE deliveries SET state = 'sent', attempts = 1, sent_at = queued_at, "  # noqa: S608
                f"provider_id = {PROVIDER_ID[db.dialect]} WHERE alert_id = :alert"
            ),
            {"alert": alert_id},
        )
        session.execute(  # each with the attempt a lease would have written and answered
            text(
                "INSERT INTO delivery_attempts (delivery_id, number, provider, requested_at, "
                "outcome, provider_message_id) SELECT id, 1, channel, sent_at, 'sent', "
                "provider_id FROM deliveries WHERE alert_id = :alert"
            ),
            {"alert": alert_id},
        )
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE deliveries, recipients, delivery_attempts"))
    marked = time.perf_counter()
    count = sum(issued.channel_counts.values())
    return alert_id, count, round(planned - started, 2), round(marked - planned, 2)


def sample(db: Database, alert_id: int, total: int, wanted: int) -> list[tuple[int, str, str]]:
    """`wanted` deliveries spread evenly over the alert: (id, provider id, address)."""
    step = max(1, total // max(1, wanted))
    with db.read() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.provider_id, Delivery.address)
            .where(Delivery.alert_id == alert_id, Delivery.id % step == 0)
            .order_by(Delivery.id)
            .limit(wanted)
        ).all()
    return [(int(i), str(sid), str(address)) for i, sid, address in rows]


def read_latency(api_url: str, alert_id: int, reads: int) -> dict[str, float]:
    """Median and p95 of GET /api/v1/alerts/{id}, one request at a time (after a warm-up)."""
    headers = {"Authorization": f"Bearer {p.ADMIN_KEY}"}
    times: list[float] = []
    with httpx.Client(base_url=api_url, headers=headers, timeout=600) as client:
        for n in range(reads + 2):
            started = time.perf_counter()
            client.get(f"/api/v1/alerts/{alert_id}").raise_for_status()
            if n >= 2:
                times.append(1000 * (time.perf_counter() - started))
    return {
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(m.percentile(times, 0.95), 1),
        "max_ms": round(max(times), 1),
    }


def _counts(db: Database, alert_id: int) -> dict[str, int]:
    with db.read() as session:
        delivered = session.scalar(
            select(func.count()).where(Delivery.alert_id == alert_id, Delivery.state == "delivered")
        )
        reached = session.scalar(
            select(func.count()).where(
                Recipient.alert_id == alert_id, Recipient.state != RecipientState.pending
            )
        )
        inbound = session.scalar(select(func.count()).select_from(InboundMessage))
    return {
        "delivered": int(delivered or 0),
        "households_moved": int(reached or 0),
        "inbound_kept": int(inbound or 0),
    }


def _fire_metered(
    requests: list[fh.Request], concurrency: int, api_pid: int
) -> tuple[fh.Fired, dict[str, float]]:
    """Fire the requests; CPU seconds the API (all its processes) and this client spent."""
    api_before, client_before = m.tree_cpu_seconds(api_pid), time.process_time()
    fired = fh.fire(requests, concurrency)
    return fired, {
        "api": m.tree_cpu_seconds(api_pid) - api_before,
        "client": time.process_time() - client_before,
    }


def _per_item(cpu: dict[str, float], count: int) -> dict[str, float]:
    """CPU microseconds per request answered, the API's and the bench client's own."""
    return {name: round(1e6 * seconds / max(1, count)) for name, seconds in cpu.items()}


def run_callbacks(o: CallbackOptions, scratch: Scratch, redis_url: str, say: Say) -> dict[str, Any]:
    """One run: prepare, start the API, read, fire callbacks, fire replies, read again."""
    url = scratch.next_run()
    db = Database(url)
    settings = Settings(database_url=url, secret_key=p.SECRET)
    alert_id, total, plan_s, mark_s = prepare(db, settings)
    say(f"{total:,} deliveries planned in {plan_s} s and marked sent in {mark_s} s")
    chosen = sample(db, alert_id, total, o.callbacks + o.replies)
    targets, repliers = chosen[: o.callbacks], chosen[o.callbacks :]
    prefix = f"bench{secrets.token_hex(4)}"
    profiler = Profiler(o.profile_dir)
    with p.Processes(scratch.directory / "logs" / prefix) as processes:
        port = p.free_port()
        api_url = f"http://127.0.0.1:{port}"
        env = p.stack_env(
            database_url=url,
            redis_url=redis_url,
            prefix=prefix,
            api_url=api_url,
            sim_url="http://127.0.0.1:9",
            data_dir=scratch.directory / "logs" / prefix,
            delivery={},
            rate_per_second=0,
        )
        api = p.start_api(processes, env, port, processes=o.api_processes)
        if o.api_processes > 1:  # every worker process up before the clock starts
            time.sleep(2.0)
        before = read_latency(api_url, alert_id, o.reads)
        say(f"GET /alerts/{{id}} at {total:,} deliveries: {before}")
        status_requests = [
            fh.status_callback(
                api_url,
                p.ACCOUNT,
                p.AUTH_TOKEN,
                delivery_id=i,
                sid=sid,
                to=to,
                sender=p.FROM_NUMBER,
                status=status,
            )
            for i, sid, to in targets
            for status in o.statuses
        ]
        load_before = m.load_average()
        profiler.start("api-callbacks", api.pid)
        fired, callback_cpu = _fire_metered(status_requests, o.concurrency, api.pid)
        profiles = profiler.stop()
        say(f"callbacks: {fired.ok:,}/{fired.sent:,} in {fired.seconds} s = {fired.rate:,.0f}/s")
        reply_requests = [
            fh.inbound_reply(
                api_url,
                p.ACCOUNT,
                p.AUTH_TOKEN,
                sid=f"SM{secrets.token_hex(16)}",
                sender=to,
                to=p.FROM_NUMBER,
                body="1",
            )
            for _i, _sid, to in repliers
        ]
        profiler.start("api-replies", api.pid)
        replied, reply_cpu = _fire_metered(reply_requests, o.concurrency, api.pid)
        profiles.update(profiler.stop())
        say(
            f"replies: {replied.ok:,}/{replied.sent:,} in {replied.seconds} s "
            f"= {replied.rate:,.0f}/s"
        )
        after = read_latency(api_url, alert_id, o.reads)
        peak = m.peak_rss_mib(api.pid)
    figures = {
        "deliveries": total,
        "households": scratch.district.households,
        "plan_s": plan_s,
        "callbacks_sent": fired.sent,
        "callbacks_ok": fired.ok,
        "callback_statuses": fired.statuses,
        "callbacks_s": fired.seconds,
        "callbacks_rate": round(fired.rate, 1),
        "callbacks_cpu_us": _per_item(callback_cpu, fired.ok),
        "replies_sent": replied.sent,
        "replies_ok": replied.ok,
        "replies_s": replied.seconds,
        "replies_rate": round(replied.rate, 1),
        "replies_cpu_us": _per_item(reply_cpu, replied.ok),
        "api_processes": o.api_processes,
        "read_before": before,
        "read_after": after,
        "read_median_ms": after["median_ms"],
        "read_p95_ms": after["p95_ms"],
        "applied": _counts(db, alert_id),
        "peak_rss_api_mib": peak,
        "db_size_mib": database_size_mib(db, scratch),
        "load_average_before": load_before,
        "load_average_after": m.load_average(),
        "profiles": profiles,
        "prefix": prefix,
    }
    db.dispose()
    return figures
