"""A benchmark stopped by SIGTERM leaves nothing running: its API, workers, simulator and
private redis-server stop with it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.process_support import alive, descendants, kill_left

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def test_a_benchmark_stopped_by_sigterm_leaves_no_process(tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "broadcaster.bench", "fanout", "--households", "20000",
        "--no-baselines", "--database-url", f"sqlite:///{tmp_path / 'fanout.db'}",
    ]  # fmt: skip
    log = tmp_path / "bench.log"
    with log.open("w") as out:
        bench = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    seen: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 120
        while not any("worker" in c for c in seen.values()) or not any(
            "redis-server" in c for c in seen.values()
        ):
            assert bench.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"no worker started: {log.read_text()[-3000:]}"
            seen.update(descendants(bench.pid))
            time.sleep(0.2)
        bench.send_signal(signal.SIGTERM)
        bench.wait(timeout=60)
        deadline = time.monotonic() + 15
        while any(alive(pid) for pid in seen) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not {pid: c for pid, c in seen.items() if alive(pid)}, log.read_text()[-3000:]
    finally:
        kill_left(bench, seen)
