"""SMS segment counting: GSM-7 (160/153 characters) or UCS-2 (70/67), as carriers bill it."""

from __future__ import annotations

import math

_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")


def is_gsm7(text: str) -> bool:
    """True when every character fits the GSM 03.38 alphabet (basic or extension table)."""
    return all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in text)


def sms_length(text: str) -> tuple[str, int]:
    """The encoding and the length in its units (extension characters count twice in GSM-7;
    characters outside the BMP count twice in UCS-2)."""
    if is_gsm7(text):
        return "GSM-7", sum(2 if ch in _GSM_EXTENDED else 1 for ch in text)
    return "UCS-2", sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def segments(text: str) -> int:
    """How many SMS parts the text takes (Chinese text is UCS-2: 70 single, 67 per part)."""
    encoding, length = sms_length(text)
    single, multi = (160, 153) if encoding == "GSM-7" else (70, 67)
    if length <= single:
        return 1
    return math.ceil(length / multi)
