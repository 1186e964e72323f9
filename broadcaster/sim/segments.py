"""SMS segment counting as carriers do it: GSM-7 (160/153) or UCS-2 (70/67)."""

from __future__ import annotations

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM7_ALL = GSM7_BASIC | GSM7_EXTENSION

GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67


def is_gsm7(text: str) -> bool:
    """Whether every character has a GSM-7 encoding (basic or escaped)."""
    return frozenset(text) <= GSM7_ALL


def _pack(units: list[int], single: int, multi: int) -> int:
    """Segments needed for indivisible units of the given widths."""
    total = sum(units)
    if total == 0:
        return 1
    if total <= single:
        return 1
    segments, used = 1, 0
    for width in units:
        if used + width > multi:
            segments += 1
            used = 0
        used += width
    return segments


def encoding(text: str) -> str:
    """'GSM-7' or 'UCS-2', the encoding a message body is sent in."""
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def count_segments(text: str) -> int:
    """Number of SMS segments for the body; escapes and surrogate pairs are never split."""
    if is_gsm7(text):
        escaped = sum(text.count(ch) for ch in GSM7_EXTENSION) if not text.isalnum() else 0
        if len(text) + escaped <= GSM7_SINGLE:
            return 1
        septets = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        return _pack(septets, GSM7_SINGLE, GSM7_MULTI)
    if len(text) <= UCS2_SINGLE // 2 or len(text.encode("utf-16-le")) <= 2 * UCS2_SINGLE:
        return 1
    code_units = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return _pack(code_units, UCS2_SINGLE, UCS2_MULTI)
