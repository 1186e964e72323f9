"""Header mapping of the registry import: Chinese, English, combined, any order."""

from __future__ import annotations

import pytest

from broadcaster.errors import ValidationFailed
from broadcaster.registry.importer.columns import COLUMNS, column_key, find_header, map_header


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("户编号", "household_code"),
        ("household_code", "household_code"),
        ("户编号 household_code", "household_code"),
        ("  户编号   HOUSEHOLD_CODE  ", "household_code"),
        ("户编号(household_code)", "household_code"),
        ("户编号（household_code）", "household_code"),
        ("户编号/household_code", "household_code"),
        ("户编号household_code", "household_code"),
        ("户编号*", "household_code"),
        ("户编号（必填）", "household_code"),
        ("Household Code", "household_code"),
        ("包保责任人电话 worker_phone", "worker_phone"),
        ("包保责任人", "worker_name"),
        ("联系电话", "phones"),
        ("手机号", "phones"),
        ("ｌｏｎ", "lon"),
        ("纬度 lat", "lat"),
        ("微信群 group_code", "group_code"),
        ("风险区 hazard_zones", "hazard_zones"),
        ("重点人群 vulnerability", "vulnerability"),
    ],
)
def test_column_key(header: str, key: str) -> None:
    assert column_key(header) == key


@pytest.mark.parametrize("header", [None, "", "备注", "序号", "户编号 phones", "某村住户登记表"])
def test_unknown_or_contradictory_headers(header: str | None) -> None:
    assert column_key(header) is None


def test_every_template_title_maps_to_its_own_key() -> None:
    for spec in COLUMNS:
        assert column_key(spec.title) == spec.key
        assert column_key(spec.label) == spec.key
        assert column_key(spec.key) == spec.key


def test_header_in_any_order_with_unknown_columns() -> None:
    cells = ["备注", "phones", "地址", None, "户主姓名 head_name", "grid_code", "户编号", "序号"]
    header = map_header(1, cells)
    assert header.index == {
        "phones": 1,
        "address": 2,
        "head_name": 4,
        "grid_code": 5,
        "household_code": 6,
    }
    assert header.unknown == ("备注", "序号")


def test_missing_required_columns_are_named() -> None:
    with pytest.raises(ValidationFailed) as info:
        map_header(1, ["户编号", "地址", "经度", "纬度"])
    assert info.value.field == "file"
    for name in ("户主姓名 head_name", "所属网格 grid_code", "联系电话 phones"):
        assert name in info.value.message
    assert "户编号" not in info.value.message


def test_duplicate_column_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="出现了两次"):
        map_header(1, ["户编号", "household_code", "户主姓名", "地址", "所属网格", "联系电话"])


@pytest.mark.parametrize(
    ("present", "missing"), [("经度", "纬度"), ("包保责任人", "包保责任人电话")]
)
def test_paired_columns_need_each_other(present: str, missing: str) -> None:
    with pytest.raises(ValidationFailed, match=missing):
        map_header(1, ["户编号", "户主姓名", "地址", "所属网格", "联系电话", present])


def test_title_rows_above_the_header_are_skipped() -> None:
    rows = [
        (1, ["某某村住户信息登记表"]),
        (3, ["填表日期：2024-06-01"]),
        (4, ["户编号", "户主姓名", "地址", "所属网格", "联系电话"]),
        (5, ["A1"]),
    ]
    header = find_header(rows)
    assert header.row == 4


def test_no_header_row() -> None:
    with pytest.raises(ValidationFailed, match="找不到表头") as info:
        find_header([(1, ["a", "b"]), (2, ["1", "2"])])
    assert info.value.field == "file"


def test_row_is_blank_when_no_known_column_has_a_value() -> None:
    header = map_header(1, ["序号", "户编号", "户主姓名", "地址", "所属网格", "联系电话"])
    assert header.is_blank([17, None, " ", "", None])
    assert header.is_blank([17])
    assert not header.is_blank([17, None, None, None, None, 13800138000])
