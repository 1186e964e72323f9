"""The faults of `bench chaos`: each one hits a running stack and returns when the fault ends."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from broadcaster.bench import procs as p
from broadcaster.db.engine import make_engine
from broadcaster.redis_embedded import EmbeddedRedis

Say = Callable[[str], None]


@dataclass
class ChaosStack:
    """What a fault may act on: the service's processes, its private Redis, its database."""

    processes: p.Processes
    env: dict[str, str]
    api: p.Proc
    api_port: int
    workers: list[p.Proc]
    redis: EmbeddedRedis
    sim_url: str
    database_url: str  # as the service connects (PostgreSQL: with our application_name)
    app_name: str | None
    say: Say
    down_seconds: float = 10.0
    provider_fault_seconds: float = 20.0
    restarts: list[str] = field(default_factory=list)
    notes: dict[str, float] = field(default_factory=dict)  # what the fault did, in figures

    @property
    def service(self) -> list[p.Proc]:
        return [self.api, *self.workers]


def sigkill(proc: p.Proc) -> None:
    if proc.alive():
        proc.popen.send_signal(signal.SIGKILL)
        proc.popen.wait()


def api_kill(stack: ChaosStack) -> None:
    """The API SIGKILLed mid-fan-out, started again after `down_seconds`."""
    sigkill(stack.api)
    stack.say(f"API killed; back in {stack.down_seconds:g} s")
    time.sleep(stack.down_seconds)
    stack.api = p.start_api(stack.processes, stack.env, stack.api_port, name="api-2")
    stack.restarts.append("api (by the bench: the fault)")


def redis_kill(stack: ChaosStack) -> None:
    """Redis SIGKILLed, restarted EMPTY after `down_seconds`; no service process touched."""
    stack.redis.kill()
    stack.redis.forget_data()
    stack.say(f"Redis killed; back, empty, in {stack.down_seconds:g} s")
    time.sleep(stack.down_seconds)
    stack.redis.start()


def worker_kill(stack: ChaosStack) -> None:
    """Every worker SIGKILLed; one started again after `down_seconds`."""
    for worker in stack.workers:
        sigkill(worker)
    stack.say(f"{len(stack.workers)} workers killed; one back in {stack.down_seconds:g} s")
    time.sleep(stack.down_seconds)
    args = ["-m", "broadcaster.cli", "worker"]
    stack.workers = [stack.processes.start("worker-r0", args, stack.env)]
    stack.restarts.append("worker (by the bench: the fault)")


def provider_faults(stack: ChaosStack) -> None:
    """The simulator answers 20 % HTTP 500 and lets 10 % time out, for a while."""
    config = httpx.post(
        f"{stack.sim_url}/sim/api/config",
        json={"error_500_rate": 0.2, "timeout_rate": 0.1, "timeout_seconds": 30},
        timeout=10,
    )
    config.raise_for_status()
    stack.say(f"provider: 20 % HTTP 500 + 10 % timeouts for {stack.provider_fault_seconds:g} s")
    time.sleep(stack.provider_fault_seconds)
    httpx.post(
        f"{stack.sim_url}/sim/api/config",
        json={"error_500_rate": 0, "timeout_rate": 0},
        timeout=10,
    ).raise_for_status()


def db_kill(stack: ChaosStack) -> None:
    """PostgreSQL: every connection of the service terminated, three times; SQLite: the
    database held locked (a busy storm) for `down_seconds`."""
    if stack.app_name is not None:
        killed = 0
        for _ in range(3):
            killed += terminate_connections(stack.database_url, stack.app_name)
            time.sleep(stack.down_seconds / 3)
        stack.notes["connections_killed"] = killed
        stack.say(f"database: {killed} connections of the service terminated")
        return
    path = make_url(stack.database_url).database
    assert path, stack.database_url
    held = lock_storm(Path(path), seconds=stack.down_seconds)
    stack.notes["locked_s"] = round(held, 1)
    stack.say(f"database: locked {held:.1f} s of {stack.down_seconds:g} s")


def terminate_connections(url: str, app_name: str) -> int:
    """pg_terminate_backend on the connections named `app_name` (the service's, only)."""
    admin_url = make_url(url).difference_update_query(["application_name"])
    engine = make_engine(admin_url.render_as_string(hide_password=False), pool_size=1)
    try:
        with engine.begin() as connection:
            count = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :name AND pid <> pg_backend_pid()"
                ),
                {"name": app_name},
            ).scalar_one()
        return int(count)
    finally:
        engine.dispose()


def lock_storm(path: Path, *, seconds: float, hold: float = 2.0, gap: float = 0.2) -> float:
    """Take SQLite's write lock for `hold` s, let go for `gap` s, until `seconds` pass."""
    held = 0.0
    end = time.monotonic() + seconds
    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        while time.monotonic() < end:
            connection.execute("BEGIN EXCLUSIVE")
            started = time.monotonic()
            time.sleep(min(hold, max(0.0, end - started)))
            connection.execute("COMMIT")
            held += time.monotonic() - started
            time.sleep(gap)
    finally:
        connection.close()
    return held


FAULTS: dict[str, tuple[str, Callable[[ChaosStack], None]]] = {
    "api-kill": ("API SIGKILLed, started again after the pause", api_kill),
    "redis-kill": (
        "Redis SIGKILLed, back EMPTY after the pause; nothing else restarted",
        redis_kill,
    ),
    "worker-kill": ("every worker SIGKILLed, one started again after the pause", worker_kill),
    "provider-faults": ("20 % HTTP 500 + 10 % timeouts at the provider", provider_faults),
    "db-kill": ("database connections killed (PostgreSQL) / write lock storm (SQLite)", db_kill),
}


class Officer(threading.Thread):
    """A duty officer's client polling the alert through the API; counts what it is told."""

    def __init__(self, api_url: str, alert_id: int, key: str, every: float = 0.25) -> None:
        super().__init__(name="officer", daemon=True)
        self.url = f"{api_url}/api/v1/alerts/{alert_id}"
        self.headers = {"Authorization": f"Bearer {key}"}
        self.every = every
        self.counts: dict[str, int] = {"ok": 0, "5xx": 0, "503": 0, "other": 0, "unreachable": 0}
        self._stop_event = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop_event.is_set():
                try:
                    status = client.get(self.url, headers=self.headers).status_code
                except httpx.HTTPError:
                    self.counts["unreachable"] += 1
                else:
                    if status == 503:
                        self.counts["503"] += 1
                    kind = "ok" if status < 300 else "5xx" if status >= 500 else "other"
                    self.counts[kind] += 1
                self._stop_event.wait(self.every)

    def stop(self) -> dict[str, int]:
        self._stop_event.set()
        self.join(timeout=15)
        return dict(self.counts)
