"""The naive baseline: one RQ job per message, RQ's default forking Worker, one httpx.post each.

`python -m broadcaster.bench.naive REDIS_URL QUEUE` runs one such worker until SIGTERM.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import redis
from rq import Queue, Worker

from broadcaster.bench.procs import Processes, wait_until
from broadcaster.bench.raw import numbers

JOB = "broadcaster.bench.naive.post_message"
ENQUEUE_CHUNK = 1000


def post_message(url: str, account: str, token: str, to: str, sender: str, body: str) -> str:
    """The whole job: one create through a new HTTP client, as a first implementation would."""
    response = httpx.post(
        url,
        content=urlencode({"To": to, "From": sender, "Body": body}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=(account, token),
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["sid"])


@dataclass(frozen=True)
class NaiveResult:
    jobs: int
    done: int
    workers: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0


def run_naive(
    procs: Processes,
    *,
    redis_url: str,
    queue_name: str,
    sim_url: str,
    account: str,
    token: str,
    sender: str,
    body: str,
    count: int,
    workers: int,
    sim_messages: Callable[[], int],
    timeout: float = 900,
) -> NaiveResult:
    """Start the forking workers, enqueue `count` jobs, time until the simulator has them all."""
    connection = redis.Redis.from_url(redis_url)
    queue = Queue(queue_name, connection=connection)
    started = [
        procs.start(f"naive-{n}", ["-m", "broadcaster.bench.naive", redis_url, queue_name])
        for n in range(workers)
    ]
    try:
        if not wait_until(
            lambda: Worker.count(connection=connection, queue=queue) >= workers, timeout=60
        ):
            raise RuntimeError("naive workers did not start:\n" + started[0].tail())
        url = f"{sim_url}/sim/2010-04-01/Accounts/{account}/Messages.json"
        jobs = [
            Queue.prepare_data(
                JOB,
                args=(url, account, token, to, sender, f"{body} {n}"),
                result_ttl=60,
                failure_ttl=3600,
            )
            for n, to in enumerate(numbers(count, start=5_000_000))
        ]
        before = sim_messages()
        begin = time.perf_counter()
        for at in range(0, len(jobs), ENQUEUE_CHUNK):
            with connection.pipeline() as pipe:
                queue.enqueue_many(jobs[at : at + ENQUEUE_CHUNK], pipeline=pipe)
                pipe.execute()
        wait_until(lambda: sim_messages() - before >= count, timeout=timeout, every=0.1)
        seconds = time.perf_counter() - begin
        done = sim_messages() - before
    finally:
        for proc in started:
            proc.stop()
        queue.delete(delete_jobs=True)
        connection.close()
    return NaiveResult(count, done, workers, round(seconds, 3))


def main() -> None:
    """One default (forking) RQ worker on one queue, logging only warnings."""
    logging.basicConfig(level=logging.WARNING)
    connection = redis.Redis.from_url(sys.argv[1])
    worker = Worker([Queue(sys.argv[2], connection=connection)], connection=connection)
    worker.work(logging_level="WARNING", with_scheduler=False)


if __name__ == "__main__":
    from broadcaster.bench import naive as _preloaded  # noqa: F401  the job's module, pre-fork

    main()
