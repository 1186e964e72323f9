"""The processes of a measured stack: simulator, API and workers, each in its own process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ACCOUNT = "AC" + "b" * 32
AUTH_TOKEN = "bench-auth-token-0123456789"  # noqa: S105  the simulator's, not a secret
ADMIN_KEY = "bk_bench_admin_key_0123456789abcdef"
SECRET = "bench-secret-key-0123456789abcdef"  # noqa: S105  a scratch deployment's
FROM_NUMBER = "+15005550006"
ALIYUN_KEY = ("LTAI5tBenchKeyId0001", "bench-aliyun-key-secret-0123456789")  # the simulator's


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], *, timeout: float, every: float = 0.05) -> bool:
    """Poll until `check()` holds; False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return True
        except (httpx.HTTPError, OSError):
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(every)


@dataclass
class Proc:
    """A child process with its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 20) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Processes:
    """Starts children with logs under `log_dir` and stops them all (in reverse) on exit."""

    log_dir: Path
    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Proc:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        with log.open("wb") as handle:  # the child keeps its own descriptor
            popen = subprocess.Popen(  # noqa: S603
                [sys.executable, *args],
                env=env if env is not None else os.environ.copy(),
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            if proc.alive():
                proc.popen.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop_all()


def start_simulator(
    procs: Processes,
    *,
    callbacks: bool,
    callback_delay_ms: float,
    callback_concurrency: int,
    aliyun: bool = False,
) -> str:
    """The provider simulator (zero latency, no rate limit) on loopback, with the Aliyun SMS
    account of ALIYUN_KEY when `aliyun`; returns its base URL."""
    port = free_port()
    options = {
        "--port": port,
        "--account": ACCOUNT,
        "--token": AUTH_TOKEN,
        "--callback-delay-ms": callback_delay_ms,
        "--callback-concurrency": callback_concurrency,
    }
    args = ["-m", "broadcaster.bench.simserver"]
    for name, value in options.items():
        args += [name, str(value)]
    if not callbacks:
        args.append("--no-callbacks")
    if aliyun:
        args += ["--aliyun-key", *ALIYUN_KEY]
    proc = procs.start("simulator", args)
    url = f"http://127.0.0.1:{port}"
    if not wait_until(lambda: httpx.get(f"{url}/bench/marks").is_success, timeout=30):
        raise RuntimeError(f"the simulator did not start:\n{proc.tail()}")
    return url


def stack_env(
    *,
    database_url: str,
    redis_url: str,
    prefix: str,
    api_url: str,
    sim_url: str,
    data_dir: Path,
    delivery: dict[str, str],
    rate_per_second: float,
) -> dict[str, str]:
    """BROADCASTER_* settings for the API and the workers (nothing else is inherited)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")}
    env.update(
        {
            "BROADCASTER_ENV": "development",
            "BROADCASTER_DATABASE_URL": database_url,
            "BROADCASTER_REDIS_URL": redis_url,
            "BROADCASTER_QUEUE_PREFIX": prefix,
            "BROADCASTER_PUBLIC_BASE_URL": api_url,
            "BROADCASTER_SIMULATOR_URL": f"{sim_url}/sim",
            "BROADCASTER_SECRET_KEY": SECRET,
            "BROADCASTER_BOOTSTRAP_API_KEY": ADMIN_KEY,
            "BROADCASTER_DATA_DIR": str(data_dir),
            "BROADCASTER_TWILIO__ACCOUNT_SID": ACCOUNT,
            "BROADCASTER_TWILIO__AUTH_TOKEN": AUTH_TOKEN,
            "BROADCASTER_TWILIO__FROM_NUMBER": FROM_NUMBER,
            "BROADCASTER_TWILIO__API_BASE_URL": f"{sim_url}/sim",
            "BROADCASTER_TWILIO__RATE_PER_SECOND": str(rate_per_second),
        }
    )
    for key, value in delivery.items():
        env[f"BROADCASTER_DELIVERY__{key.upper()}"] = value
    return env


def start_api(
    procs: Processes, env: dict[str, str], port: int, name: str = "api", processes: int = 1
) -> Proc:
    """uvicorn with the app factory, as `broadcaster serve` runs it, minus the access log
    (`processes` > 1: uvicorn's supervisor with that many worker processes on one port)."""
    args = [
        "-m",
        "uvicorn",
        "broadcaster.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    if processes > 1:
        args += ["--workers", str(processes)]
    proc = procs.start(name, args, env)
    url = f"http://127.0.0.1:{port}"
    if not wait_until(lambda: httpx.get(f"{url}/healthz").is_success, timeout=60):
        raise RuntimeError(f"the API did not start:\n{proc.tail()}")
    return proc


def start_workers(procs: Processes, env: dict[str, str], count: int) -> list[Proc]:
    """`broadcaster worker` processes (SimpleWorker, with the periodic ticks)."""
    return [
        procs.start(f"worker-{n}", ["-m", "broadcaster.cli", "worker"], env) for n in range(count)
    ]
