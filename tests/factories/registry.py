"""Factories for registry rows: a small zone tree, households and people."""

from __future__ import annotations

from itertools import count

from sqlalchemy.orm import Session

from broadcaster.registry.models import (
    Group,
    GroupKind,
    HazardType,
    Household,
    Loudspeaker,
    Person,
    PhoneKind,
    Proxy,
    Shelter,
    Worker,
    WorkerRole,
    Zone,
    ZoneKind,
)

_seq = count(1)


def zone(
    session: Session,
    *,
    code: str,
    kind: ZoneKind,
    parent: Zone | None = None,
    name: str | None = None,
    hazard_type: HazardType | None = None,
    risk: int = 0,
) -> Zone:
    """A zone placed under its parent, with its materialised path set."""
    row = Zone(
        code=code, name=name or code, kind=kind, parent=parent, hazard_type=hazard_type, risk=risk
    )
    session.add(row)
    session.flush()
    row.path = (parent.path if parent else "/") + f"{row.id}/"
    session.flush()
    return row


def zone_tree(session: Session) -> dict[str, Zone]:
    """district D → township T1 → village V1 → grids G1, G2; plus hazard zone H1."""
    d = zone(session, code="D", kind=ZoneKind.district, name="测试区")
    t1 = zone(session, code="T1", kind=ZoneKind.township, parent=d, name="一镇")
    v1 = zone(session, code="V1", kind=ZoneKind.village, parent=t1, name="一村")
    g1 = zone(session, code="G1", kind=ZoneKind.grid, parent=v1, name="一村一网格")
    g2 = zone(session, code="G2", kind=ZoneKind.grid, parent=v1, name="一村二网格")
    h1 = zone(
        session,
        code="H1",
        kind=ZoneKind.hazard,
        hazard_type=HazardType.flash_flood,
        name="山洪危险区",
        risk=3,
    )
    return {"D": d, "T1": t1, "V1": v1, "G1": g1, "G2": g2, "H1": h1}


def worker(
    session: Session, *, name: str = "张网格", role: WorkerRole = WorkerRole.field
) -> Worker:
    row = Worker(name=name, phone=f"+861740000{next(_seq):04d}", role=role)
    session.add(row)
    session.flush()
    return row


def household(
    session: Session,
    *,
    grid: Zone,
    code: str | None = None,
    phones: tuple[str, ...] = (),
    vulnerability: tuple[str, ...] = (),
    hazard_zones: tuple[Zone, ...] = (),
    group: Group | None = None,
) -> Household:
    """A household in a grid, with one person per phone (default: one fresh mobile)."""
    n = next(_seq)
    row = Household(
        code=code or f"HH{n:06d}",
        head_name=f"户主{n}",
        address=f"测试路{n}号",
        grid=grid,
        vulnerability=list(vulnerability),
        is_vulnerable=bool(vulnerability),
        hazard_zones=list(hazard_zones),
        group_id=group.id if group else None,
    )
    session.add(row)
    session.flush()
    for position, phone in enumerate(phones or (f"+86174{n:08d}",)):
        session.add(
            Person(
                household_id=row.id,
                position=position,
                phone=phone,
                phone_kind=PhoneKind.mobile if phone.startswith("+861") else PhoneKind.landline,
                name=row.head_name if position == 0 else None,
            )
        )
    session.flush()
    return row


def phoneless_household(
    session: Session, *, grid: Zone, code: str | None = None, vulnerability: tuple[str, ...] = ()
) -> Household:
    """A household whose only member has no phone (无电话)."""
    row = household(session, grid=grid, code=code, vulnerability=vulnerability)
    for person in row.people:
        person.phone, person.phone_kind = None, None
    session.flush()
    return row


def proxy(
    session: Session,
    *,
    household: Household,
    phone: str,
    may_confirm: bool = True,
    name: str = "李代联",
    relation: str = "子女",
) -> Proxy:
    """A proxy contact (代联系人) of a household."""
    row = Proxy(
        household_id=household.id,
        position=len(household.proxies),
        name=name,
        phone=phone,
        phone_kind=PhoneKind.mobile if phone.startswith("+861") else PhoneKind.landline,
        relation=relation,
        may_confirm=may_confirm,
    )
    session.add(row)
    session.flush()
    session.refresh(household)
    return row


def wecom_group(session: Session, *, zone: Zone, key: str, name: str = "一村防汛群") -> Group:
    """A WeCom group of a zone with its robot key."""
    row = Group(
        code=f"WX{next(_seq):04d}",
        name=name,
        kind=GroupKind.wecom,
        zone_id=zone.id,
        webhook_key=key,
        member_count=50,
    )
    session.add(row)
    session.flush()
    return row


def loudspeaker(session: Session, *, zone: Zone, operator: Worker | None = None) -> Loudspeaker:
    """A village loudspeaker, optionally with its operator."""
    row = Loudspeaker(
        code=f"LS{next(_seq):04d}",
        name="一村1号喇叭",
        zone_id=zone.id,
        operator_worker_id=operator.id if operator else None,
    )
    session.add(row)
    session.flush()
    return row


def shelter(session: Session, *, zone: Zone, name: str, capacity: int) -> Shelter:
    """A shelter (安置点) in a zone."""
    row = Shelter(code=f"AZ{next(_seq):04d}", name=name, zone_id=zone.id, capacity=capacity)
    session.add(row)
    session.flush()
    return row
