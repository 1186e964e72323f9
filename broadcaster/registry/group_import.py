"""Group registry import (.xlsx or .csv): WeChat, QQ and WeCom groups, row by row."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.auth.audit import Actor
from broadcaster.errors import ValidationFailed
from broadcaster.registry.groups import create_group, update_group
from broadcaster.registry.importer.schemas import ImportReport
from broadcaster.registry.importer.values import PhoneError, normalise_phone
from broadcaster.registry.models import Group, GroupKind, Worker
from broadcaster.registry.schemas import GroupIn
from broadcaster.registry.sheet_rows import Cells, Columns, Done, import_rows
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


def _body(session: Session, cells: Cells, columns: Columns) -> GroupIn:
    """The row as a GroupIn; a problem raises ValidationFailed naming its column."""
    kind_text = columns.cell(cells, "kind")
    kind = KINDS.get(kind_text.lower())
    if kind is None:
        raise ValidationFailed(
            f"类型须为 微信 / QQ / 企业微信 / kind must be wechat, qq or wecom: {kind_text!r}",
            field="kind",
        )
    owner, worker_id = columns.cell(cells, "owner") or None, None
    if owner is not None:
        try:
            e164 = normalise_phone(owner).e164
        except PhoneError as exc:
            raise ValidationFailed(str(exc), field="owner") from exc
        worker_id = session.scalar(select(Worker.id).where(Worker.phone == e164, Worker.active))
    return GroupIn(
        code=columns.cell(cells, "code"),
        name=columns.cell(cells, "name", folded=False),
        kind=kind,
        zone=columns.cell(cells, "zone"),
        owner_worker_id=worker_id,
        owner_phone=None if worker_id is not None else owner,
        member_count=columns.number(cells, "member_count"),
        webhook_key=columns.cell(cells, "webhook_key") or None,
    )


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
    columns = Columns(COLUMNS, REQUIRED, FIELD_COLUMN)

    def apply(cells: Cells) -> Done:
        body = _body(session, cells, columns)
        existing = session.scalar(select(Group).where(Group.code == body.code))
        if existing is None:
            create_group(session, body=body, actor=actor)
            return "created"
        changed = update_group(session, group=existing, body=body, actor=actor)
        return "updated" if changed else "unchanged"

    return import_rows(
        session, data=data, filename=filename, columns=columns, apply=apply, limits=limits
    )
