"""Shared limits in Redis: a token bucket per provider credential, per-number windows and
rolling windows per address, the same for every worker."""

from __future__ import annotations

from dataclasses import dataclass

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
# four numbers per send: its wait (ms) — 0 when admitted (every declared window counted), else
# until the window that blocks it ends (nothing counted) — then, when admitted, the end (ms,
# Redis clock) of each window it was counted in (0: not kept), so that a send that never went
# can be given back to exactly that window. Fixed windows that start with a number's first
# send, as carriers count them; one round trip per batch.
_WINDOWS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i = 1, #KEYS, 3 do
  local wait = 0
  local counted = {}
  local ends = {0, 0, 0}
  for w = 1, 3 do
    local limit = tonumber(ARGV[w])
    if limit > 0 then
      local key = KEYS[i + w - 1]
      local n = redis.call('INCR', key)
      if n == 1 then redis.call('PEXPIRE', key, ARGV[3 + w]) end
      local left = redis.call('PTTL', key)
      if left < 0 then redis.call('PEXPIRE', key, ARGV[3 + w]); left = tonumber(ARGV[3 + w]) end
      if n > limit then
        redis.call('DECR', key)
        wait = math.max(1, left)
        break
      end
      counted[#counted + 1] = key
      ends[w] = now + left
    end
  end
  if wait > 0 then
    for _, key in ipairs(counted) do redis.call('DECR', key) end
    ends = {0, 0, 0}
  end
  out[#out + 1] = wait
  for w = 1, 3 do out[#out + 1] = ends[w] end
end
return out
"""
# KEYS: the minute, hour and day counters of each send given back; ARGV: the three windows
# in ms, then for each key the end of the window the send was counted in (0: not counted).
# A counter is decremented only while that same window runs (a later window is another
# count, never touched), and removed when nothing is left in it.
_RELEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, #KEYS do
  local stamp = tonumber(ARGV[3 + i])
  local slack = tonumber(ARGV[(i - 1) % 3 + 1]) / 2
  if stamp > 0 then
    local left = redis.call('PTTL', KEYS[i])
    if left > 0 and math.abs(now + left - stamp) < slack then
      if redis.call('DECR', KEYS[i]) <= 0 then redis.call('DEL', KEYS[i]) end
    end
  end
end
return 0
"""
WINDOWS = (60.0, 3600.0, 86400.0)  # a minute, an hour, a day
SPANS = ("m", "h", "d")


@dataclass(frozen=True)
class Counted:
    """A send counted in its number's windows: the number's key and the end (ms, Redis
    clock) of the minute, hour and day window it was counted in (0: that one not kept)."""

    address_key: str
    ends: tuple[int, int, int]


class AddressLimit:
    """Per-number limits shared by every worker: at most `per_minute`, `per_hour` and
    `per_day` sends to one number in each window (carriers: about 1 a minute, 5 an hour,
    10 a day for SMS, 20 a day for calls). A send counted but never accepted by a provider
    is given back (`release`), so a refusal does not hold the number's window."""

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
        self._release = client.register_script(_RELEASE)

    def _keys(self, address_keys: list[str]) -> list[str]:
        return [f"{self.prefix}:{a}:{w}" for a in address_keys for w in SPANS]

    def count_many(self, address_keys: list[str]) -> list[tuple[float, Counted | None]]:
        """For each send in order: (0, what was counted) when it may go now, else (seconds
        to wait, None) — nothing counted."""
        if not address_keys:
            return []
        got = self._script(keys=self._keys(address_keys), args=[*self.limits, *self.windows_ms])
        found: list[tuple[float, Counted | None]] = []
        for n, address in enumerate(address_keys):
            wait, *ends = (int(v) for v in got[4 * n : 4 * n + 4])
            counted = None if wait else Counted(address, (ends[0], ends[1], ends[2]))
            found.append((wait / 1000.0, counted))
        return found

    def admit_many(self, address_keys: list[str]) -> list[float]:
        """For each send in order, 0 when it may go now (counted), else seconds to wait."""
        return [wait for wait, _ in self.count_many(address_keys)]

    def admit(self, address_key: str) -> float:
        """0 when a send to this number may go now, else seconds to wait."""
        return self.admit_many([address_key])[0]

    def release(self, sends: list[Counted]) -> None:
        """Give back sends that were counted but never went (refused, held, deferred): each
        to the window it was counted in, if that window still runs. One round trip."""
        if not sends:
            return
        stamps = [end for send in sends for end in send.ends]
        keys = self._keys([send.address_key for send in sends])
        self._release(keys=keys, args=[*self.windows_ms, *stamps])


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


# KEYS[1] the window's sorted set; ARGV: window ms, member id. Counts the send from now
# (the time its answer came), keeping the set alive a window from now.
_RESTAMP = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return 0
"""


class RollingWindow:
    """At most `limit` sends in any `window` seconds (WeCom: 20 a minute per robot). A send
    is counted when admitted and counted again from when its answer came (`restamp`): the
    provider counts it when it arrives, which a stalled loop can put seconds later."""

    def __init__(self, client: redis.Redis, key: str, limit: int, window: float = 60.0):
        self.key = key
        self.limit = limit
        self.window_ms = int(window * 1000)
        self._script = client.register_script(_ROLLING)
        self._restamp = client.register_script(_RESTAMP)

    def admit(self, member: str) -> float:
        """0 when one more send fits now, else seconds until it will."""
        wait_ms = self._script(keys=[self.key], args=[self.limit, self.window_ms, member])
        return int(wait_ms) / 1000.0

    def restamp(self, member: str) -> None:
        """The provider answered this send: its window runs from now (the provider saw it
        no later), even if the window had let it go."""
        self._restamp(keys=[self.key], args=[self.window_ms, member])
