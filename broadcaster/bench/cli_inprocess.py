"""`broadcaster bench` commands measured in one process: plan, sweep, inputs."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from broadcaster.bench import machine as m
from broadcaster.bench.cli_common import (
    DatabaseOpt,
    JsonOpt,
    ProfileOpt,
    RunsOpt,
    bench_app,
    finish,
    say_to,
)
from broadcaster.bench.scratch import scratch_database


@bench_app.command("plan")
def plan(
    households: Annotated[int, typer.Option(min=10, max=1_500_000)] = 1_000_000,
    database_url: DatabaseOpt = None,
    runs: RunsOpt = 1,
    json_only: JsonOpt = False,
    profile: ProfileOpt = None,
    explain: Annotated[
        bool,
        typer.Option(help="PostgreSQL: run the bulk writes under EXPLAIN ANALYZE, time triggers"),
    ] = False,
) -> None:
    """Planning time and peak memory for one alert to every household of a district."""
    from broadcaster.bench.plan import run_plan

    say = say_to(json_only)
    results: list[dict[str, Any]] = []
    with scratch_database(database_url, households, say) as db:
        for n in range(runs):
            say(f"run {n + 1}/{runs} on {db.dialect}, load {m.load_average()}")
            path = profile / f"plan-{db.dialect}-{n + 1}.txt" if profile else None
            figures = run_plan(db, path, explain)
            say(
                f"planned {figures['deliveries']:,} deliveries in {figures['plan_s']} s, "
                f"peak RSS {figures['peak_rss_mib']} MiB"
            )
            for statement, seconds in figures["top_statements"][:4]:
                say(f"  {seconds:8.3f} s  {statement}")
            for write in figures.get("explained", []):
                say(f"  {write['ms']:8,} ms  {write['statement']}: {write['triggers_ms']}")
            figures["dialect"] = db.dialect
            figures["district_s"] = db.district_seconds
            results.append(figures)
    finish("plan", results, json_only, {"households": households, "runs": runs})


@bench_app.command("sweep")
def sweep(
    households: Annotated[int, typer.Option(min=10, max=1_500_000)] = 100_000,
    database_url: DatabaseOpt = None,
    runs: RunsOpt = 1,
    json_only: JsonOpt = False,
) -> None:
    """One escalation sweep over every household of an alert: voice step, then visits."""
    from broadcaster.bench.sweep import measure

    say = say_to(json_only)
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
    finish("sweep", results, json_only, {"households": households, "runs": runs})


@bench_app.command("inputs")
def inputs(
    runs: Annotated[int, typer.Option(min=1, max=100, help="requests per case; medians")] = 5,
    households: Annotated[
        int, typer.Option(min=1, max=10_000, help="rows of the valid import and the district")
    ] = 50,
    json_only: JsonOpt = False,
) -> None:
    """What refusing a zip bomb and CAP geometry bombs costs, next to valid input."""
    from rich.console import Console

    from broadcaster.bench.inputs import print_table, run_inputs
    from broadcaster.bench.report import emit, targets_table

    say = say_to(json_only)
    say(f"load {m.load_average()}")
    figures = run_inputs(runs, households, say)
    machine = m.machine()
    if not json_only:
        print_table(figures, machine)
        Console().print(targets_table("inputs", figures, "targets (the tests' former bounds)"))
    options = {"runs": runs, "households": households}
    emit("inputs", machine=machine, options=options, runs=[figures], json_only=True)
