"""Where each process's circuit breakers say how they stand (Redis), for the console."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from broadcaster.delivery.breaker import BreakerState

log = logging.getLogger(__name__)
KEEP_SECONDS = 86_400  # the board is forgotten a day after its last change


def board_key(prefix: str) -> str:
    return f"{prefix}:breakers"


def publisher(
    client: redis.Redis | None, prefix: str, provider: str, *, drill: bool
) -> Callable[[BreakerState, int], None] | None:
    """A breaker's listener that writes each change of state to the board; none without
    Redis. A failed write is logged, never raised: the board is a view, not the record."""
    if client is None:
        return None
    field = f"{provider}|{'drill' if drill else 'live'}|{socket.gethostname()}:{os.getpid()}"

    def publish(state: BreakerState, opened: int) -> None:
        entry = json.dumps({"state": state.value, "opened": opened, "at": time.time()})
        try:
            with client.pipeline() as pipe:
                pipe.hset(board_key(prefix), field, entry)
                pipe.expire(board_key(prefix), KEEP_SECONDS)
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("breaker board not updated: %s", exc)

    return publish


@dataclass(frozen=True)
class BreakerView:
    """A provider's breakers as the processes last told: the worst state, since when, how
    many processes report it, and how many times they opened."""

    provider: str
    state: BreakerState
    since: float
    processes: int
    opened: int


def read_board(
    client: redis.Redis | None, prefix: str, open_seconds: float
) -> dict[str, BreakerView]:
    """Each live provider's breakers. An `open` whose time is served is shown half-open (the
    next request probes it)."""
    if client is None:
        return {}
    try:
        raw = client.hgetall(board_key(prefix))
    except redis.RedisError:
        return {}
    rank = {BreakerState.open: 0, BreakerState.half_open: 1, BreakerState.closed: 2}
    found: dict[str, BreakerView] = {}
    now = time.time()
    for key, value in raw.items():
        provider, mode, _process = _text(key).split("|", 2)
        if mode != "live":
            continue
        entry = json.loads(_text(value))
        state = BreakerState(entry["state"])
        if state is BreakerState.open and now - float(entry["at"]) >= open_seconds:
            state = BreakerState.half_open
        seen = found.get(provider)
        view = BreakerView(provider, state, float(entry["at"]), 1, int(entry["opened"]))
        if seen is None:
            found[provider] = view
            continue
        worst = view if rank[state] < rank[seen.state] else seen
        found[provider] = BreakerView(
            provider,
            worst.state,
            worst.since,
            seen.processes + 1,
            seen.opened + view.opened,
        )
    return found


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
