"""Understanding a resident's SMS reply: 1/收到/平安 is safe, 2/求助/救命 asks for help."""

from __future__ import annotations

import unicodedata

from broadcaster.confirm.models import Answer

SAFE_WORDS = frozenset({"1", "收到", "平安", "好", "好的", "ok", "okay", "安全", "已收到", "yes"})
HELP_WORDS = frozenset({"2", "求助", "救命", "帮助", "help", "sos", "需要帮助"})
EVACUATED_WORDS = frozenset({"3", "已转移", "转移"})
_TRIM = " \t\r\n.,!?;:。，！？；：、~～·\"'“”‘’【】[]()（）"


def parse_reply(body: str) -> Answer | None:
    """The answer a reply carries, or None when it is anything else (kept for the officer).

    Full-width characters are folded (１ → 1); punctuation around the word is ignored.
    STOP/CANCEL/UNSUBSCRIBE are never keywords here: carriers own them.
    """
    text = unicodedata.normalize("NFKC", body).strip(_TRIM).lower()
    if text in HELP_WORDS:
        return Answer.needs_help
    if text in SAFE_WORDS:
        return Answer.safe
    if text in EVACUATED_WORDS:
        return Answer.evacuated
    return None


KEY_ANSWERS = {"1": Answer.safe, "2": Answer.needs_help}  # 9 replays: the provider's menu


def key_answer(digit: str) -> Answer | None:
    """The answer a key pressed during a call carries (1 safe, 2 needs help), if any."""
    return KEY_ANSWERS.get(digit)
