"""Cell parsing of the registry import: phones, separators, flags, coordinates."""

from __future__ import annotations

import pytest

from broadcaster.registry.importer.values import (
    PhoneError,
    cell_text,
    normalise_phone,
    parse_coordinate,
    parse_phones,
    parse_vulnerability,
    split_values,
)
from broadcaster.registry.models import PhoneKind


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "１３８００１３８０００",
        "１３８ ００１３ ８０００",
        "13800138000.0",
        "+86 138 0013 8000",
        "+8613800138000",
        "008613800138000",
    ],
)
def test_mobile_forms_normalise_to_one_e164(raw: str) -> None:
    phone = normalise_phone(raw, "CN")
    assert phone.e164 == "+8613800138000"
    assert phone.kind is PhoneKind.mobile


def test_excel_numeric_cell_becomes_the_number() -> None:
    assert cell_text(13800138000) == "13800138000"
    assert cell_text(13800138000.0) == "13800138000"
    assert normalise_phone(cell_text(13800138000.0), "CN").e164 == "+8613800138000"


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("023-86010708", "+862386010708"),
        ("(023) 8601 0708", "+862386010708"),
        ("010-12345678", "+861012345678"),
    ],
)
def test_landline_with_area_code_is_kept_as_landline(raw: str, e164: str) -> None:
    phone = normalise_phone(raw, "CN")
    assert phone.e164 == e164
    assert phone.kind is PhoneKind.landline


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("12345", "无效电话号码"),
        ("86010708", "无效电话号码"),  # a landline without its area code
        ("1380013800", "无效电话号码"),  # one digit short
        ("1.38001E+10", "科学计数法"),
        ("138abc00138", "非数字"),
        ("tel", "非数字"),
        ("13800138000 无", "非数字"),
        ("023-86010708转123", "非数字"),
    ],
)
def test_invalid_numbers_are_refused_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(PhoneError, match=reason):
        normalise_phone(raw, "CN")


def test_region_is_the_default_for_national_numbers() -> None:
    assert normalise_phone("(415) 555-2671", "US").e164 == "+14155552671"
    assert normalise_phone("(415) 555-2671", "CN").e164 == "+864155552671"  # 0415 丹东
    assert normalise_phone("+1 415 555 2671", "CN").e164 == "+14155552671"


@pytest.mark.parametrize("separator", [";", "；", ",", "，", "、", " ", "  ", "\u3000", " ; "])
def test_phone_cell_separators(separator: str) -> None:
    phones, bad = parse_phones(f"13800138000{separator}023-86010708", "CN")
    assert bad == []
    assert [p.e164 for p in phones] == ["+8613800138000", "+862386010708"]
    assert [p.kind for p in phones] == [PhoneKind.mobile, PhoneKind.landline]


def test_spaces_inside_numbers_and_between_numbers() -> None:
    phones, bad = parse_phones("138 0013 8000 023 8601 0708", "CN")
    assert bad == []
    assert [p.e164 for p in phones] == ["+8613800138000", "+862386010708"]


def test_phone_cell_keeps_order_drops_repeats_and_names_bad_values() -> None:
    phones, bad = parse_phones("13900139000；12345；138-0013-8000；13900139000", "CN")
    assert [p.e164 for p in phones] == ["+8613900139000", "+8613800138000"]
    assert [value for value, _ in bad] == ["12345"]
    assert "无效电话号码 / invalid phone number" in bad[0][1]


def test_bad_word_between_spaced_numbers_is_named() -> None:
    phones, bad = parse_phones("13800138000 无 13900139000", "CN")
    assert [p.e164 for p in phones] == ["+8613800138000", "+8613900139000"]
    assert [value for value, _ in bad] == ["无"]


@pytest.mark.parametrize(
    "text", ["H1;H2", "H1；H2", "H1,H2", "H1，H2", "H1、H2", "H1 H2", " H1 ;; H2 ", "H1、H2、H1"]
)
def test_split_values(text: str) -> None:
    assert split_values(text) == ["H1", "H2"]


def test_split_values_of_blank_is_empty() -> None:
    assert split_values("  ") == []


@pytest.mark.parametrize(
    ("text", "flags"),
    [
        ("独居老人", ["elderly_alone"]),
        ("孤寡老人", ["elderly_alone"]),
        ("空巢老人", ["elderly_alone"]),
        ("残疾人、卧床", ["disabled", "bedridden"]),
        ("地下室；留守儿童，孕妇", ["child_alone", "pregnant", "basement"]),
        ("Disabled elderly_alone", ["elderly_alone", "disabled"]),
        ("残疾、残疾人", ["disabled"]),
        ("", []),
        ("无", []),
    ],
)
def test_vulnerability_flags_map_to_canonical_keys(text: str, flags: list[str]) -> None:
    assert parse_vulnerability(text) == (flags, [])


def test_unknown_vulnerability_flag_is_returned() -> None:
    assert parse_vulnerability("独居老人、精神病") == (["elderly_alone"], ["精神病"])


@pytest.mark.parametrize(
    ("text", "value"),
    [("106.55", 106.55), ("-180", -180.0), ("１０６．５", 106.5), ("29.5°", 29.5)],
)
def test_coordinates(text: str, value: float) -> None:
    assert parse_coordinate(text, 180) == value


@pytest.mark.parametrize(
    ("text", "reason"),
    [("东经106", "不是数字"), ("181", "超出范围"), ("nan", "超出范围"), ("inf", "超出范围")],
)
def test_bad_coordinates(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_coordinate(text, 180)


def test_cell_text_of_other_values() -> None:
    assert cell_text(None) == ""
    assert cell_text("  A1 ") == "A1"
    assert cell_text(106.55) == "106.55"


def test_fast_chinese_mobile_path_agrees_with_phonenumbers() -> None:
    import random

    from broadcaster.registry.importer.values import _cn_mobile, parse_phone

    rng = random.Random(7)
    fast = 0
    for prefix in range(1000, 2000):
        for _ in range(5):
            text = f"{prefix}{rng.randrange(10**7):07d}"
            try:
                slow = parse_phone(text, "CN")
            except PhoneError:
                slow = None
            quick = _cn_mobile(text)
            if quick is not None:
                fast += 1
                assert quick == slow, text
            else:
                assert slow is None or slow.kind is PhoneKind.landline or text.startswith("179")
    assert fast > 2000  # the fast path does carry the common case
    assert _cn_mobile("１３８００１３８０００") is None  # full-width goes the long way
    assert _cn_mobile("138-0013-8000") == parse_phone("138-0013-8000", "CN")
