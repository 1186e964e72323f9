"""`broadcaster bench`: the typer sub-app; its commands live in cli_stack (fanout, callbacks,
chaos) and cli_inprocess (plan, sweep, inputs); here, reading back earlier runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from broadcaster.bench.cli_common import bench_app
from broadcaster.bench.report import print_tables

# The order of registration is the order of `broadcaster bench --help`: the stack first.
# isort: off
from broadcaster.bench import cli_stack
from broadcaster.bench import cli_inprocess

# isort: on

__all__ = ["bench_app", "cli_inprocess", "cli_stack"]  # importing them registers their commands


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
