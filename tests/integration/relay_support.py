"""Shared seed for the relay tests: a village with two WeChat groups and one QQ group."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from broadcaster.db.database import Database
from broadcaster.registry.models import Group, GroupKind, WorkerRole, ZoneKind
from broadcaster.relay.models import RelayTask
from broadcaster.relay.tokens import PHONE_HOLDER, make_relay_token
from broadcaster.settings import Settings
from tests.factories import registry as f

QQ_OWNER_PHONE = "+8617400009001"  # the QQ group's owner is no worker, just a mobile


@dataclass(frozen=True)
class Village:
    """Ids of what the relay tests look at."""

    lead_id: int
    lead_phone: str
    owner_phones: dict[str, str]  # group code → owner's phone
    holders: dict[str, int]  # group code → holder id in the owner's link
    members: dict[str, int]  # group code → member count
    other_village_group: str


def seed_village(db: Database, households: int = 6) -> Village:
    """V1 (grids G1, G2) with a lead, two WeChat groups owned by workers, a QQ group owned
    by a bare phone and a WeCom group (robot, not relayed); V2 has a WeChat group of its own
    that an alert to V1 must not touch."""
    with db.transaction() as session:
        zones = f.zone_tree(session)
        v2 = f.zone(session, code="V2", kind=ZoneKind.village, parent=zones["T1"], name="二村")
        f.zone(session, code="V2G1", kind=ZoneKind.grid, parent=v2, name="二村一网格")
        lead = f.worker(session, name="李组长", role=WorkerRole.lead)
        lead.zones.append(zones["V1"])
        wang = f.worker(session, name="王网格", role=WorkerRole.field)
        zhao = f.worker(session, name="赵喇叭", role=WorkerRole.operator)
        for n in range(households):
            f.household(session, grid=zones["G1"] if n % 2 else zones["G2"])
        rows = [
            Group(code="WC1", name="一村居民群", kind=GroupKind.wechat, zone_id=zones["V1"].id,
                  owner_worker_id=wang.id, member_count=120),
            Group(code="WC2", name="一村一网格群", kind=GroupKind.wechat, zone_id=zones["G1"].id,
                  owner_worker_id=zhao.id, member_count=80),
            Group(code="QQ1", name="一村防汛QQ群", kind=GroupKind.qq, zone_id=zones["V1"].id,
                  owner_phone=QQ_OWNER_PHONE, member_count=40),
            Group(code="WC9", name="二村居民群", kind=GroupKind.wechat, zone_id=v2.id,
                  owner_worker_id=wang.id, member_count=60),
        ]  # fmt: skip
        session.add_all(rows)
        f.wecom_group(session, zone=zones["V1"], key="robot-key-0123456789")
        session.flush()
        return Village(
            lead_id=lead.id,
            lead_phone=lead.phone,
            owner_phones={"WC1": wang.phone, "WC2": zhao.phone, "QQ1": QQ_OWNER_PHONE},
            holders={"WC1": wang.id, "WC2": zhao.id, "QQ1": PHONE_HOLDER},
            members={"WC1": 120, "WC2": 80, "QQ1": 40},
            other_village_group="WC9",
        )


def tasks_by_group(db: Database, alert_id: int) -> dict[str, RelayTask]:
    with db.read() as session:
        rows = session.execute(
            select(Group.code, RelayTask)
            .join(RelayTask, RelayTask.group_id == Group.id)
            .where(RelayTask.alert_id == alert_id)
        ).all()
        session.expunge_all()
    return dict(rows)


def link_path(settings: Settings, task_id: int, holder: int) -> str:
    secret = settings.secret_key.get_secret_value().encode()
    return f"/relay/{make_relay_token(secret, task_id, holder)}"
