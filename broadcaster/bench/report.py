"""Medians over runs, the issue's targets, a human table (rich) and one JSON line."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from broadcaster.bench.machine import median


@dataclass(frozen=True)
class Target:
    """A figure of issue 8 and the bound it must meet."""

    key: str
    label: str
    bound: float
    at_most: bool
    size: int = 0  # the target holds at this size of `size_key`; smaller runs are not judged
    size_key: str = "households"

    def met(self, figures: dict[str, Any]) -> bool | None:
        value, size = figures.get(self.key), figures.get(self.size_key)
        if not isinstance(value, int | float):
            return None
        if isinstance(size, int | float) and size < 0.98 * self.size:  # about that size
            return None
        return value <= self.bound if self.at_most else value >= self.bound

    def text(self) -> str:
        return f"{'≤' if self.at_most else '≥'} {self.bound:g}"


TARGETS: dict[str, list[Target]] = {
    "fanout": [
        Target("end_to_end_s", "100k households handed off, end to end (s)", 20, True, 100_000),
        Target("handoff_rate", "hand-off rate (msg/s)", 5000, False),
        Target("ours_over_raw", "ours / raw limit", 0.6, False),
        Target("first_handoff_s", "first hand-off after the 201 (s)", 1, True),
        Target("steady_over_fault_free", "with provider faults / fault-free rate", 0.5, False),
    ],
    "plan": [
        Target("plan_s", "planning 1M households (s)", 60, True, 1_000_000),
        Target("peak_rss_mib", "peak RSS planning 1M households (MiB)", 1536, True, 1_000_000),
    ],
    "sweep": [
        Target("sweep_s", "escalation sweep over 100k due households (s)", 10, True, 100_000),
    ],
    "inputs": [  # the bounds the tests asserted in seconds before (now they count work)
        Target("zip_bomb_ms", "xlsx zip bomb refused (ms)", 2000, True),
        Target("zip_bomb_rss_growth_mib", "zip bomb: peak RSS growth (MiB)", 100, True),
        Target("cap_polygon_ms", "CAP 40,000-vertex polygon refused (ms)", 1000, True),
        Target("cap_circles_ms", "CAP 8,000 circles refused (ms)", 1000, True),
    ],
    "callbacks": [
        Target("callbacks_rate", "status callbacks applied (/s)", 5000, False),
        Target("replies_rate", "inbound SMS replies applied (/s)", 2000, False),
        Target(
            "read_median_ms",
            "GET /alerts/{id} at 1M deliveries, median (ms)",
            100,
            True,
            1_000_000,
            "deliveries",
        ),
    ],
}


FANOUT_ROWS = [
    ("households", "households targeted"),
    ("deliveries", "deliveries planned"),
    ("handed_off", "handed off to the simulator"),
    ("planning_s", "planning: POST → 201 (s)"),
    ("first_handoff_s", "201 → first hand-off (s)"),
    ("vulnerable_done_s", "201 → last vulnerable household sent (s)"),
    ("handoff_s", "201 → last hand-off (s)"),
    ("end_to_end_s", "POST → last hand-off (s)"),
    ("handoff_rate", "hand-off rate after the 201 (msg/s)"),
    ("steady_rate", "steady rate, 10 %–90 % (msg/s)"),
    ("callbacks_applied_s", "201 → every callback applied (s)"),
    ("raw_rate", "raw limit: bare aiohttp, same simulator (msg/s)"),
    ("naive_rate", "naive: RQ job per message, forking (msg/s)"),
    ("naive_extrapolated_s", "naive, extrapolated to all (s)"),
    ("ours_over_raw", "ours / raw"),
    ("ours_over_naive", "ours / naive"),
    ("peak_rss_mib", "peak RSS (MiB)"),
    ("cpu_s", "CPU during our fan-out (s)"),
    ("db_size_mib", "database size (MiB)"),
    ("lease_lost", "results after a lost lease"),
    ("duplicates", "messages beyond one per number"),
    ("faults", "provider requests failing (share)"),
    ("fault_free_steady_rate", "fault-free steady rate, same run (msg/s)"),
    ("fault_free_handoff_rate", "fault-free hand-off rate, same run (msg/s)"),
    ("steady_over_fault_free", "steady rate with faults / fault-free"),
    ("load_average_before", "load average before"),
]

# bench fanout --providers aliyun: per send mode, against the raw limit sent the same way
MODE_COLUMNS = [
    ("provider_requests", "requests"),
    ("handed_off", "handed off"),
    ("handoff_s", "201 → last (s)"),
    ("handoff_rate", "ours (msg/s)"),
    ("steady_rate", "steady (msg/s)"),
    ("raw_rate", "raw (msg/s)"),
    ("ours_over_raw", "ours / raw"),
    ("duplicates", "beyond one per number"),
]
SEND_MODES = [("single", "SendSms"), ("batch", "SendBatchSms ≤100")]

CALLBACK_ROWS = [
    ("deliveries", "deliveries in the database"),
    ("plan_s", "planned in-process (s)"),
    ("callbacks_ok", "status callbacks answered 2xx"),
    ("callbacks_rate", "status callbacks applied (/s)"),
    ("replies_ok", "inbound replies answered 2xx"),
    ("replies_rate", "inbound replies applied (/s)"),
    ("api_processes", "API processes"),
    ("callbacks_cpu_us", "CPU µs per callback (API, bench client)"),
    ("replies_cpu_us", "CPU µs per reply (API, bench client)"),
    ("read_median_ms", "GET /alerts/{id} median (ms)"),
    ("read_p95_ms", "GET /alerts/{id} p95 (ms)"),
    ("applied", "applied, from the database"),
    ("peak_rss_api_mib", "API peak RSS (MiB)"),
    ("db_size_mib", "database size (MiB)"),
    ("load_average_before", "load average before"),
]

PLAN_ROWS = [
    ("households", "households targeted"),
    ("deliveries", "deliveries planned"),
    ("plan_s", "planning, issue_alert + commit (s)"),
    ("commit_s", "of which commit (s)"),
    ("rss_before_mib", "RSS before planning (MiB)"),
    ("peak_rss_mib", "peak RSS while planning (MiB)"),
    ("db_size_mib", "database size after (MiB)"),
    ("load_average_before", "load average before"),
]

SWEEP_ROWS = [
    ("households", "households targeted, none answering"),
    ("due_voice", "stage 0 due → voice"),
    ("voice_deliveries", "voice deliveries planned"),
    ("sweep_voice_s", "sweep, stage 0 → voice (s)"),
    ("due_visit", "stage 1 due → door visit"),
    ("visit_tasks", "visit tasks created"),
    ("sweep_visit_s", "sweep, stage 1 → visits (s)"),
    ("load_average_before", "load average before"),
]

INPUT_ROWS = [
    (f"{case}_{unit}", f"{label}: {what}")
    for case, label in (
        ("import_valid", "valid .xlsx import"),
        ("zip_bomb", "xlsx zip bomb"),
        ("cap_valid", "valid CAP"),
        ("cap_polygon", "CAP 40,000 vertices"),
        ("cap_circles", "CAP 8,000 circles"),
    )
    for unit, what in (
        ("ms", "wall (ms)"),
        ("cpu_ms", "CPU (ms)"),
        ("rss_growth_mib", "+RSS (MiB)"),
    )
] + [
    ("zip_bomb_over_baseline_ms", "zip bomb / valid import (wall)"),
    ("cap_polygon_over_baseline_ms", "40,000 vertices / valid CAP (wall)"),
    ("cap_circles_over_baseline_ms", "8,000 circles / valid CAP (wall)"),
    ("load_average_before", "load average before"),
]

ROWS = {
    "fanout": FANOUT_ROWS,
    "callbacks": CALLBACK_ROWS,
    "plan": PLAN_ROWS,
    "sweep": SWEEP_ROWS,
    "inputs": INPUT_ROWS,
}


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per figure, the median over runs (per key for dicts of numbers; else the last value)."""
    out: dict[str, Any] = {}
    for key in runs[-1]:
        values = [run.get(key) for run in runs]
        first = values[-1]
        dicts = [v for v in values if isinstance(v, dict)]
        if isinstance(first, dict) and len(dicts) == len(values):
            out[key] = {k: median([v.get(k) for v in dicts]) for k in first}
        elif isinstance(first, int | float) and not isinstance(first, bool):
            out[key] = median(values)
        else:
            out[key] = first
    return out


def verdicts(bench: str, figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        t.key: {
            "value": figures.get(t.key),
            "target": t.text(),
            "met": t.met(figures),
        }
        for t in TARGETS.get(bench, [])
    }


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_cell(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def table(
    title: str, rows: list[tuple[str, str]], figures: dict[str, Any], runs: list[dict[str, Any]]
) -> Table:
    """Label, median and each run's value of the chosen figures."""
    out = Table(title=title, title_justify="left")
    out.add_column("figure")
    out.add_column("median" if len(runs) > 1 else "value", justify="right")
    if len(runs) > 1:
        out.add_column("runs", justify="right")
    for key, label in rows:
        cells = [label, _cell(figures.get(key))]
        if len(runs) > 1:
            cells.append(" / ".join(_cell(r.get(key)) for r in runs))
        out.add_row(*cells)
    return out


def modes_table(title: str, figures: dict[str, Any]) -> Table:
    """One row per Aliyun send mode: our hand-off and the raw limit of the same sends."""
    out = Table(title=title, title_justify="left")
    out.add_column("send mode")
    for _key, label in MODE_COLUMNS:
        out.add_column(label, justify="right")
    for mode, label in SEND_MODES:
        out.add_row(label, *(_cell(figures.get(f"{mode}_{key}")) for key, _ in MODE_COLUMNS))
    return out


def targets_table(bench: str, figures: dict[str, Any], title: str = "issue 8 targets") -> Table:
    out = Table(title=title, title_justify="left")
    for column in ("target", "value", "bound", "met"):
        out.add_column(column)
    for t in TARGETS.get(bench, []):
        met = t.met(figures)
        mark = "[green]yes[/green]" if met else "[red]no[/red]" if met is False else "?"
        out.add_row(t.label, _cell(figures.get(t.key)), t.text(), mark)
    return out


def print_tables(document: dict[str, Any]) -> None:
    """The figures (median and runs) and the targets of one benchmark's JSON document."""
    bench, machine, runs = document["bench"], document["machine"], document["runs"]
    dialect = runs[-1].get("dialect", "")
    heading = (
        f"bench {bench} · {dialect} · {machine.get('cores')} cores · "
        f"load {machine.get('load_average')} · {machine.get('commit')}"
    )
    console = Console()
    if not console.is_terminal:
        console.width = 140  # a log file or a pipe: keep the rows on one line
    figures = document["median"]
    if runs[-1].get("providers") == "aliyun":
        households, deliveries = _cell(figures.get("households")), _cell(figures.get("deliveries"))
        heading += f" · Aliyun SMS · {households} households, {deliveries} deliveries"
        console.print(modes_table(heading, figures))
        console.print(targets_table(bench, figures, "issue 8 targets (single sends)"))
        return
    console.print(table(heading, ROWS[bench], figures, runs))
    console.print(targets_table(bench, figures))


def emit(
    bench: str,
    *,
    machine: dict[str, Any],
    options: dict[str, Any],
    runs: list[dict[str, Any]],
    json_only: bool,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Print the table (unless json_only) and the JSON line; returns the JSON document."""
    figures = medians(runs)
    document = {
        "bench": bench,
        "machine": machine,
        "options": options,
        "median": figures,
        "targets": verdicts(bench, figures),
        "runs": runs,
    }
    if not json_only:
        print_tables(document)
    echo(json.dumps(document, ensure_ascii=False, default=str, separators=(",", ":")))
    return document
