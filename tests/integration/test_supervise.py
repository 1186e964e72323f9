"""The supervisor starts a dead child and a dead private Redis again, and stops them all."""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from broadcaster.redis_embedded import EmbeddedRedis
from broadcaster.supervise import Supervisor

pytestmark = pytest.mark.integration
SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


def _wait(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def _answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def test_dead_children_and_redis_come_back_and_stop_stops_all() -> None:
    directory = Path(tempfile.mkdtemp(prefix="bt-sup-", dir="/tmp"))
    server = EmbeddedRedis(directory)
    server.start()
    supervisor = Supervisor(redis=server, poll_seconds=0.1)
    child = supervisor.add("sleeper", SLEEPER)
    thread = threading.Thread(target=supervisor.run)
    thread.start()
    try:
        _wait(child.alive, "the child")
        first = child.popen
        assert first is not None
        first.kill()
        _wait(lambda: child.popen is not first and child.alive(), "the child to come back")
        assert child.restarts == 1

        process = server._process
        assert process is not None
        process.kill()
        _wait(lambda: server._process is not process and _answers(server.url), "Redis back")

        supervisor.stop()
        thread.join(timeout=30)
        assert not thread.is_alive()
        assert not child.alive()
        assert not _answers(server.url)
    finally:
        supervisor.stop()
        thread.join(timeout=30)
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
