"""Approved provider templates: the shipped books load, fill and refuse what they cannot carry."""

from __future__ import annotations

from pathlib import Path

import pytest

from channels.base import ChannelError, Message
from channels.templated import KINDS, TemplateRefused, load_book

BOOKS = Path(__file__).parents[2] / "config" / "templates" / "providers"
VALUES = {
    "sender": "某区防指",
    "level_name": "红色",
    "hazard_name": "山洪",
    "headline": "今夜有特大暴雨",
    "token": "tok123",
    "group": "三组微信群",
    "head": "王大爷",
    "address": "河口村三组12号",
    "phone": "13800000001",
    "page": "12?k=abc",
}


@pytest.mark.parametrize("name", ["sms_aliyun", "sms_tencent", "voice_aliyun"])
def test_every_shipped_template_fills_with_the_message_values(name: str) -> None:
    book = load_book(BOOKS / f"{name}.toml", "https://jz.example.cn")
    assert book.templates, name
    for key in book.templates:
        filled = book.fill(Message(key, "flash_flood", "red", VALUES))
        assert "${" not in filled.text
        assert "{public_base}" not in filled.text
        assert set(filled.params) == set(book.templates[key].sources)


def test_alert_text_is_exact_with_signature_link_and_segments() -> None:
    book = load_book(BOOKS / "sms_aliyun.toml", "https://jz.example.cn")
    filled = book.fill(Message("alert", "flash_flood", "red", VALUES))
    assert filled.text.startswith("【防汛抗旱指挥部】某区防指发布红色山洪预警：今夜有特大暴雨。")
    assert filled.text.endswith("https://jz.example.cn/c/tok123")
    assert filled.params["token"] == "tok123"
    assert filled.length == len(filled.text) == 78
    assert filled.segments == 2  # over 70 characters: 67 a part


def test_value_over_the_limit_is_refused_naming_the_variable() -> None:
    book = load_book(BOOKS / "sms_aliyun.toml", "")
    long = "特" * 36
    with pytest.raises(TemplateRefused) as caught:
        book.fill(Message("alert", "flash_flood", "red", {**VALUES, "headline": long}))
    assert caught.value.variable == "headline"
    assert "36" in caught.value.message
    assert "35" in caught.value.message


def test_kind_without_template_and_missing_value_are_refused() -> None:
    book = load_book(BOOKS / "voice_aliyun.toml", "")
    with pytest.raises(TemplateRefused, match="no approved template"):
        book.fill(Message("relay", values=VALUES))
    with pytest.raises(TemplateRefused, match="no value for headline"):
        book.fill(Message("alert", values={k: v for k, v in VALUES.items() if k != "headline"}))


def test_most_specific_template_wins(tmp_path: Path) -> None:
    path = tmp_path / "sms_x.toml"
    path.write_text(
        'sign_name = "S"\n'
        '[templates.alert]\ncode = "A"\ntext = "plain ${h}"\nvariables = { h = "headline" }\n'
        '[templates."alert.flash_flood.red"]\ncode = "B"\ntext = "red ${h}"\n'
        'variables = { h = "headline" }\n',
        encoding="utf-8",
    )
    book = load_book(path)
    assert book.fill(Message("alert", "flash_flood", "red", VALUES)).code == "B"
    assert book.fill(Message("alert", "flash_flood", "blue", VALUES)).code == "A"


@pytest.mark.parametrize(
    ("body", "fault"),
    [
        ('[templates.nonsense]\ncode = "A"\ntext = "x"\n', "unknown kind"),
        ('[templates.alert]\ncode = "A"\ntext = "x ${a}"\nvariables = {}\n', "variables"),
        ("sign_name = [", "template file"),
    ],
)
def test_broken_book_is_an_error_naming_the_fault(tmp_path: Path, body: str, fault: str) -> None:
    path = tmp_path / f"sms_{abs(hash(body))}.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ChannelError, match=fault):
        load_book(path)


def test_kinds_are_the_documented_ones() -> None:
    readme = (BOOKS / "README.md").read_text(encoding="utf-8")
    assert all(f"`{kind}`" in readme for kind in KINDS)


@pytest.mark.parametrize("name", ["sms_aliyun", "sms_tencent", "voice_aliyun"])
def test_a_drill_goes_only_with_a_template_that_says_so(name: str) -> None:
    book = load_book(BOOKS / f"{name}.toml", "https://jz.example.cn")
    for key in [k for k in book.templates if not k.startswith("drill.")]:
        drill = book.fill(Message(key, "flood", "red", VALUES, drill=True))
        real = book.fill(Message(key, "flood", "red", VALUES))
        assert "演练" in drill.text, key
        assert "演练" not in real.text, key
        assert drill.code != real.code


def test_a_drill_without_its_own_template_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sms_y.toml"
    path.write_text(
        '[templates.alert]\ncode = "A"\ntext = "plain ${h}"\nvariables = { h = "headline" }\n',
        encoding="utf-8",
    )
    with pytest.raises(TemplateRefused, match="no approved drill template") as refused:
        load_book(path).fill(Message("alert", values=VALUES, drill=True))
    assert refused.value.kind == "drill.alert"
