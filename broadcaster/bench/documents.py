"""Input files for benchmarks and tests: registry sheets, an xlsx zip bomb, CAP 1.2 documents."""

# Shared by `bench inputs` and the tests of the same limits (tests/integration/
# test_import_limits.py, test_feeds_cap_bounds.py), so that both measure the same inputs.

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import struct
import zipfile
import zlib
from collections.abc import Sequence

from openpyxl import Workbook

from broadcaster.db.base import utcnow

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
BEIJING = dt.timezone(dt.timedelta(hours=8))

Cell = str | int | float | None


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
        if key not in values:
            raise KeyError(key)
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
    if sheet is None:
        raise RuntimeError("openpyxl made a workbook without a sheet")
    if title_row:
        sheet.append([title_row])
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsx_bomb(unpacked_mib: int = 1100) -> bytes:
    """A genuine zip bomb: a small valid .xlsx whose sheet XML unpacks to `unpacked_mib` MiB
    of rows (written as one deflate stream repeating a fully flushed block, so it takes a
    second to build, not minutes; the CRC is the real one)."""
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


def cap_document(
    identifier: str,
    *,
    sender: str = "cma@example.cn",
    status: str = "Actual",
    msg_type: str = "Alert",
    references: str = "",
    event: str = "暴雨黄色预警",
    headline: str = "发布暴雨黄色预警信号",
    description: str = "预计未来6小时降雨量将达50毫米以上。",
    severity: str = "Moderate",
    geocodes: tuple[str, ...] = ("500112",),
    polygon: str | None = None,
    sent: str | None = None,
) -> bytes:
    """A small valid CAP 1.2 document in Chinese with GB/T 2260 geocodes, sent now."""
    sent = sent or utcnow().astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M:%S+08:00")
    refs = f"<references>{references}</references>" if references else ""
    shape = f"<polygon>{polygon}</polygon>" if polygon else ""
    codes = "".join(
        f"<geocode><valueName>GB/T 2260</valueName><value>{code}</value></geocode>"
        for code in geocodes
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier><sender>{sender}</sender><sent>{sent}</sent>
  <status>{status}</status><msgType>{msg_type}</msgType><scope>Public</scope>{refs}
  <info>
    <language>zh-CN</language><category>Met</category><event>{event}</event>
    <urgency>Expected</urgency><severity>{severity}</severity><certainty>Likely</certainty>
    <headline>{headline}</headline><description>{description}</description>
    <instruction>注意防范。</instruction>
    <area><areaDesc>测试区域</areaDesc>{shape}{codes}</area>
  </info>
</alert>""".encode()


def ring(points: int, lat: float = 29.75, lon: float = 106.82, radius: float = 0.04) -> str:
    """A closed CAP polygon of `points` coordinate pairs (around 南岸区 by default)."""
    pairs = [
        f"{lat + radius * math.sin(2 * math.pi * n / (points - 1)):.6f},"
        f"{lon + radius * math.cos(2 * math.pi * n / (points - 1)):.6f}"
        for n in range(points - 1)
    ]
    return " ".join([*pairs, pairs[0]])


def with_area(document: bytes, shapes: str) -> bytes:
    """The document with `shapes` (CAP polygon/circle elements) added to its first area."""
    return document.replace(b"<areaDesc>", shapes.encode() + b"<areaDesc>", 1)


def polygon_bomb(identifier: str, vertices: int = 40_000) -> bytes:
    """A CAP document whose one polygon has far more vertices than the limit (2,000)."""
    return with_area(cap_document(identifier, geocodes=()), f"<polygon>{ring(vertices)}</polygon>")


def circle_bomb(identifier: str, circles: int = 8000) -> bytes:
    """A CAP document with far more circles than the limit of shapes (100)."""
    return with_area(
        cap_document(identifier, geocodes=()), "<circle>29.75,106.82 1</circle>" * circles
    )
