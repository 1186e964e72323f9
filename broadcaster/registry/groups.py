"""Registering WeChat, QQ and WeCom groups: validated, every problem names its field."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.auth.audit import Actor, record
from broadcaster.errors import ValidationFailed
from broadcaster.registry.importer.values import PhoneError, normalise_phone
from broadcaster.registry.models import Group, GroupKind, PhoneKind, Worker, Zone
from broadcaster.registry.schemas import GroupIn
from broadcaster.registry.service import zone_by_code


def _checked(session: Session, body: GroupIn) -> tuple[Zone, str | None]:
    """The group's zone and normalised owner phone; every problem names its field."""
    zone = zone_by_code(session, body.zone)
    owner_phone = None
    if body.owner_worker_id is not None:
        worker = session.get(Worker, body.owner_worker_id)
        if worker is None or not worker.active:
            raise ValidationFailed(
                f"未知群主 / unknown owner worker {body.owner_worker_id}", field="owner_worker_id"
            )
    if body.owner_phone:
        try:
            phone = normalise_phone(body.owner_phone)
        except PhoneError as exc:
            raise ValidationFailed(str(exc), field="owner_phone") from exc
        if phone.kind is not PhoneKind.mobile:
            raise ValidationFailed(
                "群主号码须为手机 / owner phone must be a mobile", field="owner_phone"
            )
        owner_phone = phone.e164
    if body.kind is GroupKind.wecom and not body.webhook_key:
        raise ValidationFailed(
            "企业微信群需要机器人密钥 / a WeCom group needs its robot key", field="webhook_key"
        )
    if body.kind is not GroupKind.wecom and body.owner_worker_id is None and owner_phone is None:
        raise ValidationFailed(
            "微信/QQ群需要群主（工作人员或手机号）/ a WeChat or QQ group needs an owner "
            "(owner_worker_id or owner_phone)",
            field="owner_phone",
        )
    return zone, owner_phone


def _values(body: GroupIn, zone: Zone, owner_phone: str | None) -> dict[str, object]:
    return {
        "name": body.name,
        "kind": body.kind,
        "zone_id": zone.id,
        "owner_worker_id": body.owner_worker_id,
        "owner_phone": owner_phone,
        "member_count": body.member_count,
        "webhook_key": body.webhook_key,
    }


def create_group(session: Session, *, body: GroupIn, actor: Actor) -> Group:
    """Register one group; every problem names its field and nothing is written."""
    if session.scalar(select(Group.id).where(Group.code == body.code)) is not None:
        raise ValidationFailed(f"群编号已存在 / group code exists: {body.code}", field="code")
    zone, owner_phone = _checked(session, body)
    group = Group(code=body.code, **_values(body, zone, owner_phone))
    session.add(group)
    session.flush()
    record(
        session,
        actor=actor,
        action="group.create",
        object_type="group",
        object_id=group.id,
        code=group.code,
        kind=group.kind.value,
        zone=zone.code,
    )
    return group


def update_group(session: Session, *, group: Group, body: GroupIn, actor: Actor) -> bool:
    """Bring a registered group in line with `body`; False when nothing differed."""
    zone, owner_phone = _checked(session, body)
    changed = {
        key: value
        for key, value in _values(body, zone, owner_phone).items()
        if getattr(group, key) != value
    }
    if not changed:
        return False
    for key, value in changed.items():
        setattr(group, key, value)
    session.flush()
    record(
        session,
        actor=actor,
        action="group.update",
        object_type="group",
        object_id=group.id,
        code=group.code,
        fields=sorted(changed),
    )
    return True
