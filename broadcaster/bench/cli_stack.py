"""`broadcaster bench` commands that run the whole stack: fanout, callbacks, chaos."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

import typer

from broadcaster.bench import machine as m
from broadcaster.bench.cli_common import (
    DatabaseOpt,
    JsonOpt,
    ProfileOpt,
    RedisOpt,
    RunsOpt,
    bench_app,
    bench_redis,
    finish,
    forget_keys,
    say_to,
)
from broadcaster.bench.scratch import scratch_database


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
    providers: Annotated[
        str,
        typer.Option(
            help="twilio; or aliyun: Aliyun SMS with single (SendSms) and batched "
            "(SendBatchSms of 100) sends, each against the raw limit of the same endpoint"
        ),
    ] = "twilio",
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
    from broadcaster.bench.fanout_aliyun import complete, run_modes
    from broadcaster.bench.provider_faults import compare_with_fault_free

    if providers not in ("twilio", "aliyun"):
        raise typer.BadParameter(f"--providers {providers}: twilio or aliyun")
    if providers == "aliyun" and faults:
        raise typer.BadParameter("--faults measures the Twilio fan-out only")

    delivery = {"batch_size": batch_size, "concurrency": concurrency}
    options = FanoutOptions(
        households=households,
        channels=[c.strip() for c in channels.split(",") if c.strip()],
        workers=workers,
        naive_sample=naive_sample,
        raw_concurrency=raw_concurrency,
        baselines=baselines,
        heads_only=heads_only,
        sim_callbacks=sim_callbacks and providers == "twilio",  # Aliyun: hand-off only
        callback_delay_ms=callback_delay_ms,
        rate_per_second=rate_per_second,
        delivery={k: str(v) for k, v in delivery.items() if v is not None},
        stall_seconds=stall_seconds,
        profile_dir=profile,
        faults=faults,
        provider=providers,
    )
    say = say_to(json_only)
    results: list[dict[str, Any]] = []
    with bench_redis(redis_url) as url, scratch_database(database_url, households, say) as db:
        for n in range(runs):
            run_options = options
            if profile is not None:
                run_options.profile_dir = profile / f"fanout-{db.dialect}-{n + 1}"
            say(f"run {n + 1}/{runs} on {db.dialect}, load {m.load_average()}")
            if providers == "aliyun":
                figures = run_modes(run_options, db, url, say)
                for prefix in figures["prefixes"]:
                    forget_keys(url, prefix)
                figures["dialect"] = db.dialect
                figures["district_s"] = db.district_seconds
                results.append(figures)
                continue
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
    finish("fanout", results, json_only, options.__dict__)
    if not all(complete(r) for r in results):
        raise typer.Exit(code=1)


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
    api_processes: Annotated[int, typer.Option(min=1, max=16, help="uvicorn processes")] = 1,
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
        api_processes=api_processes,
    )
    say = say_to(json_only)
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
    finish("callbacks", results, json_only, options.__dict__)


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
    """Faults mid-fan-out (API, Redis, workers, provider, database): missed, doubled, recovery.

    recovery_s: from the fault's end until every delivery is final (sending the rest included).
    rest_s: sending what was left at the fault's end, at the rate limit (no recovery is faster).
    recovery_beyond_rest_s: recovery_s minus rest_s, what the fault cost.
    At the default --fault-at 0.2 the rest is most of recovery_s; 0.8 leaves little to send.
    """
    from broadcaster.bench.chaos import ChaosOptions, run_scenario
    from broadcaster.bench.chaos_faults import FAULTS
    from broadcaster.bench.chaos_report import emit

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
    say = say_to(json_only)
    results: list[dict[str, Any]] = []
    with scratch_database(database_url, households, say) as db:
        for name in chosen:
            say(f"scenario {name} on {db.dialect}, load {m.load_average()}")
            results.append(run_scenario(name, options, db, say))
        dialect = db.dialect
    emit(options, dialect, results, json_only)
    if any(r["missed"] or r["duplicates"] or r["recovery_s"] is None for r in results):
        raise typer.Exit(code=1)
