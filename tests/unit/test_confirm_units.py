"""Reply keywords and confirmation tokens."""

from __future__ import annotations

import pytest

from broadcaster.alerts.tokens import make_token, read_token
from broadcaster.confirm.models import Answer
from broadcaster.confirm.replies import parse_reply


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        ("1", Answer.safe),
        (" 1。", Answer.safe),
        ("１", Answer.safe),
        ("收到", Answer.safe),
        ("平安", Answer.safe),
        ("好", Answer.safe),
        ("OK", Answer.safe),
        ("ok!", Answer.safe),
        ("2", Answer.needs_help),
        ("２", Answer.needs_help),
        ("求助", Answer.needs_help),
        ("救命！", Answer.needs_help),
        ("帮助", Answer.needs_help),
        ("已转移", Answer.evacuated),
        ("STOP", None),
        ("cancel", None),
        ("unsubscribe", None),
        ("12", None),
        ("你好", None),
        ("", None),
    ],
)
def test_reply_keywords(body: str, answer: Answer | None) -> None:
    assert parse_reply(body) == answer


def test_token_round_trip_and_uniqueness() -> None:
    secret = b"k" * 32
    tokens = {make_token(secret, a, p) for a in range(1, 30) for p in range(1, 300)}
    assert len(tokens) == 29 * 299
    assert read_token(secret, make_token(secret, 123456, 9_876_543)) == (123456, 9_876_543)
    assert all(len(t) <= 22 for t in tokens)


def test_token_carries_64_bits_of_mac_and_rejects_forgeries() -> None:
    secret = b"k" * 32
    good = make_token(secret, 7, 42)
    assert read_token(b"other", good) is None
    flipped = good[:-1] + ("A" if good[-1] != "A" else "B")
    assert read_token(secret, flipped) is None
    assert read_token(secret, "") is None
    assert read_token(secret, "!!!!****") is None
