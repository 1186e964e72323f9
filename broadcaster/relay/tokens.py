"""Relay links: a task id and its holder (a worker id, 0 for a bare phone) sealed by HMAC."""

from __future__ import annotations

import base64
import hashlib
import hmac

from broadcaster.confirm.tokens import MAC_BYTES, _read_varint, _varint

PHONE_HOLDER = 0  # the owner is a phone number, not a registered worker


def _mac(secret: bytes, payload: bytes) -> bytes:
    # Its own domain: a confirmation token can never pass as a relay token, or back.
    return hmac.new(secret, b"relay:" + payload, hashlib.sha256).digest()[:MAC_BYTES]


def make_relay_token(secret: bytes, task_id: int, holder: int) -> str:
    """The URL-safe token of one holder of one relay task."""
    payload = _varint(task_id) + _varint(holder)
    return base64.urlsafe_b64encode(payload + _mac(secret, payload)).rstrip(b"=").decode()


def read_relay_token(secret: bytes, token: str) -> tuple[int, int] | None:
    """(task_id, holder) of a genuine token, else None."""
    if not 4 <= len(token) <= 40:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        task_id, index = _read_varint(raw, 0)
        holder, index = _read_varint(raw, index)
    except ValueError:
        return None
    payload, mac = raw[:index], raw[index:]
    if len(mac) != MAC_BYTES or not hmac.compare_digest(mac, _mac(secret, payload)):
        return None
    return task_id, holder
