"""`broadcaster demo` supervises its children: a killed worker comes back, SIGTERM leaves none."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.integration.process_support import alive as _alive
from tests.integration.process_support import children as _children
from tests.integration.process_support import descendants as _descendants
from tests.integration.process_support import kill_left
from tests.stack import free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
DEMO = [sys.executable, "-m", "broadcaster.cli", "demo", "--households", "10", "--workers", "1"]


def _wait(condition: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.2)


def test_demo_restarts_a_dead_worker_and_stops_everything_on_sigterm() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="bt-demo-", dir="/tmp"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")}
    env.update(BROADCASTER_DATA_DIR=str(data_dir), BROADCASTER_ENV="development")
    log = data_dir / "demo.log"
    with log.open("wb") as handle:
        demo = subprocess.Popen(
            [*DEMO, "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    seen: dict[int, str] = {}
    try:
        health = f"http://127.0.0.1:{port}/healthz"
        _wait(lambda: httpx.get(health, timeout=2).is_success, "the demo's API", 180)
        _wait(lambda: any("worker" in c for c in _children(demo.pid).values()), "a worker", 60)
        seen = _descendants(demo.pid)
        assert any("redis-server" in c for c in seen.values()), seen
        (worker,) = [pid for pid, c in _children(demo.pid).items() if c.endswith(" worker ")]
        os.kill(worker, signal.SIGKILL)

        def replaced() -> bool:
            now = _children(demo.pid)
            return any(c.endswith(" worker ") and pid != worker for pid, c in now.items())

        _wait(replaced, "the worker to be started again", 60)
        seen.update(_descendants(demo.pid))

        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=60) == 0, log.read_text()[-3000:]
        _wait(lambda: not any(_alive(pid) for pid in seen), "every child to be gone", 10)
    finally:
        kill_left(demo, seen)
        shutil.rmtree(data_dir, ignore_errors=True)
