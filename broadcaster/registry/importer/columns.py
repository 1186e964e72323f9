"""The import columns and the mapping of a header row (Chinese, English or both) onto them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from broadcaster.errors import ValidationFailed


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the registry file: canonical key, Chinese label, example value."""

    key: str
    label: str
    required: bool
    example: str
    hint: str
    aliases: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        """The bilingual header used by the template, e.g. "户编号 household_code"."""
        return f"{self.label} {self.key}"


COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(
        "household_code",
        "户编号",
        True,
        "HH0001",
        "必填，唯一 / required, unique",
        ("户号", "户编码", "住户编号"),
    ),
    ColumnSpec("head_name", "户主姓名", True, "张三", "必填 / required", ("户主",)),
    ColumnSpec(
        "address",
        "地址",
        True,
        "某某镇某某村3组12号",
        "必填 / required",
        ("住址", "家庭住址", "详细地址"),
    ),
    ColumnSpec(
        "grid_code",
        "所属网格",
        True,
        "G001",
        "必填，网格编号 / required, grid code",
        ("网格", "网格编号", "网格编码", "grid"),
    ),
    ColumnSpec(
        "hazard_zones",
        "风险区",
        False,
        "SH01；DZ02",
        "风险区编号，多个用；分隔 / hazard zone codes, separated by ;",
        ("风险区编号", "危险区", "hazard_zone"),
    ),
    ColumnSpec(
        "phones",
        "联系电话",
        True,
        "13800138000；023-86010708",
        "多个用；分隔，第一个为户主；无电话留空或填“无” / separated by ;, first is the head; "
        "leave empty or write 无 for a household without a phone",
        ("电话", "手机", "手机号", "手机号码", "电话号码", "联系方式", "phone"),
    ),
    ColumnSpec(
        "vulnerability",
        "重点人群",
        False,
        "独居老人、残疾",
        "独居老人、残疾、卧床、留守儿童、孕妇、地下室",
        ("重点人群类型",),
    ),
    ColumnSpec(
        "worker_name",
        "包保责任人",
        False,
        "李网格",
        "与电话同时填写 / together with the phone",
        ("包保人", "包保干部", "网格员"),
    ),
    ColumnSpec(
        "worker_phone",
        "包保责任人电话",
        False,
        "13900139000",
        "与姓名同时填写 / together with the name",
        ("包保人电话", "包保干部电话", "网格员电话"),
    ),
    ColumnSpec(
        "worker_login",
        "包保责任人账号",
        False,
        "li.wangge",
        "可选：为该责任人创建登录账号（字母、数字、._@-）/ optional: a login for the worker",
        ("责任人账号", "登录账号", "worker_username"),
    ),
    ColumnSpec("lon", "经度", False, "106.55", "-180 至 180，与纬度同时填写", ("longitude", "lng")),
    ColumnSpec("lat", "纬度", False, "29.56", "-90 至 90，与经度同时填写", ("latitude",)),
    ColumnSpec(
        "proxy_name",
        "代联系人",
        False,
        "张小明",
        "子女、邻居、包保人等，多个用；分隔 / proxy contacts, separated by ;",
        ("代联系人姓名", "代联人", "proxy", "proxies"),
    ),
    ColumnSpec(
        "proxy_phone",
        "代联系人电话",
        False,
        "13700137000",
        "与代联系人一一对应 / one per proxy, in the same order",
        ("代联系人手机", "代联人电话", "proxy_phones"),
    ),
    ColumnSpec(
        "proxy_relation",
        "关系",
        False,
        "儿子",
        "代联系人与住户的关系 / the proxy's relation to the household",
        ("与住户关系", "代联系人关系", "relation"),
    ),
    ColumnSpec(
        "proxy_may_confirm",
        "代为确认",
        False,
        "是",
        "是/否：代联系人能否代为确认平安，默认否 / yes/no: may the proxy confirm (default no)",
        ("可代为确认", "代联系人可确认", "may_confirm"),
    ),
    ColumnSpec(
        "group_code",
        "微信群",
        False,
        "WX01",
        "微信群编号 / group code",
        ("微信群编号", "群编号", "group"),
    ),
)
COLUMN_BY_KEY = {spec.key: spec for spec in COLUMNS}
REQUIRED = tuple(spec.key for spec in COLUMNS if spec.required)
# Optional columns that only make sense together.
PAIRS = (("worker_name", "worker_phone"), ("lon", "lat"), ("proxy_name", "proxy_phone"))

_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+|[a-z0-9_]+")
# Annotations people add to headers: "户编号（必填）", "经度 optional".
_NOISE = frozenset({"必填", "选填", "可选", "必须", "required", "optional"})


def normalise_label(text: str) -> str:
    """Fold width and case, drop required-markers and surrounding whitespace."""
    folded = unicodedata.normalize("NFKC", text).strip().lower()
    return " ".join(folded.strip("*").split())


def _alias_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for spec in COLUMNS:
        for name in (spec.key, spec.label, *spec.aliases):
            table[normalise_label(name)] = spec.key
    return table


_ALIASES = _alias_table()


def column_key(header: object) -> str | None:
    """The canonical key a header cell names, or None for an unknown column."""
    if header is None:
        return None
    text = normalise_label(str(header))
    if not text:
        return None
    direct = _ALIASES.get(text) or _ALIASES.get(text.replace(" ", "_"))
    if direct:
        return direct
    # Combined forms: "户编号 household_code", "户编号(household_code)", "户编号/household_code".
    keys = {_ALIASES.get(token) for token in _TOKEN.findall(text) if token not in _NOISE}
    if len(keys) == 1 and None not in keys:
        return keys.pop()
    return None


@dataclass(frozen=True)
class Header:
    """Where each known column sits in the file, and which header cells were not understood."""

    row: int
    index: dict[str, int]
    unknown: tuple[str, ...]
    # Each known column's header as the file wrote it (所属网格, Grid…): problems are
    # reported under the name the person who made the file gave the column.
    written: dict[str, str] = field(default_factory=dict)

    @property
    def present(self) -> frozenset[str]:
        return frozenset(self.index)

    def heading(self, key: str) -> str:
        """The column's name as written in the file, else its Chinese label."""
        return self.written.get(key) or COLUMN_BY_KEY[key].label

    def is_blank(self, cells: Sequence[object]) -> bool:
        """True when none of the known columns holds anything."""
        return all(
            position >= len(cells) or cells[position] is None or not str(cells[position]).strip()
            for position in self.index.values()
        )


def map_header(row: int, cells: Sequence[object]) -> Header:
    """Map one header row; raise ValidationFailed on duplicate or missing required columns."""
    index: dict[str, int] = {}
    written: dict[str, str] = {}
    unknown: list[str] = []
    for position, cell in enumerate(cells):
        key = column_key(cell)
        if key is None:
            text = "" if cell is None else str(cell).strip()
            if text:
                unknown.append(text)
            continue
        if key in index:
            raise ValidationFailed(
                f"第 {row} 行表头中“{COLUMN_BY_KEY[key].title}”出现了两次 / "
                f"column {key} appears twice in the header row",
                field="file",
            )
        index[key] = position
        written[key] = " ".join(str(cell).split())[:60]
    missing = [COLUMN_BY_KEY[key].title for key in REQUIRED if key not in index]
    if missing:
        raise ValidationFailed(
            "缺少必填列："
            + "、".join(missing)
            + " / missing required columns: "
            + ", ".join(missing),
            field="file",
            missing=missing,
        )
    for first, second in PAIRS:
        if (first in index) != (second in index):
            have, lack = (first, second) if first in index else (second, first)
            raise ValidationFailed(
                f"有“{COLUMN_BY_KEY[have].title}”列但缺少“{COLUMN_BY_KEY[lack].title}”列 / "
                f"column {have} needs column {lack}",
                field="file",
                missing=[COLUMN_BY_KEY[lack].title],
            )
    return Header(row=row, index=index, unknown=tuple(unknown), written=written)


def find_header(rows: Sequence[tuple[int, Sequence[object]]], *, scan: int = 10) -> Header:
    """The header is the first of the first `scan` non-blank rows that names a known column.

    Rows above it (a title such as "某某村住户信息登记表") are skipped.
    """
    for row, cells in rows[:scan]:
        if any(column_key(cell) for cell in cells):
            return map_header(row, cells)
    expected = "、".join(COLUMN_BY_KEY[key].title for key in REQUIRED)
    raise ValidationFailed(
        f"找不到表头行（应包含：{expected}） / no header row found (expected: "
        + ", ".join(REQUIRED)
        + ")",
        field="file",
    )
