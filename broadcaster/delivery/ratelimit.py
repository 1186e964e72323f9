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


# KEYS: for each send in order, its number's minute, hour and day counters; ARGV: the three
# limits (0: none declared, that counter is not kept), then the three windows in ms. Returns
# one wait (ms) per send: 0 when admitted (every declared window counted), else until the
# window that blocks it ends (nothing counted). Fixed windows that start with a number's
# first send, as carriers count them; one round trip per batch.
_WINDOWS = """
local out = {}
for i = 1, #KEYS, 3 do
  local wait = 0
  local counted = {}
  for w = 1, 3 do
    local limit = tonumber(ARGV[w])
    if limit > 0 then
      local key = KEYS[i + w - 1]
      local n = redis.call('INCR', key)
      if n == 1 then redis.call('PEXPIRE', key, ARGV[3 + w]) end
      if n > limit then
        redis.call('DECR', key)
        local left = redis.call('PTTL', key)
        if left < 0 then redis.call('PEXPIRE', key, ARGV[3 + w]); left = tonumber(ARGV[3 + w]) end
        wait = math.max(1, left)
        break
      end
      counted[#counted + 1] = key
    end
  end
  if wait > 0 then
    for _, key in ipairs(counted) do redis.call('DECR', key) end
  end
  out[#out + 1] = wait
end
return out
"""
WINDOWS = (60.0, 3600.0, 86400.0)  # a minute, an hour, a day


class AddressLimit:
    """Per-number limits shared by every worker: at most `per_minute`, `per_hour` and
    `per_day` sends to one number in each window (carriers: about 1 a minute, 5 an hour,
    10 a day for SMS, 20 a day for calls)."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        per_minute: int | None,
        per_hour: int | None,
        per_day: int | None = None,
        windows: tuple[float, float, float] = WINDOWS,
    ):
        self.prefix = prefix
        self.limits = [n or 0 for n in (per_minute, per_hour, per_day)]  # 0: none
        self.windows_ms = [max(1, int(w * 1000)) for w in windows]
        self._script = client.register_script(_WINDOWS)

    def admit_many(self, address_keys: list[str]) -> list[float]:
        """For each send in order, 0 when it may go now (counted), else seconds to wait."""
        if not address_keys:
            return []
        keys = [f"{self.prefix}:{a}:{w}" for a in address_keys for w in ("m", "h", "d")]
        waits = self._script(keys=keys, args=[*self.limits, *self.windows_ms])
        return [int(ms) / 1000.0 for ms in waits]

    def admit(self, address_key: str) -> float:
        """0 when a send to this number may go now, else seconds to wait."""
        return self.admit_many([address_key])[0]


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
