"""Text that reaches residents: no control characters, and never only invisible characters."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

LINE_BREAKS = frozenset("\n\r\t")
# Bidirectional overrides and isolates reorder what a phone shows (a spoofing tool).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Letters that render as nothing (Hangul fillers, the blank Braille pattern).
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
INVISIBLE_CATEGORIES = frozenset({"Cf", "Zs", "Zl", "Zp", "Mn", "Me", "Cc"})


def _visible(char: str) -> bool:
    return char not in BLANK_LETTERS and unicodedata.category(char) not in INVISIBLE_CATEGORIES


def text_problem(value: str, *, multiline: bool) -> str | None:
    """Why the text cannot go to residents (Chinese / English), or None. Newline and tab are
    allowed only in `multiline` text (bodies, instructions)."""
    for char in value:
        category = unicodedata.category(char)
        allowed = multiline and char in LINE_BREAKS
        if (category == "Cc" and not allowed) or category == "Cs" or char in BIDI_CONTROLS:
            code = f"U+{ord(char):04X}"
            return f"含有控制字符 {code} / contains the control character {code}"
    if value and not any(_visible(char) for char in value):
        return "只有不可见字符 / has only invisible characters"
    return None


def _line(value: str) -> str:
    if (problem := text_problem(value, multiline=False)) is not None:
        raise ValueError(problem)
    return value


def _text(value: str) -> str:
    if (problem := text_problem(value, multiline=True)) is not None:
        raise ValueError(problem)
    return value


# For pydantic models: the field is refused (422 naming it) with the reason.
PlainLine = Annotated[str, AfterValidator(_line)]
PlainText = Annotated[str, AfterValidator(_text)]
