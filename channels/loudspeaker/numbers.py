"""Arabic numerals to spoken Mandarin: quantities, decimals, digit strings, phone numbers."""

from __future__ import annotations

DIGITS = "零一二三四五六七八九"
"""Digit names for digit-by-digit reading (years, decimals, codes)."""

_PLACES = ("", "十", "百", "千")
_SECTIONS = ("", "万", "亿")
MAX_QUANTITY = 10**12 - 1
"""Largest integer read as a quantity; longer digit strings are read digit by digit."""


def read_digits(digits: str, *, one: str = "一") -> str:
    """Read a string of ASCII digits one by one (`one` replaces 一, e.g. 幺 for phone numbers)."""
    names = DIGITS.replace("一", one) if one != "一" else DIGITS
    return "".join(names[int(ch)] for ch in digits)


def read_phone(digits: str, *, one: str = "幺") -> str:
    """A phone or service number, digit by digit; 1 is read 幺 by default.

    幺 (yāo) is how 1 is customarily spoken in phone numbers (幺幺零 for 110): over a
    loudspeaker it cannot be confused with 七 (qī) the way 一 (yī) can.
    """
    return read_digits("".join(ch for ch in digits if ch.isdigit()), one=one)


def _read_section(value: int, *, leading: bool) -> str:
    """A 0..9999 block. `leading`: the block starts the whole number (10-19 → 十, 十一...)."""
    digits = [value // 1000, value // 100 % 10, value // 10 % 10, value % 10]
    out: list[str] = []
    started = False
    pending_zero = False
    for index, digit in enumerate(digits):
        place = 3 - index
        if digit == 0:
            pending_zero = started
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        if digit == 2 and not started and place >= 2:
            out.append("两")
        elif digit == 1 and place == 1 and not started and leading:
            pass  # 十, not 一十, at the head of a number
        else:
            out.append(DIGITS[digit])
        out.append(_PLACES[place])
        started = True
    return "".join(out)


def read_integer(value: int) -> str:
    """A non-negative integer as a quantity: 2300 → 两千三百, 12 → 十二, 105 → 一百零五.

    两 is used for a 2 that leads a four-digit block in the 百 or 千 place (两百, 两千三百,
    两千二百) and for a lone 2 before 万/亿 (两万); everywhere else 2 is 二 (二十二, 十二).
    Values above MAX_QUANTITY are read digit by digit.
    """
    if value < 0:
        raise ValueError("read_integer takes a non-negative value")
    if value == 0:
        return "零"
    if value > MAX_QUANTITY:
        return read_digits(str(value))
    blocks: list[int] = []
    rest = value
    while rest:
        blocks.append(rest % 10000)
        rest //= 10000
    out: list[str] = []
    need_zero = False
    for position in range(len(blocks) - 1, -1, -1):
        block = blocks[position]
        if block == 0:
            need_zero = bool(out)
            continue
        if out and (need_zero or block < 1000):
            out.append("零")
        need_zero = False
        if block == 2 and position > 0:
            out.append("两")
        else:
            out.append(_read_section(block, leading=not out))
        out.append(_SECTIONS[position])
    return "".join(out)


def read_number(literal: str) -> str:
    """A numeral as written: optional sign, thousands commas, decimal part.

    "12.5" → 十二点五, "-3" → 负三, "2,300" → 两千三百, "0.05" → 零点零五. An integer
    part with a leading zero ("007") is read digit by digit, like a code.
    """
    text = literal.replace(",", "").replace("，", "")
    sign = ""
    if text[:1] in "-−":
        sign, text = "负", text[1:]
    elif text[:1] == "+":
        sign, text = "正", text[1:]
    whole, _, fraction = text.partition(".")
    if len(whole) > 1 and whole.startswith("0"):
        spoken = read_digits(whole)
    else:
        spoken = read_integer(int(whole or "0"))
    if fraction:
        spoken += "点" + read_digits(fraction)
    return sign + spoken
