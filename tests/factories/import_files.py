"""Factories for import tests: groups, workers, and registry files as CSV or xlsx bytes."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from openpyxl import Workbook
from sqlalchemy.orm import Session

from broadcaster.registry.models import Group, GroupKind, Worker, WorkerRole, Zone

HEADER = (
    "户编号 household_code",
    "户主姓名 head_name",
    "地址 address",
    "所属网格 grid_code",
    "风险区 hazard_zones",
    "联系电话 phones",
    "重点人群 vulnerability",
    "包保责任人 worker_name",
    "包保责任人电话 worker_phone",
    "经度 lon",
    "纬度 lat",
    "微信群 group_code",
)

Cell = str | int | float | None


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


def household_row(code: Cell, **overrides: Cell) -> list[Cell]:
    """One data row in HEADER order; override cells by canonical key."""
    values: dict[str, Cell] = {
        "household_code": code,
        "head_name": "王大爷",
        "address": "一村3组12号",
        "grid_code": "G1",
        "hazard_zones": "",
        "phones": "13800138000",
        "vulnerability": "",
        "worker_name": "",
        "worker_phone": "",
        "lon": "",
        "lat": "",
        "group_code": "",
    }
    for key, value in overrides.items():
        assert key in values, key
        values[key] = value
    return list(values.values())


def csv_bytes(
    rows: Sequence[Sequence[Cell]], *, header: Sequence[str] = HEADER, encoding: str = "utf-8"
) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(["" if cell is None else cell for cell in row] for row in rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(
    rows: Sequence[Sequence[Cell]], *, header: Sequence[str] = HEADER, title_row: str | None = None
) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    if title_row:
        sheet.append([title_row])
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


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


def xlsx_bomb(unpacked_mib: int = 1100) -> bytes:
    """A genuine zip bomb: a small valid .xlsx whose sheet XML unpacks to `unpacked_mib` MiB
    of rows (written as one deflate stream repeating a fully flushed block, so it takes a
    second to build, not minutes; the CRC is the real one)."""
    import struct
    import zipfile
    import zlib

    with zipfile.ZipFile(io.BytesIO(xlsx_bytes([household_row("HH1")]))) as template:
        parts = {i.filename: template.read(i) for i in template.infolist()}
    sheet = "xl/worksheets/sheet1.xml"
    head = parts[sheet].split(b"<sheetData>")[0] + b"<sheetData>"
    tail = b"</sheetData></worksheet>"
    row = b'<row r="9"><c r="A9" t="inlineStr"><is><t>HH0000009</t></is></c></row>'
    chunk = row * (1024 * 1024 // len(row))
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = [packer.compress(head) + packer.flush(zlib.Z_FULL_FLUSH)]
    block = packer.compress(chunk) + packer.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(head)
    for _ in range(unpacked_mib):
        crc = zlib.crc32(chunk, crc)
    packed += [block] * unpacked_mib + [packer.compress(tail) + packer.flush()]
    members = []
    for name, data in parts.items():
        if name == sheet:
            size = len(head) + len(chunk) * unpacked_mib + len(tail)
            members.append((name, b"".join(packed), zlib.crc32(tail, crc), size))
        else:
            raw = zlib.compressobj(6, zlib.DEFLATED, -15)
            members.append((name, raw.compress(data) + raw.flush(), zlib.crc32(data), len(data)))
    out, directory = io.BytesIO(), io.BytesIO()
    for name, data, crc32, size in members:
        offset, encoded = out.tell(), name.encode()
        fields = (20, 0, 8, 0, 33, crc32, len(data), size, len(encoded), 0)
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields) + encoded + data)
        entry = (20, *fields, 0, 0, 0, 0, offset)
        directory.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, *entry[1:]) + encoded)
    start, listing = out.tell(), directory.getvalue()
    out.write(listing)
    end = (0, 0, len(members), len(members), len(listing), start, 0)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, *end))
    return out.getvalue()
