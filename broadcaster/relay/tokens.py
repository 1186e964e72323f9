"""Relay links: a task id and its holder (a worker id, 0 for a bare phone) sealed by HMAC."""

from __future__ import annotations

from broadcaster.alerts.tokens import seal, unseal

PHONE_HOLDER = 0  # the owner is a phone number, not a registered worker
DOMAIN = b"relay:"  # a confirmation token can never pass as a relay token, or back


def make_relay_token(secret: bytes, task_id: int, holder: int) -> str:
    """The URL-safe token of one holder of one relay task."""
    return seal(secret, DOMAIN, task_id, holder)


def read_relay_token(secret: bytes, token: str) -> tuple[int, int] | None:
    """(task_id, holder) of a genuine token, else None."""
    return unseal(secret, DOMAIN, token)
