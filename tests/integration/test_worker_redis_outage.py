"""A worker outlives its Redis: SIGKILLed and restarted empty, the worker works and ticks again;
work that waited for Redis goes out as soon as Redis is back, not at the next periodic tick."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import rq.worker.base as rq_worker_base

from broadcaster.db.database import Database
from broadcaster.queues import DEFAULT, all_queues, connect, get_queue
from broadcaster.redis_embedded import EmbeddedRedis
from broadcaster.settings import Settings
from broadcaster.ticks import tick_key
from broadcaster.worker import RECONNECT_MAX_SECONDS, WORKER_CLASSES
from tests.integration.process_support import alive, children
from tests.integration.test_delivery_faults import counts, issue, settled, village
from tests.integration.test_worker import JOBS, ROOT, WORKER_SCRIPT
from tests.stack import Stack, running_stack

pytestmark = pytest.mark.integration
PREFIX = "bt-outage"


def _wait_for(
    condition: Callable[[], bool],
    what: str,
    timeout: float = 60.0,
    explain: Callable[[], str] = lambda: "",
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except Exception:  # Redis still coming back
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}\n{explain()}")
        time.sleep(0.1)


class PrivateRedis:
    """A redis-server of this test only, which the test may SIGKILL and restart empty."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.server = EmbeddedRedis(directory)
        self.server.start()

    @property
    def url(self) -> str:
        return self.server.url

    def kill(self) -> None:
        self.server.kill()

    def restart_empty(self) -> None:
        self.server.forget_data()
        self.server.start()

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    directory = Path(tempfile.mkdtemp(prefix="bt-out-", dir="/tmp"))
    redis = PrivateRedis(directory)
    try:
        yield redis
    finally:
        redis.stop()
        shutil.rmtree(directory, ignore_errors=True)


def test_a_worker_survives_redis_killed_and_restarted_empty(
    private_redis: PrivateRedis, tmp_path: Path
) -> None:
    settings = Settings(env="test", redis_url=private_redis.url, queue_prefix=PREFIX)
    log = tmp_path / "worker.log"
    with log.open("wb") as handle:
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER_SCRIPT, private_redis.url, PREFIX, str(tmp_path), "0.2"],
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        connection = connect(private_redis.url)
        get_queue(DEFAULT, connection, settings).enqueue(f"{JOBS}.record_queue")
        _wait_for(lambda: connection.llen(f"{PREFIX}:ran") == 1, "the first job")
        _wait_for(lambda: connection.llen(f"{PREFIX}:ticks") >= 1, "a tick")

        get_queue(DEFAULT, connection, settings).enqueue(f"{JOBS}.slow", 1.0)
        _wait_for(lambda: connection.llen(f"{PREFIX}:slow") == 1, "the slow job to start")
        private_redis.kill()  # mid-job: RQ cannot record the job's end
        time.sleep(3)  # RQ's loop, the ticker and the scheduler all meet the dead server
        assert worker.poll() is None, log.read_text()
        private_redis.restart_empty()

        connection = connect(private_redis.url)
        assert connection.llen(f"{PREFIX}:ran") == 0  # nothing survived
        get_queue(DEFAULT, connection, settings).enqueue(f"{JOBS}.record_queue")
        _wait_for(lambda: connection.llen(f"{PREFIX}:ran") == 1, "a job after the restart")
        _wait_for(lambda: connection.llen(f"{PREFIX}:ticks") >= 1, "a tick after the restart")
        assert worker.poll() is None, log.read_text()

        private_redis.kill()  # a stop asked for while Redis is away still stops the worker
        time.sleep(1)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def test_a_worker_waiting_for_a_job_retries_a_lost_redis_once_a_second(
    private_redis: PrivateRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RQ's own loop waits 1, 2, 4 … up to 60 s between tries of a lost Redis: after a long
    outage a worker slept up to a minute with Redis back and its work waiting."""
    settings = Settings(env="test", redis_url=private_redis.url, queue_prefix=PREFIX)
    connection = connect(private_redis.url)
    worker = WORKER_CLASSES["simple"](all_queues(connection, settings), connection=connection)
    private_redis.kill()
    waits: list[float] = []

    class Enough(Exception):
        pass

    def sleep(seconds: float) -> None:  # RQ's wait between tries, recorded instead of slept
        waits.append(seconds)
        if len(waits) == 8:
            raise Enough

    monkeypatch.setattr(rq_worker_base, "time", SimpleNamespace(**{**vars(time), "sleep": sleep}))
    monkeypatch.setattr(worker, "set_state", lambda *_args, **_kwargs: None)  # before the loop
    with pytest.raises(Enough):
        worker.dequeue_job_and_maintain_ttl(timeout=1)
    assert waits == [RECONNECT_MAX_SECONDS] * 8


def test_a_sigkilled_worker_leaves_no_scheduler_behind(
    private_redis: PrivateRedis, tmp_path: Path
) -> None:
    """RQ runs its scheduler in a forked process; it used to outlive a SIGKILLed worker,
    orphaned, for good."""
    with (tmp_path / "worker.log").open("wb") as handle:
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER_SCRIPT, private_redis.url, PREFIX, str(tmp_path), "0"],
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(lambda: bool(children(worker.pid)), "RQ's scheduler process")
        forked = set(children(worker.pid))
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        _wait_for(lambda: not any(alive(pid) for pid in forked), "its children to end")
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def _picture(stack: Stack, alert_id: int) -> str:
    """What a timed-out wait saw: the alert's counts and the end of each worker's log."""
    logs = sorted(Path(stack.env["BROADCASTER_DATA_DIR"]).glob("worker-*.log"))
    tails = [f"--- {p.name}\n" + "\n".join(p.read_text().splitlines()[-40:]) for p in logs]
    return f"counts: {counts(stack, alert_id)}\n" + "\n".join(tails)


@pytest.mark.parametrize("data", ["kept", "lost"])
def test_an_alert_issued_while_redis_is_down_goes_out_once_redis_is_back(
    db: Database, private_redis: PrivateRedis, tmp_path: Path, data: str
) -> None:
    """The API commits the alert but cannot enqueue its jobs; the reconciler's periodic tick
    is an hour away. Redis back (with its data, so the tick's interval key is still there;
    or empty), the worker's ticker kicks the reconciler at once and every household gets its
    message; the worker never exits."""
    households = 30
    village(db, households)
    settings = Settings(env="test", redis_url=private_redis.url, queue_prefix=PREFIX + "-kick")
    hour = {"reconcile_every_seconds": 3600}
    with running_stack(db, settings, tmp_path / "stack", **hour) as stack:
        worker = stack.start_worker()
        connection = connect(private_redis.url)
        reconcile = tick_key(stack.settings, "reconcile")
        _wait_for(lambda: bool(connection.exists(reconcile)), "the first reconcile tick")
        time.sleep(2)  # the append-only file is written each second: the tick's key survives
        private_redis.kill()
        alert_id = issue(stack)  # committed; its jobs could not be enqueued
        time.sleep(2)
        assert stack.sim_messages() == []  # nothing can go without Redis
        assert worker.poll() is None
        if data == "lost":
            private_redis.restart_empty()
        else:
            private_redis.server.start()
            assert connect(private_redis.url).pttl(reconcile) > 60_000  # no tick for a while
        _wait_for(
            lambda: settled(stack, alert_id, households),
            "every household sent to",
            explain=lambda: _picture(stack, alert_id),
        )
        assert len({m.to for m in stack.sim_messages()}) == households
        assert worker.poll() is None
        stack.stop_workers()
