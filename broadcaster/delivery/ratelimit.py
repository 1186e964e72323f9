"""A token bucket per provider credential, kept in Redis and shared by every worker."""

from __future__ import annotations

import redis

# KEYS[1] bucket; ARGV: rate per second, burst, tokens wanted.
# Returns {granted, milliseconds until one more token}. Uses the Redis clock, so workers on
# several machines share one notion of time.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil then tokens = burst; at = now end
tokens = math.min(burst, tokens + (now - at) * rate / 1000)
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
local wait = 0
if granted < want then wait = math.ceil((1 - (tokens - math.floor(tokens))) * 1000 / rate) end
return {granted, wait}
"""


class TokenBucket:
    """`take(n)` grants up to n sends now and says how long to wait for the next one."""

    def __init__(self, client: redis.Redis, key: str, rate: float, burst: float | None = None):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.key = key
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._script = client.register_script(_TAKE)

    def take(self, wanted: int) -> tuple[int, float]:
        """(granted, seconds to wait before asking again)."""
        granted, wait_ms = self._script(keys=[self.key], args=[self.rate, self.burst, wanted])
        return int(granted), int(wait_ms) / 1000.0


# KEYS[1] minute counter, KEYS[2] hour counter; ARGV: per minute, per hour.
# Returns 0 when admitted (both counted), else seconds until the blocking window ends.
_WINDOWS = """
local t = redis.call('TIME')
local now = tonumber(t[1])
local m = redis.call('INCR', KEYS[1])
if m == 1 then redis.call('EXPIRE', KEYS[1], 60) end
if m > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return math.max(1, redis.call('TTL', KEYS[1]))
end
local h = redis.call('INCR', KEYS[2])
if h == 1 then redis.call('EXPIRE', KEYS[2], 3600) end
if h > tonumber(ARGV[2]) then
  redis.call('DECR', KEYS[2])
  redis.call('DECR', KEYS[1])
  return math.max(1, redis.call('TTL', KEYS[2]))
end
return 0
"""


class AddressLimit:
    """Per-address call limits (Chinese carriers allow about 1 call a minute, 5 an hour)."""

    def __init__(self, client: redis.Redis, prefix: str, per_minute: int, per_hour: int):
        self.prefix = prefix
        self.per_minute = per_minute
        self.per_hour = per_hour
        self._script = client.register_script(_WINDOWS)

    def admit(self, address_key: str) -> float:
        """0 when a call to this address may go now, else seconds to wait."""
        keys = [f"{self.prefix}:{address_key}:m", f"{self.prefix}:{address_key}:h"]
        return float(self._script(keys=keys, args=[self.per_minute, self.per_hour]))


# KEYS[1] sorted set of send times; ARGV: limit, window ms, member id.
# Admits when fewer than `limit` sends fall in the last window; else returns the wait (ms)
# until the oldest leaves the window. A strict rolling window, unlike a bucket with burst.
_ROLLING = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""


class RollingWindow:
    """At most `limit` sends in any `window` seconds (WeCom: 20 a minute per robot)."""

    def __init__(self, client: redis.Redis, key: str, limit: int, window: float = 60.0):
        self.key = key
        self.limit = limit
        self.window_ms = int(window * 1000)
        self._script = client.register_script(_ROLLING)

    def admit(self, member: str) -> float:
        """0 when one more send fits now, else seconds until it will."""
        wait_ms = self._script(keys=[self.key], args=[self.limit, self.window_ms, member])
        return int(wait_ms) / 1000.0
