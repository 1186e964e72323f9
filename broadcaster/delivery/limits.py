"""Provider limits shared by every worker, as each channel declares them: a rate per
credential, and per address (a called number, a WeCom robot)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from broadcaster.delivery.ratelimit import AddressLimit, RollingWindow, TokenBucket
from broadcaster.delivery.runtime import Runtime
from channels.base import Limits, Outcome, SendItem, SendResult

UNLIMITED = 1_000_000  # a window a channel did not declare


def key_hash(secret: str) -> str:
    """Limits are keyed by a hash: a robot's webhook key never goes into Redis."""
    return hashlib.sha256(secret.encode()).hexdigest()[:24]


@dataclass
class Admission:
    """Items cleared to go now, and refusals for those that must wait."""

    admitted: list[SendItem] = field(default_factory=list)
    deferred: list[SendResult] = field(default_factory=list)

    def defer(self, item: SendItem, wait: float, why: str) -> None:
        self.deferred.append(
            SendResult(
                item.key,
                Outcome.retry,
                error_code="rate_limited",
                message=why,
                detail={"retry_after": wait},
            )
        )


def admit(
    rt: Runtime, channel: str, drill: bool, items: list[SendItem], limits: Limits
) -> Admission:
    """Apply the channel's declared per-address limits (the per-credential rate is a bucket)."""
    admission = Admission()
    if rt.redis is None or not limits.per_address:
        admission.admitted = list(items)
        return admission
    scope = f"{rt.settings.queue_prefix}:limit:{channel}:{'drill' if drill else 'live'}"
    for item in items:
        address = key_hash(item.address)
        wait = 0.0
        if limits.rolling:
            most, seconds = limits.rolling
            wait = RollingWindow(rt.redis, f"{scope}:{address}", most, seconds).admit(str(item.key))
        if not wait and (limits.per_minute or limits.per_hour):
            wait = AddressLimit(
                rt.redis, scope, limits.per_minute or UNLIMITED, limits.per_hour or UNLIMITED
            ).admit(address)
        if wait:
            admission.defer(item, wait, limits.why)
        else:
            admission.admitted.append(item)
    return admission


def bucket_for(rt: Runtime, limits: Limits, drill: bool) -> TokenBucket | None:
    """The shared token bucket of the channel's credential (drills have their own)."""
    if not limits.rate_per_second or rt.redis is None:
        return None
    scope = "drill" if drill else f"live:{key_hash(limits.credential)}"
    return TokenBucket(rt.redis, f"{rt.settings.queue_prefix}:rate:{scope}", limits.rate_per_second)
