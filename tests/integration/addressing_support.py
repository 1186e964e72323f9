"""A village of every kind of household: mobiles, a landline only, no phone with proxy
contacts (a mobile and a landline), no phone and nobody, each vulnerable or not, two sharing
one mobile; a responsible worker and a village lead."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from broadcaster.db.database import Database
from broadcaster.registry.models import Household, PhoneKind, Proxy, WorkerRole, worker_zones
from tests.factories import registry as f

LANDLINE = "+862312345670"
PROXY_MOBILE = "+8617406000001"
PROXY_LANDLINE = "+862312345671"
SHARED = "+8617407009999"  # a son's mobile, registered in his parents' household and his own


@dataclass(frozen=True)
class Village:
    mobile: list[int]
    landline: int
    proxied: int
    alone: int
    worker_phone: str
    lead_phone: str
    shared: tuple[int, ...]


def phoneless(session: Session, grid_code: str, *, vulnerable: bool = False) -> Household:
    """A household registered without any phone (无电话)."""
    from broadcaster.registry.models import Zone

    grid = session.query(Zone).filter(Zone.code == grid_code).one()
    row = Household(
        code=f"NOPHONE-{grid_code}-{session.query(Household).count()}",
        head_name="独居老人",
        address="山边路1号",
        grid=grid,
        vulnerability=["elderly_alone"] if vulnerable else [],
        is_vulnerable=vulnerable,
    )
    session.add(row)
    session.flush()
    return row


def seed_village(db: Database, *, shared_phone: bool = False) -> Village:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        worker = f.worker(session, name="包保干部", role=WorkerRole.field)
        lead = f.worker(session, name="村支书", role=WorkerRole.lead)
        session.execute(worker_zones.insert().values(worker_id=worker.id, zone_id=zones["G1"].id))
        session.execute(worker_zones.insert().values(worker_id=lead.id, zone_id=zones["V1"].id))
        mobile = [
            f.household(session, grid=zones["G1"], phones=(f"+861740700{n:04d}",)).id
            for n in range(3)
        ]
        landline = f.household(session, grid=zones["G2"], phones=(LANDLINE,)).id
        proxied = phoneless(session, "G1", vulnerable=True)
        proxied.proxies = [
            Proxy(name="儿子", phone=PROXY_MOBILE, phone_kind=PhoneKind.mobile, relation="子女"),
            Proxy(
                name="邻居",
                phone=PROXY_LANDLINE,
                phone_kind=PhoneKind.landline,
                relation="邻居",
                position=1,
            ),
        ]
        alone = phoneless(session, "G2")
        pair = "ab" if shared_phone else ""  # two households listing one mobile
        shared = tuple(f.household(session, grid=zones["G1"], phones=(SHARED,)).id for _ in pair)
        for household_id in (*mobile, landline, proxied.id, alone.id, *shared):
            session.get_one(Household, household_id).worker_id = worker.id
        session.flush()
        return Village(mobile, landline, proxied.id, alone.id, worker.phone, lead.phone, shared)
