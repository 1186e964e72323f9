"""A small supervisor for one machine: restarts a child that exits, stops them all on a signal."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import FrameType

from broadcaster.redis_embedded import EmbeddedRedis

log = logging.getLogger(__name__)
STABLE_SECONDS = 30.0  # a child that ran this long starts again at once; earlier: back-off
MAX_BACKOFF_SECONDS = 30.0
STOP_GRACE_SECONDS = 20.0


@dataclass
class Child:
    """One supervised process: its command line, environment and restart record."""

    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    popen: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff: float = 0.0
    due_at: float = 0.0

    def start(self) -> None:
        self.popen = subprocess.Popen(self.argv, env=self.env)  # noqa: S603 - our own argv
        self.started_at = time.monotonic()
        log.info("started %s (pid %d)", self.name, self.popen.pid)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


@dataclass
class Supervisor:
    """Children (API, workers) and optionally the private redis-server: each is started
    again when it exits, with back-off when it keeps failing; SIGTERM or SIGINT stops them
    all (children first, Redis last) and `run()` returns."""

    redis: EmbeddedRedis | None = None
    poll_seconds: float = 0.5
    children: list[Child] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def add(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> Child:
        child = Child(name, list(argv), env)
        self.children.append(child)
        return child

    def run(self) -> None:
        """Start every child and keep them running until a stop signal (or `stop()`)."""
        saved = self._install_signals()
        try:
            for child in self.children:
                child.start()
            while not self.stopping.wait(self.poll_seconds):
                self._check_redis()
                for child in self.children:
                    self._check(child)
        finally:
            self._stop_all()
            self._restore_signals(saved)

    def stop(self) -> None:
        self.stopping.set()

    def _check_redis(self) -> None:
        redis = self.redis
        if redis is None or not redis.owned or redis.alive():
            return
        log.warning("the private redis-server exited; starting it again")
        redis.kill()  # forget the dead process (its AOF keeps what it had)
        try:
            redis.start()
        except Exception:
            log.exception("redis-server did not start; trying again")

    def _check(self, child: Child) -> None:
        if child.alive():
            return
        now = time.monotonic()
        if child.due_at == 0.0:  # just found dead: decide when it starts again
            assert child.popen is not None
            ran = now - child.started_at
            child.backoff = (
                0.0 if ran >= STABLE_SECONDS else min(MAX_BACKOFF_SECONDS, child.backoff * 2 or 1)
            )
            child.due_at = now + child.backoff
            log.warning(
                "%s (pid %d) exited with %s after %.0f s; starting it again in %.0f s",
                child.name,
                child.popen.pid,
                child.popen.returncode,
                ran,
                child.backoff,
            )
        if now >= child.due_at:
            child.due_at = 0.0
            child.restarts += 1
            child.start()

    def _stop_all(self) -> None:
        running = [c for c in self.children if c.alive()]
        for child in running:
            assert child.popen is not None
            child.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in running:
            assert child.popen is not None
            try:
                child.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", child.name)
                child.popen.kill()
                child.popen.wait()
        if self.redis is not None:
            self.redis.stop()

    def _install_signals(self) -> dict[int, object]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        saved: dict[int, object] = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            saved[sig] = signal.getsignal(sig)
            signal.signal(sig, self._on_signal)
        return saved

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if not self.stopping.is_set():
            log.warning(
                "%s: stopping every child (pid %d)", signal.Signals(signum).name, os.getpid()
            )
        self.stopping.set()

    @staticmethod
    def _restore_signals(saved: dict[int, object]) -> None:
        for sig, handler in saved.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
