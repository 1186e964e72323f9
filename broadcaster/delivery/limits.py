"""Provider limits shared by every worker: per credential, per WeCom robot, per called number."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from broadcaster.delivery.ratelimit import AddressLimit, RollingWindow
from broadcaster.delivery.runtime import Runtime
from channels.base import Outcome, SendItem, SendResult
from channels.wecom_group import PER_ROBOT_PER_MINUTE


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


def admit(rt: Runtime, channel: str, drill: bool, items: list[SendItem]) -> Admission:
    """Apply the per-key limits of the channel (the per-credential SMS bucket is separate)."""
    admission = Admission()
    if rt.redis is None or channel not in ("wecom_group", "voice"):
        admission.admitted = list(items)
        return admission
    scope = f"{rt.settings.queue_prefix}:limit:{channel}:{'drill' if drill else 'live'}"
    if channel == "wecom_group":
        for item in items:
            window = RollingWindow(
                rt.redis, f"{scope}:{key_hash(item.address)}", PER_ROBOT_PER_MINUTE, 60.0
            )
            wait = window.admit(str(item.key))
            if wait:
                admission.defer(item, wait, "机器人每分钟限20条 / robot limit")
            else:
                admission.admitted.append(item)
        return admission
    voice = rt.settings.voice
    limit = AddressLimit(rt.redis, scope, voice.per_number_per_minute, voice.per_number_per_hour)
    for item in items:
        wait = limit.admit(key_hash(item.address))
        if wait:
            admission.defer(item, wait, "号码呼叫频次限制 / per-number call limit")
        else:
            admission.admitted.append(item)
    return admission
