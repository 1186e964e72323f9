"""Factories for import tests: groups, workers, and registry files as CSV or xlsx bytes (the
file builders live in broadcaster.bench.documents, shared with `bench inputs`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from broadcaster.bench.documents import (
    HEADER,
    Cell,
    csv_bytes,
    household_row,
    xlsx_bomb,
    xlsx_bytes,
)
from broadcaster.registry.models import Group, GroupKind, Worker, WorkerRole, Zone

__all__ = [
    "HEADER",
    "Cell",
    "big_registry_csv",
    "csv_bytes",
    "group",
    "household_row",
    "registry_setup",
    "worker",
    "xlsx_bomb",
    "xlsx_bytes",
]


def group(session: Session, *, code: str = "WX01", zone: Zone | None = None) -> Group:
    row = Group(
        code=code, name=f"{code}群", kind=GroupKind.wechat, zone_id=zone.id if zone else None
    )
    session.add(row)
    session.flush()
    return row


def worker(
    session: Session, *, name: str, phone: str, role: WorkerRole = WorkerRole.field
) -> Worker:
    row = Worker(name=name, phone=phone, role=role)
    session.add(row)
    session.flush()
    return row


def registry_setup(
    session: Session, *, grids: int = 200, hazards: int = 20, groups: int = 50
) -> None:
    """Zones and groups for a large synthetic registry: grids BG0000…, hazards BH00…."""
    from broadcaster.registry.models import HazardType, ZoneKind
    from tests.factories.registry import zone

    district = zone(session, code="BD", kind=ZoneKind.district)
    for n in range(grids):
        zone(session, code=f"BG{n:04d}", kind=ZoneKind.grid, parent=district)
    for n in range(hazards):
        zone(session, code=f"BH{n:02d}", kind=ZoneKind.hazard, hazard_type=HazardType.flash_flood)
    for n in range(groups):
        group(session, code=f"BW{n:02d}")


def big_registry_csv(
    rows: int,
    *,
    grids: int = 200,
    hazards: int = 20,
    groups: int = 50,
    workers: int = 500,
    variant: int = 0,
) -> bytes:
    """A synthetic registry of `rows` households (1-3 phones, some flags, workers, places).

    `variant` changes the address of every tenth household, to time an update run.
    """
    flags = ("", "", "", "独居老人", "残疾", "卧床、孕妇", "留守儿童", "地下室")
    out = []
    for n in range(rows):
        phones = [f"13{n % 10}{n:08d}"]
        if n % 3 == 0:
            phones.append(f"023-6{n % 10}{n % 1000000:06d}")
        if n % 7 == 0:
            phones.append(f"18{(n * 7) % 10}{n:08d}")
        address = f"测试路{n}号" + (f"-{variant}" if variant and n % 10 == 0 else "")
        w = n % workers
        out.append(
            [
                f"HH{n:07d}",
                f"户主{n}",
                address,
                f"BG{n % grids:04d}",
                f"BH{n % hazards:02d}" if n % 4 == 0 else "",
                "；".join(phones),
                flags[n % len(flags)],
                f"网格员{w}",
                f"1770000{w:04d}",
                f"{106 + (n % 1000) / 1000:.4f}",
                f"{29 + (n % 997) / 1000:.4f}",
                f"BW{n % groups:02d}" if n % 5 == 0 else "",
            ]
        )
    return csv_bytes(out)
