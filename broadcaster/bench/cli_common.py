"""What the `broadcaster bench` commands share: the typer app, options, Redis, output."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import redis
import typer
from rich.console import Console

from broadcaster.bench import machine as m
from broadcaster.bench.report import emit
from broadcaster.redis_embedded import EmbeddedRedis

bench_app = typer.Typer(
    help="Benchmarks: fan-out with raw and naive baselines, callbacks, planning, faults, "
    "hostile inputs.",
    no_args_is_help=True,
)


@bench_app.callback()
def _stop_cleanly_on_sigterm() -> None:
    """A benchmark stopped by SIGTERM cleans up as after Ctrl-C: its service processes, its
    private redis-server and its scratch schema go too (Python's default SIGTERM ends the
    process on the spot, and they were left behind)."""
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


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


def say_to(json_only: bool) -> Callable[[str], None]:
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


def finish(
    bench: str, results: list[dict[str, Any]], json_only: bool, options: dict[str, Any]
) -> None:
    emit(bench, machine=m.machine(), options=options, runs=results, json_only=json_only)
