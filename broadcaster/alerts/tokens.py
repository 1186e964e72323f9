"""Personal confirmation tokens: alert and person ids sealed with a 64-bit HMAC.

A token is derived, not stored: planning a million households writes no token rows, and a
token cannot be guessed without the secret key. Expiry follows the alert's state.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

MAC_BYTES = 8


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varint(data: bytes, start: int) -> tuple[int, int]:
    value = shift = 0
    for index in range(start, min(len(data), start + 10)):
        value |= (data[index] & 0x7F) << shift
        if not data[index] & 0x80:
            return value, index + 1
        shift += 7
    raise ValueError("truncated token")


def _mac(secret: bytes, domain: bytes, payload: bytes) -> bytes:
    # Each kind of token has its own domain: one can never pass as another.
    return hmac.new(secret, domain + payload, hashlib.sha256).digest()[:MAC_BYTES]


def seal(secret: bytes, domain: bytes, first: int, second: int) -> str:
    """Two ids as a URL-safe token sealed with an HMAC of `domain` and the ids."""
    payload = _varint(first) + _varint(second)
    raw = payload + _mac(secret, domain, payload)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unseal(secret: bytes, domain: bytes, token: str) -> tuple[int, int] | None:
    """The two ids of a genuine token of `domain`, else None."""
    if not 4 <= len(token) <= 40:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        first, index = _read_varint(raw, 0)
        second, index = _read_varint(raw, index)
    except (ValueError, UnicodeError):
        return None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != token:
        return None  # one spelling per token: no padding, no stray or non-zero low bits
    payload, mac = raw[:index], raw[index:]
    if len(mac) != MAC_BYTES or not hmac.compare_digest(mac, _mac(secret, domain, payload)):
        return None
    return first, second


def make_token(secret: bytes, alert_id: int, person_id: int) -> str:
    """The URL-safe token of one person under one alert."""
    return seal(secret, b"confirm:", alert_id, person_id)


def read_token(secret: bytes, token: str) -> tuple[int, int] | None:
    """(alert_id, person_id) of a genuine token, else None."""
    return unseal(secret, b"confirm:", token)
