"""`broadcaster bench`: fanout, callbacks and plan benchmarks (a typer sub-app)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import redis
import typer
from rich.console import Console

from broadcaster.bench import machine as m
from broadcaster.bench.report import emit, print_tables
from broadcaster.bench.scratch import scratch_database
from broadcaster.redis_embedded import EmbeddedRedis

bench_app = typer.Typer(
    help="Benchmarks: fan-out with raw and naive baselines, callbacks, planning.",
    no_args_is_help=True,
)
DatabaseOpt = Annotated[
    str | None,
    typer.Option(help="sqlite (default), postgresql, or a URL; PostgreSQL gets a scratch schema"),
]
RedisOpt = Annotated[
    str | None, typer.Option(help="Redis URL (default: BROADCASTER_REDIS_URL, else embedded)")
]
RunsOpt = Annotated[int, typer.Option(min=1, max=9, help="runs; medians are reported")]
JsonOpt = Annotated[bool, typer.Option(help="print only the JSON line")]
ProfileOpt = Annotated[
    Path | None, typer.Option(help="record py-spy profiles (collapsed stacks) into this directory")
]


def _say(json_only: bool) -> Callable[[str], None]:
    console = Console(stderr=True)

    def say(message: str) -> None:
        if not json_only:
            console.print(f"[dim]·[/dim] {message}")

    return say


@contextmanager
def bench_redis(url: str | None) -> Iterator[str]:
    """The configured Redis, else a private embedded redis-server for the benchmark."""
    url = url or os.environ.get("BROADCASTER_REDIS_URL")
    if url:
        yield url
        return
    directory = Path(tempfile.mkdtemp(prefix="bb-redis-", dir="/tmp"))
    try:
        with EmbeddedRedis(directory) as server:
            yield server.url
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def forget_keys(url: str, prefix: str) -> None:
    """Delete the benchmark's keys from a shared Redis."""
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=f"*{prefix}*", count=1000):
            client.delete(key)
    finally:
        client.close()


@bench_app.command("fanout")
def fanout(
    households: Annotated[int, typer.Option(min=10, max=1_500_000)] = 100_000,
    channels: Annotated[str, typer.Option(help="comma-separated channels")] = "sms",
    workers: Annotated[int, typer.Option(min=1, max=32)] = 2,
    database_url: DatabaseOpt = None,
    redis_url: RedisOpt = None,
    naive_sample: Annotated[int, typer.Option(min=1)] = 2000,
    raw_concurrency: Annotated[int, typer.Option(min=1)] = 100,
    runs: RunsOpt = 1,
    json_only: JsonOpt = False,
    baselines: Annotated[bool, typer.Option(help="measure the raw and naive baselines")] = True,
    heads_only: Annotated[bool, typer.Option(help="one SMS per household")] = False,
    sim_callbacks: Annotated[bool, typer.Option(help="simulator posts status callbacks")] = True,
    callback_delay_ms: Annotated[float, typer.Option(min=0)] = 0.0,
    callback_concurrency: Annotated[int, typer.Option(min=1, help="simulator's senders")] = 64,
    batch_size: Annotated[int | None, typer.Option(help="BROADCASTER_DELIVERY__BATCH_SIZE")] = None,
    concurrency: Annotated[int | None, typer.Option(help="provider calls in flight")] = None,
    rate_per_second: Annotated[float, typer.Option(help="our SMS rate limit (0: none)")] = 1e5,
    stall_seconds: Annotated[float, typer.Option(help="give up after no progress")] = 120.0,
    profile: ProfileOpt = None,
    faults: Annotated[
        float,
        typer.Option(
            min=0,
            max=0.9,
            help="share of provider requests failing (2/3 HTTP 500, 1/3 timeouts); each run "
            "is then preceded by a fault-free run of the same fan-out to compare with",
        ),
    ] = 0.0,
) -> None:
    """Issue one alert to every household and time the fan-out against the baselines."""
    from broadcaster.bench.fanout import FanoutOptions, run_fanout
    from broadcaster.bench.provider_faults import compare_with_fault_free

    delivery = {"batch_size": batch_size, "concurrency": concurrency}
    options = FanoutOptions(
        households=households,
        channels=[c.strip() for c in channels.split(",") if c.strip()],
        workers=workers,
        naive_sample=naive_sample,
        raw_concurrency=raw_concurrency,
        baselines=baselines,
        heads_only=heads_only,
        sim_callbacks=sim_callbacks,
        callback_delay_ms=callback_delay_ms,
        rate_per_second=rate_per_second,
        delivery={k: str(v) for k, v in delivery.items() if v is not None},
        stall_seconds=stall_seconds,
        profile_dir=profile,
        faults=faults,
    )
    say = _say(json_only)
    results: list[dict[str, Any]] = []
    with bench_redis(redis_url) as url, scratch_database(database_url, households, say) as db:
        for n in range(runs):
            run_options = options
            if profile is not None:
                run_options.profile_dir = profile / f"fanout-{db.dialect}-{n + 1}"
            say(f"run {n + 1}/{runs} on {db.dialect}, load {m.load_average()}")
            clean: dict[str, Any] | None = None
            if faults:
                say("fault-free run first, to compare with")
                clean = run_fanout(replace(run_options, faults=0.0, baselines=False), db, url, say)
                forget_keys(url, clean["prefix"])
                say(f"now with {faults:.0%} of provider requests failing")
                run_options = replace(run_options, baselines=False)
            figures = run_fanout(run_options, db, url, say)
            forget_keys(url, figures["prefix"])
            if clean is not None:
                figures.update(compare_with_fault_free(figures, clean))
            figures["dialect"] = db.dialect
            figures["district_s"] = db.district_seconds
            results.append(figures)
    _finish("fanout", results, json_only, options.__dict__)
    if not all(r.get("handed_off") == r.get("deliveries") for r in results):
        raise typer.Exit(code=1)


def _finish(
    bench: str, results: list[dict[str, Any]], json_only: bool, options: dict[str, Any]
) -> None:
    emit(bench, machine=m.machine(), options=options, runs=results, json_only=json_only)


@bench_app.command("callbacks")
def callbacks(
    deliveries: Annotated[int, typer.Option(min=100, max=3_000_000)] = 1_000_000,
    count: Annotated[int, typer.Option("--callbacks", min=1, help="callbacks to fire")] = 20_000,
    replies: Annotated[int, typer.Option(min=0, help="inbound replies to fire")] = 2_000,
    concurrency: Annotated[int, typer.Option(min=1)] = 200,
    reads: Annotated[int, typer.Option(min=1)] = 50,
    statuses: Annotated[str, typer.Option(help="per delivery, e.g. sent,delivered")] = "delivered",
    database_url: DatabaseOpt = None,
    redis_url: RedisOpt = None,
    runs: RunsOpt = 1,
    json_only: JsonOpt = False,
    profile: ProfileOpt = None,
) -> None:
    """Signed status callbacks and replies through the API, and the status read, at N deliveries."""
    from broadcaster.bench.callbacks import CallbackOptions, households_for, run_callbacks

    options = CallbackOptions(
        deliveries=deliveries,
        callbacks=count,
        replies=replies,
        concurrency=concurrency,
        reads=reads,
        statuses=[s.strip() for s in statuses.split(",") if s.strip()],
    )
    say = _say(json_only)
    results: list[dict[str, Any]] = []
    households = households_for(deliveries)
    with bench_redis(redis_url) as url, scratch_database(database_url, households, say) as db:
        for n in range(runs):
            options.profile_dir = profile / f"callbacks-{db.dialect}-{n + 1}" if profile else None
            say(f"run {n + 1}/{runs} on {db.dialect}, load {m.load_average()}")
            figures = run_callbacks(options, db, url, say)
            forget_keys(url, figures["prefix"])
            figures["dialect"] = db.dialect
            results.append(figures)
    _finish("callbacks", results, json_only, options.__dict__)


@bench_app.command("plan")
def plan(
    households: Annotated[int, typer.Option(min=10, max=1_500_000)] = 1_000_000,
    database_url: DatabaseOpt = None,
    runs: RunsOpt = 1,
    json_only: JsonOpt = False,
    profile: ProfileOpt = None,
) -> None:
    """Planning time and peak memory for one alert to every household of a district."""
    from broadcaster.bench.plan import run_plan

    say = _say(json_only)
    results: list[dict[str, Any]] = []
    with scratch_database(database_url, households, say) as db:
        for n in range(runs):
            say(f"run {n + 1}/{runs} on {db.dialect}, load {m.load_average()}")
            path = profile / f"plan-{db.dialect}-{n + 1}.txt" if profile else None
            figures = run_plan(db, path)
            say(
                f"planned {figures['deliveries']:,} deliveries in {figures['plan_s']} s, "
                f"peak RSS {figures['peak_rss_mib']} MiB"
            )
            for statement, seconds in figures["top_statements"][:4]:
                say(f"  {seconds:8.3f} s  {statement}")
            figures["dialect"] = db.dialect
            figures["district_s"] = db.district_seconds
            results.append(figures)
    _finish("plan", results, json_only, {"households": households, "runs": runs})


@bench_app.command("sweep")
def sweep(
    households: Annotated[int, typer.Option(min=10, max=1_500_000)] = 100_000,
    database_url: DatabaseOpt = None,
    runs: RunsOpt = 1,
    json_only: JsonOpt = False,
) -> None:
    """One escalation sweep over every household of an alert: voice step, then visits."""
    from broadcaster.bench.sweep import measure

    say = _say(json_only)
    results: list[dict[str, Any]] = []
    with scratch_database(database_url, households, say) as db:
        for n in range(runs):
            load = m.load_average()
            say(f"run {n + 1}/{runs} on {db.dialect}, load {load}")
            figures = measure(db.next_run())
            say(
                f"voice step for {figures['due_voice']:,} households in "
                f"{figures['sweep_voice_s']} s; visits for {figures['due_visit']:,} in "
                f"{figures['sweep_visit_s']} s"
            )
            figures.update(dialect=db.dialect, load_average_before=load)
            results.append(figures)
    _finish("sweep", results, json_only, {"households": households, "runs": runs})


@bench_app.command("chaos")
def chaos(
    households: Annotated[int, typer.Option(min=10, max=1_500_000)] = 5000,
    scenario: Annotated[
        list[str] | None,
        typer.Option(help="api-kill, redis-kill, worker-kill, provider-faults, db-kill (all)"),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=32)] = 2,
    database_url: DatabaseOpt = None,
    rate_per_second: Annotated[float, typer.Option(help="our SMS rate limit")] = 250.0,
    fault_at: Annotated[
        float, typer.Option(min=0, max=1, help="strike once this share is handed off")
    ] = 0.2,
    down_seconds: Annotated[float, typer.Option(help="how long a killed part stays down")] = 10.0,
    provider_fault_seconds: Annotated[float, typer.Option()] = 20.0,
    settle_timeout: Annotated[float, typer.Option(help="give up waiting after (s)")] = 300.0,
    delivery: Annotated[
        list[str] | None, typer.Option(help="KEY=VALUE delivery settings, e.g. lease_seconds=20")
    ] = None,
    json_only: JsonOpt = False,
) -> None:
    """Faults mid-fan-out (API, Redis, workers, provider, database): missed, doubled, recovery."""
    from broadcaster.bench.chaos import ChaosOptions, emit, run_scenario
    from broadcaster.bench.chaos_faults import FAULTS

    chosen = scenario or list(FAULTS)
    unknown = [s for s in chosen if s not in FAULTS]
    if unknown:
        raise typer.BadParameter(f"unknown scenario(s) {unknown}; choose from {list(FAULTS)}")
    overrides = dict(item.split("=", 1) for item in delivery or [])
    options = ChaosOptions(
        households=households,
        scenarios=chosen,
        workers=workers,
        rate_per_second=rate_per_second,
        fault_at=fault_at,
        down_seconds=down_seconds,
        provider_fault_seconds=provider_fault_seconds,
        settle_timeout=settle_timeout,
        delivery=overrides,
    )
    say = _say(json_only)
    results: list[dict[str, Any]] = []
    with scratch_database(database_url, households, say) as db:
        for name in chosen:
            say(f"scenario {name} on {db.dialect}, load {m.load_average()}")
            results.append(run_scenario(name, options, db, say))
        dialect = db.dialect
    emit(options, dialect, results, json_only)
    if any(r["missed"] or r["duplicates"] or r["recovery_s"] is None for r in results):
        raise typer.Exit(code=1)


@bench_app.command("show")
def show(files: Annotated[list[Path], typer.Argument(help="files holding JSON lines")]) -> None:
    """Print the tables of JSON lines that earlier runs printed."""
    for path in files:
        for line in path.read_text().splitlines():
            if line.startswith('{"bench"'):
                print_tables(json.loads(line))


@bench_app.command("profile-summary")
def profile_summary(
    files: Annotated[list[Path], typer.Argument(help="py-spy raw (collapsed) profiles")],
    top: Annotated[int, typer.Option(min=1)] = 15,
    thread: Annotated[str | None, typer.Option(help="only threads whose name has this")] = None,
) -> None:
    """Top functions by self and inclusive share of the samples of py-spy profiles."""
    from rich.table import Table

    from broadcaster.bench.profiles import summarise

    console = Console()
    for path in files:
        summary = summarise(path, top=top, thread=thread)
        console.print(f"[bold]{path}[/bold]: {summary['samples']} samples, {summary['threads']}")
        for kind in ("self_pct", "inclusive_pct"):
            out = Table(title=kind, title_justify="left")
            out.add_column("%", justify="right")
            out.add_column("function (file)")
            for function, share in summary[kind]:  # type: ignore[attr-defined]
                out.add_row(f"{share:.1f}", function)
            console.print(out)


if __name__ == "__main__":
    bench_app()
