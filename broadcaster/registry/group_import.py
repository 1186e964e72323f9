"""Group registry import (.xlsx or .csv): WeChat, QQ and WeCom groups, row by row."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.auth.audit import Actor
from broadcaster.errors import ValidationFailed
from broadcaster.registry.groups import create_group, update_group
from broadcaster.registry.importer.reading import read_sheet
from broadcaster.registry.importer.schemas import ImportProblem, ImportReport
from broadcaster.registry.importer.values import PhoneError, normalise_phone
from broadcaster.registry.models import Group, GroupKind, Worker
from broadcaster.registry.schemas import GroupIn
from broadcaster.settings import ImportSettings

# key → the header names it may have (Chinese, English); the first is the template's.
COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("群编号", "code", "group_code", "编号"),
    "name": ("群名称", "name", "group_name", "群名"),
    "kind": ("类型", "kind", "群类型", "type"),
    "zone": ("所属区域编号", "zone", "区域编号", "zone_code", "村/网格编号"),
    "owner": ("群主手机", "owner", "owner_phone", "群主", "群主电话"),
    "member_count": ("群成员数", "member_count", "成员数", "人数", "members"),
    "webhook_key": ("机器人密钥", "webhook_key", "robot_key", "key"),
}
REQUIRED = ("code", "name", "kind", "zone")
KINDS = {
    "微信": GroupKind.wechat,
    "微信群": GroupKind.wechat,
    "wechat": GroupKind.wechat,
    "qq": GroupKind.qq,
    "qq群": GroupKind.qq,
    "企业微信": GroupKind.wecom,
    "企业微信群": GroupKind.wecom,
    "wecom": GroupKind.wecom,
}
FIELD_COLUMN = {"owner_phone": "owner", "owner_worker_id": "owner"}
_ALIASES = {
    unicodedata.normalize("NFKC", name).replace(" ", "").lower(): key
    for key, names in COLUMNS.items()
    for name in names
}


def _fold(value: object) -> str:
    return unicodedata.normalize("NFKC", "" if value is None else str(value)).strip()


def _header(rows: Sequence[tuple[int, Sequence[object]]]) -> tuple[int, dict[str, int]]:
    """The first of the first ten rows naming the required columns, and where each column is."""
    for row, cells in rows[:10]:
        index: dict[str, int] = {}
        for position, cell in enumerate(cells):
            key = _ALIASES.get(_fold(cell).replace(" ", "").lower())
            if key is not None and key not in index:
                index[key] = position
        if all(key in index for key in REQUIRED):
            return row, index
    expected = "、".join(COLUMNS[key][0] for key in REQUIRED)
    raise ValidationFailed(
        f"找不到表头行（应包含：{expected}） / no header row with {', '.join(REQUIRED)}",
        field="file",
    )


def _cell(cells: Sequence[object], index: dict[str, int], key: str, *, fold: bool = True) -> str:
    """The cell of a column; codes, kinds and numbers folded (full-width digits and letters),
    names kept as typed."""
    position = index.get(key)
    if position is None or position >= len(cells) or cells[position] is None:
        return ""
    return _fold(cells[position]) if fold else str(cells[position]).strip()


def _body(session: Session, cells: Sequence[object], index: dict[str, int]) -> GroupIn:
    """The row as a GroupIn; a problem raises ValidationFailed naming its column."""
    kind_text = _cell(cells, index, "kind")
    kind = KINDS.get(kind_text.lower())
    if kind is None:
        raise ValidationFailed(
            f"类型须为 微信 / QQ / 企业微信 / kind must be wechat, qq or wecom: {kind_text!r}",
            field="kind",
        )
    owner, worker_id = _cell(cells, index, "owner") or None, None
    if owner is not None:
        try:
            e164 = normalise_phone(owner).e164
        except PhoneError as exc:
            raise ValidationFailed(str(exc), field="owner") from exc
        worker_id = session.scalar(select(Worker.id).where(Worker.phone == e164, Worker.active))
    count = _cell(cells, index, "member_count") or "0"
    if count.endswith(".0"):  # a spreadsheet's number cell
        count = count[:-2]
    if not count.isdigit():
        raise ValidationFailed(f"群成员数须为整数 / member count: {count!r}", field="member_count")
    return GroupIn(
        code=_cell(cells, index, "code"),
        name=_cell(cells, index, "name", fold=False),
        kind=kind,
        zone=_cell(cells, index, "zone"),
        owner_worker_id=worker_id,
        owner_phone=None if worker_id is not None else owner,
        member_count=int(count),
        webhook_key=_cell(cells, index, "webhook_key") or None,
    )


def _problem(
    row: int, cells: Sequence[object], index: dict[str, int], field: str, reason: str
) -> ImportProblem:
    column = FIELD_COLUMN.get(field, field)
    column = column if column in COLUMNS else "file"
    value = _cell(cells, index, column) if column in index else ""
    label = f"{COLUMNS[column][0]} {column}" if column in COLUMNS else column
    heading = COLUMNS[column][0] if column in COLUMNS else ""
    return ImportProblem(row=row, column=label, heading=heading, value=value, reason=reason)


def import_groups(
    session: Session,
    *,
    data: bytes,
    filename: str,
    actor: Actor,
    limits: ImportSettings | None = None,
) -> ImportReport:
    """Import groups; good rows are created or updated (idempotent on 群编号), every bad row
    is reported with its row number, column and reason and changes nothing. Do not commit."""
    limits = limits or ImportSettings()
    sheet = read_sheet(data, filename, limits)
    header_row, index = _header(sheet.rows)
    rows = [(n, c) for n, c in sheet.rows if n > header_row and any(_fold(x) for x in c)]
    if not rows:
        raise ValidationFailed("文件中没有数据行 / the file has no data rows", field="file")
    report = ImportReport(total_rows=len(rows), warnings=list(sheet.warnings))
    for number, cells in rows:
        try:
            with session.begin_nested():
                body = _body(session, cells, index)
                existing = session.scalar(select(Group).where(Group.code == body.code))
                if existing is None:
                    create_group(session, body=body, actor=actor)
                    report.created += 1
                elif update_group(session, group=existing, body=body, actor=actor):
                    report.updated += 1
                else:
                    report.unchanged += 1
        except ValidationFailed as exc:
            report.rejected += 1
            field = str(exc.detail.get("field", "file")) if exc.detail else "file"
            problem = _problem(number, cells, index, field, exc.message)
            report.add_problems([problem], limits.max_problems)
        except ValidationError as exc:
            report.rejected += 1
            for error in exc.errors():
                field = str(error["loc"][0]) if error["loc"] else "file"
                problem = _problem(number, cells, index, field, error["msg"])
                report.add_problems([problem], limits.max_problems)
    return report
