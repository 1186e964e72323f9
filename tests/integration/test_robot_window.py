"""A robot's rolling window (WeCom: 20 posts a minute) counts each post from when its answer
came, not only from when it was admitted: the provider counts a post as it arrives, and a
stalled send loop can hold an admitted post for seconds (a 21st post in the robot's minute
is refused with 45009)."""

from __future__ import annotations

import secrets
import time

import redis

from broadcaster.delivery.limits import Admission
from broadcaster.delivery.ratelimit import RollingWindow
from channels.base import Outcome, SendResult

WINDOW = 60.0
LATE = 0.2  # seconds between a post's admission and its answer


def window(redis_url: str, queue_prefix: str, limit: int = 1) -> RollingWindow:
    client = redis.Redis.from_url(redis_url)
    return RollingWindow(client, f"{queue_prefix}:robot-{secrets.token_hex(3)}", limit, WINDOW)


def test_an_answered_post_holds_the_window_from_its_answer(
    redis_url: str, queue_prefix: str
) -> None:
    robot = window(redis_url, queue_prefix)
    assert robot.admit("1") == 0
    time.sleep(LATE)  # the post leaves late and is answered now
    answered_at = time.time()
    robot.restamp("1")
    wait = robot.admit("2")
    # From the admission the wait would be at most WINDOW - LATE - (time since the answer).
    assert wait >= WINDOW - (time.time() - answered_at) - 0.01


def test_only_what_the_robot_took_is_counted_again(redis_url: str, queue_prefix: str) -> None:
    """Admission.answered: an accepted post counts from its answer; a refused one (45009,
    nothing posted) keeps its admission stamp and is not counted again."""
    took, refused = window(redis_url, queue_prefix), window(redis_url, queue_prefix)
    admission = Admission(windows={1: took, 2: refused})
    assert took.admit("1") == 0
    assert refused.admit("2") == 0
    time.sleep(LATE)
    answered_at = time.time()
    admission.answered(
        [
            SendResult(1, Outcome.accepted, provider_id="p1", final=True),
            SendResult(2, Outcome.retry, error_code="45009"),
        ]
    )
    assert took.admit("3") >= WINDOW - (time.time() - answered_at) - 0.01
    assert refused.admit("4") <= WINDOW - LATE
    assert admission.windows == {}  # each window is settled once
