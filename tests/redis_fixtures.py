"""Redis fixtures: the machine's Redis when it answers, else one embedded redis-server."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from broadcaster.redis_embedded import EmbeddedRedis
from broadcaster.settings import Settings

REDIS_URL = os.environ.get("BROADCASTER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
_used: dict[str, str] = {}


def redis_answers(url: str) -> bool:
    """True when a Redis server answers PING at `url` within a second."""
    client = redis.Redis.from_url(
        url, socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0)
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis URL for the session: REDIS_URL if it answers, else an embedded server."""
    if redis_answers(REDIS_URL):
        _used["url"] = REDIS_URL
        yield REDIS_URL
        return
    # mkdtemp under /tmp keeps the unix socket path short (sun_path is ~100 bytes).
    directory = Path(tempfile.mkdtemp(prefix="bt-redis-", dir="/tmp"))
    try:
        with EmbeddedRedis(directory) as server:
            _used["url"] = f"embedded {server.binary} at {server.url}"
            yield server.url
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def queue_prefix(redis_url: str) -> Iterator[str]:
    """A queue prefix unique to this test session; its keys are deleted at the end."""
    prefix = f"bt-{os.getpid()}-{secrets.token_hex(3)}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(match=f"*{prefix}*", count=1000):
            client.delete(key)
    finally:
        client.close()


@pytest.fixture
def redis_settings(redis_url: str, queue_prefix: str, tmp_path: Path) -> Settings:
    """Settings pointing at the session's Redis with a per-test queue prefix."""
    prefix = f"{queue_prefix}-{secrets.token_hex(2)}"
    return Settings(env="test", redis_url=redis_url, queue_prefix=prefix, data_dir=tmp_path)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if "url" in _used:
        terminalreporter.write_line("Redis tests ran against " + _used["url"])
