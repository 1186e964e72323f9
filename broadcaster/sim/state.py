"""The simulator's live state: config, random source, store, auth and rate limits."""

from __future__ import annotations

import base64
import binascii
import hmac
import random
import time
from collections.abc import Awaitable, Callable

from broadcaster.sim.callbacks import Dispatcher
from broadcaster.sim.config import SimConfig
from broadcaster.sim.store import Store


class TokenBucket:
    """Allows `rate` requests per second with a burst of one second's worth."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class SimState:
    """Everything one simulator instance knows; lives on one event loop."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.store = self._new_store(config)
        self.generation = 0
        self.dispatcher = Dispatcher(self)
        self._auth_cache: dict[str, str] = {}
        self._buckets: dict[str, TokenBucket] = {}
        # what else runs in the background (e.g. push senders) and how to stop it
        self.closers: list[Callable[[], Awaitable[None]]] = []

    @staticmethod
    def _new_store(config: SimConfig) -> Store:
        return Store(
            max_recorded=config.max_recorded,
            max_requests=config.max_recorded_requests,
            max_callbacks=config.max_recorded_callbacks,
        )

    def reconfigure(self, config: SimConfig) -> None:
        """Swap in new knobs; recorded messages and counters stay."""
        old = self.config
        self.config = config
        self._auth_cache.clear()
        if config.rate_limit_per_second != old.rate_limit_per_second:
            self._buckets.clear()
        self.store.max_recorded = config.max_recorded
        if config.seed != old.seed:
            self.rng.seed(config.seed)

    def reset(self) -> None:
        """Forget every message, count and log; pending status changes are dropped."""
        self.generation += 1
        self.store = self._new_store(self.config)
        self.rng.seed(self.config.seed)
        self._buckets.clear()

    def authenticate(self, header: str | None, account_sid: str) -> bool:
        """HTTP Basic with an account SID and its auth token, for that account's URL."""
        if not header:
            return False
        known = self._auth_cache.get(header)
        if known is not None:
            return known == account_sid
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        token = self.config.accounts.get(user)
        if token is None or not hmac.compare_digest(token.encode(), password.encode()):
            return False
        if len(self._auth_cache) < 1024:
            self._auth_cache[header] = user
        return user == account_sid

    def allow(self, account_sid: str) -> bool:
        """Whether the account is inside its request rate (always, without a limit)."""
        rate = self.config.rate_limit_per_second
        if rate is None:
            return True
        bucket = self._buckets.get(account_sid)
        if bucket is None:
            bucket = self._buckets[account_sid] = TokenBucket(rate)
        return bucket.allow()

    def draw_fault(self) -> str | None:
        """'500', '429', 'timeout' or None, by the configured rates."""
        config = self.config
        total = config.error_500_rate + config.error_429_rate + config.timeout_rate
        if not total:
            return None
        draw = self.rng.random()
        if draw < config.error_500_rate:
            return "500"
        if draw < config.error_500_rate + config.error_429_rate:
            return "429"
        if draw < total:
            return "timeout"
        return None

    def new_sid(self, prefix: str = "SM") -> str:
        """A resource SID: two letters and 32 hex digits."""
        return f"{prefix}{self.rng.getrandbits(128):032x}"

    async def aclose(self) -> None:
        """Stop background senders and close their HTTP session."""
        for close in self.closers:
            await close()
        await self.dispatcher.close()
