"""A running stack for end-to-end tests: API and simulator on loopback, workers as processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from broadcaster.app import create_app
from broadcaster.db.database import Database
from broadcaster.settings import DeliverySettings, Settings, TwilioSettings, WecomSettings
from broadcaster.sim import SimConfig, create_standalone_app
from broadcaster.sim.state import SimState

ACCOUNT = "AC" + "1" * 32
TOKEN = "sim-auth-token-for-tests"
ADMIN_KEY = "bk_test_admin_key_0123456789abcdef"
SECRET = "test-secret-key-0123456789"


def free_port() -> int:
    """A port free now, for a process started later to bind (it may be taken meanwhile)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Ports held bound from their choice until a ServerThread serves on them: a port chosen,
# closed and bound again by uvicorn was now and then taken in between by another process's
# outgoing connection ("address already in use"; one test in a full run, 2026-12-08).
_RESERVED: dict[int, socket.socket] = {}


def reserve_port() -> int:
    """A loopback port kept bound for a ServerThread of this process."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    _RESERVED[port] = sock
    return port


class ServerThread:
    """A uvicorn server in a thread of the test process (on the socket `reserve_port` holds
    for `port`, if any)."""

    def __init__(self, app: Any, port: int) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        held = _RESERVED.pop(port, None)
        sockets = [held] if held is not None else None
        self.thread = threading.Thread(target=self.server.run, args=(sockets,), daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@dataclass
class Stack:
    """Everything an end-to-end test drives."""

    api_url: str
    sim_url: str
    settings: Settings
    env: dict[str, str]
    db: Database
    sim: SimState
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    real: SimState | None = None

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.api_url, timeout=30, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )

    def start_worker(self, *, scheduler: bool = True) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "broadcaster.cli", "worker"]
        if not scheduler:
            command.append("--no-scheduler")
        log_path = Path(self.env["BROADCASTER_DATA_DIR"]) / f"worker-{len(self.workers)}.log"
        with log_path.open("wb") as log:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.workers.append(proc)
        return proc

    def stop_workers(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.workers:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def sim_messages(self) -> list[Any]:
        """A copy of what the simulator received (it may be adding messages meanwhile)."""
        for _ in range(100):
            try:
                return list(self.sim.store.messages.values())
            except RuntimeError:  # dictionary changed size during iteration
                time.sleep(0.01)
        raise AssertionError("could not copy the simulator's messages")


def wait_until(check: Callable[[], bool], *, timeout: float = 120, every: float = 0.2) -> None:
    """Poll until `check()` holds; fail the test after a generous timeout."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(every)


def stack_settings(
    db: Database,
    redis_settings: Settings,
    api_url: str,
    sim_url: str,
    data_dir: Path,
    *,
    provider_url: str | None = None,
    simulator_url: str | None = None,
    config_dir: Path | None = None,
    channel_options: dict[str, dict[str, Any]] | None = None,
    media: dict[str, list[str]] | None = None,
    **delivery: Any,
) -> Settings:
    """Settings of a test stack: short leases and grace periods so recovery is quick."""
    timings = {
        "lease_seconds": 5,
        "unknown_grace_seconds": 2,
        "status_lookup_after_seconds": 5,
        "status_recheck_after_seconds": 5,
        "reconcile_every_seconds": 1,
        "provider_timeout_seconds": 3,
        **delivery,
    }
    extra = {"config_dir": config_dir} if config_dir else {}
    return Settings(
        **extra,
        env="test",
        api_ticks=False,  # the workers tick; tests start and stop them
        followup_every_seconds=1,
        database_url=db.url,
        redis_url=redis_settings.redis_url,
        queue_prefix=redis_settings.queue_prefix,
        public_base_url=api_url,
        simulator_url=simulator_url,
        secret_key=SECRET,
        bootstrap_api_key=ADMIN_KEY,
        data_dir=data_dir,
        twilio=TwilioSettings(
            account_sid=ACCOUNT,
            auth_token=TOKEN,
            api_base_url=provider_url or sim_url,
            rate_per_second=10_000,
        ),
        wecom=WecomSettings(api_base_url=provider_url or sim_url),
        delivery=DeliverySettings.model_validate(timings, strict=False),
        channel_options=channel_options or {},
        media=media or {},
    )


def environment(settings: Settings) -> dict[str, str]:
    """The same settings as environment variables, for worker processes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")}
    env.update(
        {
            "BROADCASTER_ENV": "test",
            "BROADCASTER_DATABASE_URL": settings.resolved_database_url,
            "BROADCASTER_REDIS_URL": settings.redis_url or "",
            "BROADCASTER_QUEUE_PREFIX": settings.queue_prefix,
            "BROADCASTER_PUBLIC_BASE_URL": settings.public_base_url,
            "BROADCASTER_SIMULATOR_URL": settings.simulator_url or "",
            "BROADCASTER_SECRET_KEY": settings.secret_key.get_secret_value(),
            "BROADCASTER_DATA_DIR": str(settings.data_dir),
            "BROADCASTER_TWILIO__ACCOUNT_SID": settings.twilio.account_sid,
            "BROADCASTER_TWILIO__AUTH_TOKEN": settings.twilio.auth_token.get_secret_value(),
            "BROADCASTER_TWILIO__API_BASE_URL": settings.twilio.api_base_url or "",
            "BROADCASTER_TWILIO__RATE_PER_SECOND": str(settings.twilio.rate_per_second),
            "BROADCASTER_WECOM__API_BASE_URL": settings.wecom.api_base_url,
            "BROADCASTER_CONFIG_DIR": str(settings.config_dir),
            "BROADCASTER_FOLLOWUP_EVERY_SECONDS": str(settings.followup_every_seconds),
        }
    )
    if settings.media:  # each medium's providers in order
        env["BROADCASTER_MEDIA"] = json.dumps(settings.media)
    for name, options in settings.channel_options.items():  # a provider's own table
        for key, option in options.items():
            env[f"BROADCASTER_CHANNEL_OPTIONS__{name.upper()}__{key.upper()}"] = str(option)
    for key, value in settings.delivery.model_dump().items():
        if isinstance(value, dict):  # a nested section: one variable per field
            for inner, setting in value.items():
                env[f"BROADCASTER_DELIVERY__{key.upper()}__{inner.upper()}"] = str(setting)
        else:
            env[f"BROADCASTER_DELIVERY__{key.upper()}"] = str(value)
    return env


def _with_urls(options: dict[str, dict[str, Any]], **urls: str) -> dict[str, dict[str, Any]]:
    return {
        name: {k: v.format(**urls) if isinstance(v, str) else v for k, v in table.items()}
        for name, table in options.items()
    }


@contextmanager
def running_stack(
    db: Database,
    redis_settings: Settings,
    data_dir: Path,
    sim_config: dict[str, Any] | None = None,
    *,
    real_provider: bool = False,
    drill_simulator: bool = True,
    config_dir: Path | None = None,
    channel_options: dict[str, dict[str, Any]] | None = None,
    media: dict[str, list[str]] | None = None,
    **delivery: Any,
) -> Iterator[Stack]:
    """API + simulator servers in threads; workers are started by the test.

    With `real_provider`, a second simulator plays the real provider and the first one is
    only the drill simulator; `drill_simulator=False` leaves drills without a simulator.
    `{sim_url}` and `{api_url}` in a string of `channel_options` become the stack's URLs.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    api_port, sim_port = reserve_port(), reserve_port()
    real_port = reserve_port() if real_provider else 0
    api_url, sim_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{sim_port}/sim"
    real_url = f"http://127.0.0.1:{real_port}/sim" if real_provider else None
    settings = stack_settings(
        db,
        redis_settings,
        api_url,
        sim_url,
        data_dir,
        provider_url=real_url,
        simulator_url=sim_url if drill_simulator else None,
        config_dir=config_dir,
        channel_options=_with_urls(channel_options or {}, sim_url=sim_url, api_url=api_url),
        media=media,
        **delivery,
    )
    inbound = {settings.twilio.from_number: {"sms_url": f"{api_url}/hooks/twilio/sms/inbound"}}
    config = SimConfig.model_validate(
        {"accounts": {ACCOUNT: TOKEN}, "seed": 7, "numbers": inbound, **(sim_config or {})}
    )
    sim_app = create_standalone_app(config)
    real_app = create_standalone_app(SimConfig(accounts={ACCOUNT: TOKEN}))
    api_app = create_app(settings, Database(db.url))
    with ExitStack() as servers:
        servers.enter_context(ServerThread(sim_app, sim_port))
        if real_provider:
            servers.enter_context(ServerThread(real_app, real_port))
        servers.enter_context(ServerThread(api_app, api_port))
        stack = Stack(
            api_url,
            sim_url,
            settings,
            environment(settings),
            db,
            sim_app.state.sim,
            real=real_app.state.sim if real_provider else None,
        )
        try:
            yield stack
        finally:
            stack.stop_workers()
