"""The RQ worker: priority order, scheduler, warm shutdown, cluster-wide periodic ticks."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rq import Worker

from broadcaster.delivery.lookups import RECONCILE
from broadcaster.jobs import periodic_ticks
from broadcaster.queues import (
    DEFAULT,
    QUEUE_ORDER,
    SEND,
    TICKS,
    URGENT,
    all_queues,
    connect,
    get_queue,
)
from broadcaster.redis_embedded import EmbeddedRedis
from broadcaster.settings import Settings
from broadcaster.worker import WORKER_CLASSES, Periodic, fire_due_ticks, run_worker, tick_key

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
JOBS = "tests.integration.jobs_for_tests"
WORKER_SCRIPT = """
import sys
from broadcaster.settings import Settings
from broadcaster.worker import register_periodic, run_worker
url, prefix, data_dir, tick_every = sys.argv[1:5]
if float(tick_every) > 0:
    register_periodic("tick", "tests.integration.jobs_for_tests.record_tick", float(tick_every))
run_worker(Settings(env="test", redis_url=url, queue_prefix=prefix, data_dir=data_dir))
"""


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def spawn_worker(
    redis_settings: Settings, tmp_path: Path
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start `run_worker` in a child process (so it has its own main thread and signals)."""
    started: list[subprocess.Popen[bytes]] = []

    def spawn(tick_every: float = 0.0) -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"worker-{len(started)}.log", "wb")  # noqa: SIM115
        args = [redis_settings.redis_url or "", redis_settings.queue_prefix, str(tmp_path)]
        process = subprocess.Popen(
            [sys.executable, "-c", WORKER_SCRIPT, *args, str(tick_every)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        return process

    yield spawn
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def _stop(process: subprocess.Popen[bytes], log: Path) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("worker did not stop within 30 s of SIGTERM:\n" + log.read_text())
    assert code == 0, log.read_text()


def test_burst_worker_runs_jobs_in_priority_order(redis_settings: Settings) -> None:
    connection = connect(redis_settings.redis_url or "")
    for name in (DEFAULT, SEND, URGENT, TICKS):
        get_queue(name, connection, redis_settings).enqueue(f"{JOBS}.record_queue")
    past = datetime.now(UTC) - timedelta(seconds=1)
    get_queue(DEFAULT, connection, redis_settings).enqueue_at(past, f"{JOBS}.record_queue")
    handler_before = signal.getsignal(signal.SIGTERM)

    run_worker(redis_settings, burst=True)

    prefix = redis_settings.queue_prefix
    ran = connection.lrange(f"{prefix}:ran", 0, -1)
    # The scheduler moved the due scheduled job onto "default" before the work loop began.
    assert ran == [
        f"{prefix}:{TICKS}".encode(),
        f"{prefix}:{URGENT}".encode(),
        f"{prefix}:{SEND}".encode(),
        f"{prefix}:{DEFAULT}".encode(),
        f"{prefix}:{DEFAULT}".encode(),
    ]
    assert signal.getsignal(signal.SIGTERM) == handler_before  # RQ's handlers are undone
    connection.close()


def test_fork_worker_class_runs_jobs(redis_settings: Settings) -> None:
    connection = connect(redis_settings.redis_url or "")
    get_queue(SEND, connection, redis_settings).enqueue(f"{JOBS}.record_queue")
    run_worker(redis_settings, burst=True, worker_class="fork", with_scheduler=False)
    assert connection.llen(f"{redis_settings.queue_prefix}:ran") == 1
    connection.close()


def test_worker_reuses_an_embedded_server_it_does_not_own() -> None:
    directory = Path(tempfile.mkdtemp(prefix="bt-w-", dir="/tmp"))
    try:
        with EmbeddedRedis(directory) as server:
            settings = Settings(env="test", data_dir=directory, queue_prefix="bt-embedded")
            connection = connect(server.url)
            get_queue(URGENT, connection, settings).enqueue(f"{JOBS}.record_queue")
            run_worker(settings, burst=True)
            assert connection.lrange("bt-embedded:ran", 0, -1) == [b"bt-embedded:urgent"]
            assert connection.ping()  # the worker did not stop a server it does not own
            connection.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_sigterm_is_a_warm_shutdown(
    redis_settings: Settings, spawn_worker: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    connection = connect(redis_settings.redis_url or "")
    queue = get_queue(DEFAULT, connection, redis_settings)
    queue.enqueue(f"{JOBS}.slow", 1.0)
    marks = f"{redis_settings.queue_prefix}:slow"
    process = spawn_worker()
    _wait_for(lambda: connection.llen(marks) >= 1, "the slow job to start")

    _stop(process, tmp_path / "worker-0.log")  # sent while the job is running

    assert connection.lrange(marks, 0, -1) == [b"started", b"done"]
    assert Worker.all(queue=queue) == []
    connection.close()


def test_a_stopping_worker_does_not_wait_a_minute_for_its_pubsub_thread(
    redis_settings: Settings,
) -> None:
    """RQ unsubscribes, then stops its pubsub thread, and redis-py's stop() joins it. Had the
    thread read the UNSUBSCRIBE reply in between, it waited its 60 s for a new subscription
    (why SIGTERMed workers sometimes took a minute to exit). That interleaving is forced here:
    the thread must end with the reply, not a minute later."""
    connection = connect(redis_settings.redis_url or "")
    worker = WORKER_CLASSES["simple"](all_queues(connection, redis_settings), connection=connection)
    worker.subscribe()
    pubsub, thread = worker.pubsub, worker.pubsub_thread
    sent = pubsub.unsubscribe

    def unsubscribe_and_let_the_thread_read_the_reply(*channels: str) -> object:
        answer = sent(*channels)
        _wait_for(lambda: not pubsub.subscribed, "the pubsub thread to read the reply")
        return answer

    pubsub.unsubscribe = unsubscribe_and_let_the_thread_read_the_reply
    stopping = threading.Thread(target=worker.unsubscribe, daemon=True)
    stopping.start()
    stopping.join(timeout=30)  # the bug took 60 s; the fix takes one round trip
    assert not stopping.is_alive(), "unsubscribe waited for the pubsub thread's 60 s"
    assert not thread.is_alive()
    connection.close()


def test_a_tick_fires_once_per_interval_and_never_piles_up(redis_settings: Settings) -> None:
    connection = connect(redis_settings.redis_url or "")
    tick = Periodic("pile", f"{JOBS}.record_tick", every_seconds=0.05)

    assert len(fire_due_ticks(connection, redis_settings, [tick], owner="a")) == 1
    assert fire_due_ticks(connection, redis_settings, [tick], owner="b") == []  # same interval
    time.sleep(0.1)
    # A new interval, but the first tick's job is still queued: skipped, not piled up.
    assert fire_due_ticks(connection, redis_settings, [tick], owner="b") == []
    assert get_queue(DEFAULT, connection, redis_settings).count == 1

    run_worker(redis_settings, burst=True, with_scheduler=False)
    connection.delete(tick_key(redis_settings, "pile"))  # skip waiting out the interval
    assert len(fire_due_ticks(connection, redis_settings, [tick], owner="b")) == 1
    connection.close()


def test_a_tick_whose_worker_died_mid_job_does_not_block_later_ticks(
    redis_settings: Settings,
) -> None:
    """A SIGKILLed worker leaves its tick job "started" forever; it must not stop the tick."""
    from rq.job import Job, JobStatus

    connection = connect(redis_settings.redis_url or "")
    tick = Periodic("dead", f"{JOBS}.record_tick", every_seconds=0.05)
    (first,) = fire_due_ticks(connection, redis_settings, [tick], owner="a")
    job = Job.fetch(first.id, connection=connection)
    job.set_status(JobStatus.STARTED)
    job.started_at = datetime.now(UTC) - timedelta(seconds=5)
    job.save()
    connection.delete(tick_key(redis_settings, "dead"))
    assert fire_due_ticks(connection, redis_settings, [tick], owner="b") == []  # 5 s: alive
    job.started_at = datetime.now(UTC) - timedelta(minutes=5)
    job.save()
    connection.delete(tick_key(redis_settings, "dead"))
    assert len(fire_due_ticks(connection, redis_settings, [tick], owner="b")) == 1
    connection.close()


def test_a_tick_left_started_by_a_sigkilled_worker_gets_a_twin_within_seconds(
    redis_settings: Settings, spawn_worker: Callable[..., subprocess.Popen[bytes]]
) -> None:
    """RQ keeps a SimpleWorker's registration four minutes past a SIGKILL mid-job; the
    worker's pulse lapses in seconds, and the tick it held runs again then, not minutes on."""
    from rq.job import Job, JobStatus

    connection = connect(redis_settings.redis_url or "")
    tick = Periodic("stuck", f"{JOBS}.stuck_tick", every_seconds=10)
    worker = spawn_worker()
    (first,) = fire_due_ticks(connection, redis_settings, [tick], owner="test")
    slow_key = f"{redis_settings.queue_prefix}:slow"
    _wait_for(lambda: connection.llen(slow_key) == 1, "the tick job to start")
    job = Job.fetch(first.id, connection=connection)
    assert job.get_status() == JobStatus.STARTED
    assert job.worker_name

    def fire() -> list[Job]:
        connection.delete(tick_key(redis_settings, "stuck"))  # a new interval each time
        return fire_due_ticks(connection, redis_settings, [tick], owner="test")

    assert fire() == []  # its worker lives: the tick is busy, not stuck
    worker.kill()
    worker.wait()
    assert connection.exists(f"rq:worker:{job.worker_name}")  # RQ still thinks it lives
    twins: list[Job] = []

    def a_twin_fired() -> bool:
        twins.extend(fire())
        return bool(twins)

    _wait_for(a_twin_fired, "a twin of the dead worker's tick")
    assert len(twins) == 1
    connection.close()


def test_a_slow_tick_gets_no_twin_until_its_job_timeout_has_passed(
    redis_settings: Settings,
) -> None:
    """A reconcile tick (every 10 s) still running after a minute is slow, not stuck: a twin
    beside it would hold a second worker. It is presumed stuck only once past its job timeout."""
    from rq.job import Job, JobStatus

    connection = connect(redis_settings.redis_url or "")
    tick = Periodic("slow", f"{JOBS}.record_tick", every_seconds=10)
    (first,) = fire_due_ticks(connection, redis_settings, [tick], owner="a")
    job = Job.fetch(first.id, connection=connection)
    job.set_status(JobStatus.STARTED)
    assert job.timeout  # RQ's default, 180 s: the worker stops the job then
    for seconds_ago, twins in ((60, 0), (float(job.timeout) + 60, 1)):
        job.started_at = datetime.now(UTC) - timedelta(seconds=seconds_ago)
        job.save()
        connection.delete(tick_key(redis_settings, "slow"))  # a new interval
        assert len(fire_due_ticks(connection, redis_settings, [tick], owner="b")) == twins
    connection.close()


def test_periodic_tick_runs_once_per_interval_across_two_workers(
    redis_settings: Settings, spawn_worker: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    every = 0.5
    connection = connect(redis_settings.redis_url or "")
    queue = get_queue(DEFAULT, connection, redis_settings)
    ticks_key = f"{redis_settings.queue_prefix}:ticks"

    def redis_clock() -> float:  # the clock the tick lock's expiry runs on
        seconds, microseconds = connection.time()
        return float(seconds) + microseconds / 1e6

    started = redis_clock()
    workers = [spawn_worker(every), spawn_worker(every)]
    _wait_for(lambda: len(Worker.all(queue=queue)) == 2, "both workers to register")
    seen = connection.llen(ticks_key)
    _wait_for(lambda: connection.llen(ticks_key) >= seen + 16, "sixteen ticks with both workers up")

    for index, process in enumerate(workers):
        _stop(process, tmp_path / f"worker-{index}.log")
    ended = redis_clock()

    # A tick fires only by taking the shared lock, which expires one interval after it was
    # taken: however late a busy machine enqueues each tick, there are at most as many as
    # intervals in the whole run, plus one. Two uncoordinated tickers fire twice as often.
    fired = connection.llen(ticks_key)
    assert fired <= (ended - started) / every + 1, (fired, ended - started)
    connection.close()


def test_the_ticks_that_keep_time_go_ahead_of_a_fan_outs_sends(redis_settings: Settings) -> None:
    """A red alert's sends fill the urgent queue; resends, escalations, feeds, the counts'
    fold and the planner's statistics must not wait for them (the drift check may), and
    must not sit among them either: the reconciler takes an empty send queue for lost sends."""
    connection = connect(redis_settings.redis_url or "")
    urgent = get_queue(URGENT, connection, redis_settings)
    sends = [urgent.enqueue(f"{JOBS}.record_queue") for _ in range(3)]
    fired = fire_due_ticks(connection, redis_settings, periodic_ticks(redis_settings), owner="t")
    assert urgent.job_ids == [job.id for job in sends]
    ticks = get_queue(TICKS, connection, redis_settings)
    names = {str(job.meta["tick"]) for job in fired if job.id in ticks.job_ids}
    assert names == {RECONCILE, "follow-up", "feeds", "tally-fold", "statistics"}
    assert {str(job.meta["tick"]) for job in fired} - names == {"tally-check"}
    assert QUEUE_ORDER.index(TICKS) < QUEUE_ORDER.index(URGENT) < QUEUE_ORDER.index(DEFAULT)
    connection.close()
