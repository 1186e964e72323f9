"""In-memory record of messages, requests and callbacks, bounded in size."""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

API_VERSION = "2010-04-01"
PRICE_PER_SEGMENT = 0.0079
COMPACT_CALLBACK_FIELDS = ("at", "kind", "status", "http_status", "ok", "attempts", "error")


@dataclass(slots=True)
class Message:
    """One message resource, outbound or inbound."""

    sid: str
    account_sid: str
    to: str
    from_: str | None
    body: str
    status: str
    num_segments: int
    direction: str = "outbound-api"
    messaging_service_sid: str | None = None
    status_callback: str | None = None
    fate: str = "delivered"
    created: float = field(default_factory=time.time)
    updated: float = 0.0
    sent: float | None = None
    error_code: int | None = None
    error_message: str | None = None
    num_media: int = 0
    callbacks: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.updated:
            self.updated = self.created

    def resource(self, *, hide_segments: bool = False) -> dict[str, Any]:
        """The message as the REST API renders it."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}"
        priced = self.sent is not None and self.direction.startswith("outbound")
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": rfc2822(self.created),
            "date_sent": rfc2822(self.sent) if self.sent is not None else None,
            "date_updated": rfc2822(self.updated),
            "direction": self.direction,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": str(self.num_media),
            "num_segments": "0" if hide_segments else str(self.num_segments),
            "price": f"{-PRICE_PER_SEGMENT * self.num_segments:.5f}" if priced else None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
            "to": self.to,
            "uri": f"{uri}.json",
        }


_date_cache: dict[int, str] = {}


def rfc2822(timestamp: float) -> str:
    """'Thu, 24 Aug 2023 05:01:45 +0000', cached per second."""
    second = int(timestamp)
    text = _date_cache.get(second)
    if text is None:
        if len(_date_cache) > 4096:
            _date_cache.clear()
        text = formatdate(second, usegmt=False).replace("-0000", "+0000")
        _date_cache[second] = text
    return text


class Store:
    """Messages by SID (oldest evicted past max_recorded), plus counters and logs."""

    def __init__(self, *, max_recorded: int, max_requests: int, max_callbacks: int) -> None:
        self.max_recorded = max_recorded
        self.messages: dict[str, Message] = {}
        self.status_counts: Counter[str] = Counter()
        self.counters: Counter[str] = Counter()
        self.requests: deque[dict[str, Any]] = deque(maxlen=max_requests or None)
        self.keep_requests = max_requests > 0
        self.callbacks: deque[dict[str, Any]] = deque(maxlen=max_callbacks or None)
        self.keep_callbacks = max_callbacks > 0
        self.started = time.time()

    def add(self, message: Message) -> None:
        """Record a new message, evicting the oldest when full."""
        while len(self.messages) >= self.max_recorded:
            old = self.messages.pop(next(iter(self.messages)))
            self.status_counts[old.status] -= 1
            self.counters["evicted"] += 1
        self.messages[message.sid] = message
        self.status_counts[message.status] += 1

    def set_status(self, message: Message, status: str) -> None:
        """Move a message to a new status, keeping the counts right."""
        if message.sid in self.messages:
            self.status_counts[message.status] -= 1
            self.status_counts[status] += 1
        message.status = status
        message.updated = time.time()

    def log_request(self, method: str, path: str, status: int, **extra: Any) -> None:
        """Count a provider API request and keep it in the bounded log."""
        self.counters["requests"] += 1
        self.counters[f"responses_{status}"] += 1
        if self.keep_requests:
            entry = {"at": time.time(), "method": method, "path": path, "status": status}
            entry.update(extra)
            self.requests.append(entry)

    def log_callback(self, message: Message | None, record: dict[str, Any]) -> None:
        """Keep a webhook delivery outcome, globally and on its message."""
        if self.keep_callbacks:
            self.callbacks.append(record)
        if message is not None:
            message.callbacks.append({k: record.get(k) for k in COMPACT_CALLBACK_FIELDS})

    def find(
        self, *, to: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Message]:
        """Newest first, filtered by To and status."""
        found: list[Message] = []
        for message in reversed(self.messages.values()):
            if to is not None and message.to != to:
                continue
            if status is not None and message.status != status:
                continue
            found.append(message)
            if len(found) >= limit:
                break
        return found

    def stats(self) -> dict[str, Any]:
        """Counts by status, requests, injected faults and callbacks."""
        return {
            "messages": len(self.messages),
            "by_status": {k: v for k, v in sorted(self.status_counts.items()) if v},
            "counters": dict(sorted(self.counters.items())),
            "uptime_seconds": round(time.time() - self.started, 3),
        }
