"""`bench chaos`'s table and JSON line."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from broadcaster.bench import machine as m
from broadcaster.bench.chaos import ChaosOptions

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
    ("all_final_s", "all final s"),
    ("rate_before", "msg/s before"),
    ("rate_during", "during"),
    ("client_5xx", "5xx"),
    ("service_died", "died"),
]
LEGEND = (
    "recovery: the fault's end → every SMS final; rest: sending what was left then at "
    "the rate limit (no recovery is faster); beyond rest: what the fault cost; resumed: the "
    "hand-off's first message after the fault; tail: the last message handed off → all final; "
    "all final: the fault's end → every delivery of every channel final (calls, and held-back "
    "ones waiting out a per-number window, included)"
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
