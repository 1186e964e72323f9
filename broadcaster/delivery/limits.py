"""Provider limits shared by every worker, as each channel declares them: a rate per
credential, and per address (a called number, a WeCom robot)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from pydantic import ValidationError

from broadcaster.delivery.channel_config import build_channel
from broadcaster.delivery.providers import configured_providers
from broadcaster.delivery.ratelimit import AddressLimit, Counted, RollingWindow, TokenBucket
from broadcaster.delivery.runtime import Runtime
from broadcaster.settings import Settings
from channels.base import ChannelError, Limits, Outcome, SendItem, SendResult


def key_hash(secret: str) -> str:
    """Limits are keyed by a hash: a robot's webhook key never goes into Redis."""
    return hashlib.sha256(secret.encode()).hexdigest()[:24]


# Answers that say the provider did not take the item (nothing went): its limits are given back.
UNSENT = frozenset({Outcome.retry, Outcome.failed})


@dataclass
class Admission:
    """Items cleared to go now, and refusals for those that must wait; what the admitted
    items count in their numbers' windows, to give back for those no provider accepts."""

    admitted: list[SendItem] = field(default_factory=list)
    deferred: list[SendResult] = field(default_factory=list)
    counted: dict[int, Counted] = field(default_factory=dict)  # by item key
    numbers: AddressLimit | None = None
    windows: dict[int, RollingWindow] = field(default_factory=dict)  # by item key

    def answered(self, results: list[SendResult]) -> None:
        """The provider's answers to admitted items: what it did not take is given back to
        the numbers' windows; what it took counts in its robot's window from now."""
        self.release([r.key for r in results if r.outcome in UNSENT])
        for result in results:
            window = self.windows.pop(result.key, None)
            if window is not None and result.outcome not in UNSENT:
                window.restamp(str(result.key))

    def release(self, keys: Iterable[int]) -> None:
        """The items of these keys were not accepted (refused, held back, never reached the
        provider): their sends leave the numbers' windows, so a refusal never holds a
        number's minute (failover to the next provider goes at once). Redis errors are the
        caller's (a window then stays counted: the safe side)."""
        sends = [self.counted.pop(key) for key in keys if key in self.counted]
        if sends and self.numbers is not None:
            self.numbers.release(sends)

    def defer(self, item: SendItem, wait: float, why: str, code: str = "rate_limited") -> None:
        self.deferred.append(
            SendResult(
                item.key,
                Outcome.retry,
                error_code=code,
                message=why,
                detail={"retry_after": wait},
            )
        )


NUMBER_LIMIT = (
    "每号码发送限额已满，到时自动发送 / the per-number limit is reached: it goes automatically "
    "when the window ends"
)


def admit(
    rt: Runtime, channel: str, drill: bool, items: list[SendItem], limits: Limits
) -> Admission:
    """Apply the provider's declared per-address limits: a rolling window per address (a
    robot), and per-number minute, hour and day limits counted per medium (`channel`), so
    every provider of it, every worker and every sender (first sends, escalation, relay,
    acknowledgements, notices) share one count per number. What would exceed them is
    deferred with the reason, never dropped (the per-credential rate is a bucket). What an
    admitted item counted is given back if no provider accepts it (`Admission.release`)."""
    admission = Admission()
    limits = with_number_limits(rt.settings, channel, drill, limits)
    if rt.redis is None or not limits.per_address:
        admission.admitted = list(items)
        return admission
    scope = f"{rt.settings.queue_prefix}:limit:{channel}:{'drill' if drill else 'live'}"
    waits = [0.0] * len(items)
    codes = ["rate_limited"] * len(items)
    if limits.rolling:
        most, seconds = limits.rolling
        for n, item in enumerate(items):
            window = RollingWindow(rt.redis, f"{scope}:{key_hash(item.address)}", most, seconds)
            waits[n] = window.admit(str(item.key))
            if not waits[n]:
                admission.windows[item.key] = window
    if limits.per_minute or limits.per_hour or limits.per_day:
        numbers = AddressLimit(
            rt.redis,
            scope,
            limits.per_minute,
            limits.per_hour,
            limits.per_day,
            rt.settings.delivery.number_windows.spans,
        )
        admission.numbers = numbers
        open_items = [n for n, wait in enumerate(waits) if not wait]
        got = numbers.count_many([key_hash(items[n].address) for n in open_items])
        for n, (wait, counted) in zip(open_items, got, strict=True):
            waits[n], codes[n] = wait, "number_limit"
            if counted is not None:
                admission.counted[items[n].key] = counted
    for n, item in enumerate(items):
        if waits[n]:
            admission.defer(item, waits[n], limits.why or NUMBER_LIMIT, codes[n])
        else:
            admission.admitted.append(item)
    return admission


def with_number_limits(settings: Settings, medium: str, drill: bool, own: Limits) -> Limits:
    """The sender's limits with the tightest per-number windows any configured provider of
    the medium declares: carriers count per number, whoever sends (a provider that cannot be
    built here declares nothing)."""
    windows = [own.per_minute, own.per_hour, own.per_day]
    try:
        providers = configured_providers(medium, settings)
    except ChannelError:
        providers = []
    for cls in providers:
        try:
            other = build_channel(cls.name, settings, drill=drill).limits()
        except (ChannelError, ValidationError):
            continue
        for n, value in enumerate((other.per_minute, other.per_hour, other.per_day)):
            if value and (windows[n] is None or value < (windows[n] or 0)):
                windows[n] = value
    per_minute, per_hour, per_day = windows
    return replace(own, per_minute=per_minute, per_hour=per_hour, per_day=per_day)


def bucket_for(rt: Runtime, limits: Limits, drill: bool) -> TokenBucket | None:
    """The shared token bucket of the channel's credential (drills have their own)."""
    if not limits.rate_per_second or rt.redis is None:
        return None
    scope = "drill" if drill else f"live:{key_hash(limits.credential)}"
    return TokenBucket(rt.redis, f"{rt.settings.queue_prefix}:rate:{scope}", limits.rate_per_second)
