"""WeCom channel without a network: key masking, mobiles, content byte limits, payloads."""

from __future__ import annotations

import pytest

from channels.base import SendItem
from channels.wecom_group import (
    MARKDOWN_MAX_BYTES,
    TEXT_MAX_BYTES,
    WecomGroup,
    WecomGroupSettings,
    fit_content,
    mask_key,
    normalise_mobile,
)

KEY = "693a91f6-7aaa-4bc4-97a0-0ec2sifa5aaa"
LINK = "https://warn.example.org/c/AbCdEf0123456789-_xyz"


def size(text: str) -> int:
    return len(text.encode())


def test_mask_key_shows_only_its_ends() -> None:
    assert mask_key(KEY) == "693a…5aaa"
    assert KEY not in mask_key(KEY)
    assert mask_key("short-key") == "…"
    assert mask_key("") == "…"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("13800001111", "13800001111"),
        ("+8613800001111", "13800001111"),
        ("+86 138-0000-1111", "13800001111"),
        ("008613800001111", "13800001111"),
        ("8613800001111", "13800001111"),
        ("(138) 0000 1111", "13800001111"),
        ("@all", "@all"),
        ("+85291234567", "+85291234567"),
    ],
)
def test_mobiles_become_bare_mainland_digits(given: str, expected: str) -> None:
    assert normalise_mobile(given) == expected


def test_short_content_is_untouched() -> None:
    body = f"红色暴雨预警，请立即转移。\n确认：{LINK}"
    assert fit_content(body, TEXT_MAX_BYTES) == (body, False)


def test_long_content_keeps_the_link_line_whole_at_the_end() -> None:
    head = "【演练】红色暴雨预警：" + "请低洼地区居民立即转移到安全地点。" * 80
    tail = f"确认收到请点：{LINK}\n需要帮助请回复2"
    body = f"{head}\n{tail}"
    assert size(body) > TEXT_MAX_BYTES
    fitted, cut = fit_content(body, TEXT_MAX_BYTES)
    assert cut
    assert size(fitted) <= TEXT_MAX_BYTES
    assert fitted.endswith("…\n" + tail)
    assert fitted.startswith("【演练】红色暴雨预警：")
    assert size(fitted) > TEXT_MAX_BYTES - 8  # cut at a character boundary, not far before
    fitted.encode().decode("utf-8")  # still valid UTF-8


def test_markdown_limit_is_larger() -> None:
    body = "水位超过保证水位。" * 200 + f"\n[确认]({LINK})"
    fitted, cut = fit_content(body, MARKDOWN_MAX_BYTES)
    assert cut
    assert size(fitted) <= MARKDOWN_MAX_BYTES
    assert fitted.endswith(f"…\n[确认]({LINK})")


def test_a_tail_longer_than_half_the_limit_starts_at_the_link() -> None:
    line = "请确认" * 400 + " " + LINK
    fitted, cut = fit_content("标题\n" + line, TEXT_MAX_BYTES)
    assert cut
    assert size(fitted) <= TEXT_MAX_BYTES
    assert fitted.endswith("…\n" + LINK)


def test_without_a_link_the_end_is_cut() -> None:
    body = "预警" * 2000
    fitted, cut = fit_content(body, TEXT_MAX_BYTES)
    assert cut
    assert fitted.endswith("…")
    assert size(fitted) <= TEXT_MAX_BYTES
    assert size(fitted) > TEXT_MAX_BYTES - 6


def item(**extra: object) -> SendItem:
    return SendItem(1, KEY, f"红色预警 {LINK}", extra=dict(extra))


def test_text_payload_carries_normalised_deduplicated_mentions() -> None:
    channel = WecomGroup(WecomGroupSettings())
    document, detail = channel.payload(
        item(
            mentioned_mobile_list=["+86 138 0000 1111", "13800001111", "13900002222"],
            mentioned_list=["zhangsan", "zhangsan"],
        )
    )
    assert document == {
        "msgtype": "text",
        "text": {
            "content": f"红色预警 {LINK}",
            "mentioned_list": ["zhangsan"],
            "mentioned_mobile_list": ["13800001111", "13900002222"],
        },
    }
    assert detail["robot"] == "693a…5aaa"
    assert detail["mentions"] == 3
    assert KEY not in str(detail)


def test_markdown_payload_mentions_user_ids_in_content_only() -> None:
    channel = WecomGroup(WecomGroupSettings(message_type="markdown"))
    document, detail = channel.payload(
        item(mentioned_list=["lisi"], mentioned_mobile_list=["13800001111"])
    )
    assert document == {
        "msgtype": "markdown",
        "markdown": {"content": f"红色预警 {LINK}\n<@lisi>"},
    }
    assert detail["mobiles_not_mentioned"] == 1


def test_markdown_mentions_count_against_the_limit() -> None:
    channel = WecomGroup(WecomGroupSettings(message_type="markdown"))
    body = "预警" * 1000 + f"\n{LINK}"
    document, detail = channel.payload(SendItem(1, KEY, body, extra={"mentioned_list": ["wangwu"]}))
    content = document["markdown"]["content"]
    assert size(content) <= MARKDOWN_MAX_BYTES
    assert content.endswith(f"{LINK}\n<@wangwu>")
    assert detail["truncated"] is True
