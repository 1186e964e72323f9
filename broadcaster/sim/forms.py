"""Fast application/x-www-form-urlencoded parsing for the hot create path."""

from __future__ import annotations

import binascii
import re
from urllib.parse import quote_plus, unquote_plus

# Anything the quoted-printable shortcut would read differently from a URL decoder.
_NEEDS_SLOW_PATH = re.compile(r"%(?![0-9A-Fa-f]{2})|[=\s]")


def _unquote(value: str) -> str:
    if "%" not in value and "+" not in value:
        return value
    if _NEEDS_SLOW_PATH.search(value):
        return unquote_plus(value, errors="replace")
    # %XX escapes are quoted-printable =XX escapes; binascii decodes those in C.
    raw = binascii.a2b_qp(value.replace("+", "=20").replace("%", "="))
    return raw.decode("utf-8", "replace")


def parse_form(body: str) -> tuple[dict[str, str], dict[str, int]]:
    """Fields (the last value wins) and how many times each name occurred."""
    fields: dict[str, str] = {}
    counts: dict[str, int] = {}
    for pair in body.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        name = _unquote(name)
        fields[name] = _unquote(value)
        counts[name] = counts.get(name, 0) + 1
    return fields, counts


_SAFE = re.compile(r"[A-Za-z0-9_.\-~]*")


def encode_form(fields: dict[str, str]) -> bytes:
    """urlencode for flat string fields, skipping the quoting of already-safe text."""
    parts = []
    for name, value in fields.items():
        if not _SAFE.fullmatch(value):
            value = quote_plus(value)
        parts.append(f"{name}={value}")
    return "&".join(parts).encode()
