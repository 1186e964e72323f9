"""`broadcaster bench inputs`: what refusing hostile input costs, next to accepting valid input.

In-process against the real app (FastAPI TestClient, a fresh SQLite file in a temporary
directory, no Redis): the xlsx zip bomb and the CAP geometry bombs that the tests refuse
(broadcaster.bench.documents), and in the same run the baselines, a small valid registry
import and a small valid CAP document. Each case is posted `runs` times after one warm-up;
per case the median wall and CPU time of a request and the largest peak RSS growth (VmHWM
reset before each request) are reported, with the ratio of each refusal to its baseline.
"""

from __future__ import annotations

import logging
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table

from broadcaster.app import create_app
from broadcaster.auth import service as auth_service
from broadcaster.auth.audit import SYSTEM
from broadcaster.auth.models import Role
from broadcaster.bench import documents as d
from broadcaster.bench import machine as m
from broadcaster.db.database import Database
from broadcaster.db.migrate import upgrade
from broadcaster.registry.models import Zone, ZoneKind
from broadcaster.settings import Settings

IMPORT = "/api/v1/registry/import"
CAP = "/api/v1/feeds/cap"
BOMB_MIB = 1100  # what the zip bomb's sheet unpacks to
TARGETED_GRID, IMPORT_GRID = "YB-G1", "IM-G1"


@dataclass(frozen=True)
class Case:
    """One kind of request: where it goes, what it must answer, and its body for run n."""

    key: str
    label: str
    route: str
    status: int
    body: Callable[[int], bytes]
    baseline: str | None = None  # the case this one is compared with


def cases(households: int) -> list[Case]:
    bomb = d.xlsx_bomb(BOMB_MIB)  # built once: it takes a second

    def valid_import(n: int) -> bytes:
        rows = [
            d.household_row(f"BI{n:03d}{i:05d}", grid_code=IMPORT_GRID, phones=f"139{n:03d}{i:05d}")
            for i in range(households)
        ]
        return d.xlsx_bytes(rows)

    return [
        Case("import_valid", f"valid .xlsx, {households} households", IMPORT, 200, valid_import),
        Case(
            "zip_bomb",
            f".xlsx zip bomb ({BOMB_MIB} MiB unpacked)",
            IMPORT,
            422,
            lambda _n: bomb,
            "import_valid",
        ),
        Case("cap_valid", "valid CAP, one geocode", CAP, 201, lambda n: d.cap_document(f"BV-{n}")),
        Case(
            "cap_polygon",
            "CAP, 40,000-vertex polygon",
            CAP,
            422,
            lambda n: d.polygon_bomb(f"BP-{n}", 40_000),
            "cap_valid",
        ),
        Case(
            "cap_circles",
            "CAP, 8,000 circles",
            CAP,
            422,
            lambda n: d.circle_bomb(f"BC-{n}", 8000),
            "cap_valid",
        ),
    ]


def seed(db: Database, households: int) -> dict[Role, str]:
    """Zones (渝北区 500112 with a grid, which the valid CAP document targets, and a district
    without a region code for the import baseline) and one API key per role used."""
    with db.transaction() as session:
        for district, region, grid in (("YB", "500112", TARGETED_GRID), ("IM", None, IMPORT_GRID)):
            parent = Zone(code=district, name=district, kind=ZoneKind.district, region_code=region)
            session.add(parent)
            session.flush()
            parent.path = f"/{parent.id}/"
            child = Zone(code=grid, name=grid, kind=ZoneKind.grid, parent_id=parent.id)
            session.add(child)
            session.flush()
            child.path = f"{parent.path}{child.id}/"
        keys = {}
        for role in (Role.admin, Role.feed):
            user = auth_service.create_user(
                session, username=f"bench-{role.value}", role=role, actor=SYSTEM
            )
            _row, keys[role] = auth_service.create_api_key(session, user=user, actor=SYSTEM)
    return keys


def post(client: TestClient, case: Case, key: str, body: bytes) -> Any:
    headers = {"Authorization": f"Bearer {key}"}
    if case.route == IMPORT:
        return client.post(IMPORT, files={"file": ("户籍表.xlsx", body)}, headers=headers)
    return client.post(
        CAP, content=body, headers={**headers, "Content-Type": "application/cap+xml"}
    )


def measure(client: TestClient, case: Case, key: str, runs: int) -> dict[str, Any]:
    """Median wall and CPU milliseconds over `runs` requests (after a warm-up) and the
    largest peak RSS growth of one request."""
    pid = os.getpid()
    wall, cpu, grown = [], [], []
    size = 0
    for n in range(runs + 1):
        body = case.body(n)  # built before the clock starts
        size = len(body)
        before = m.rss_mib(pid) or 0.0
        m.reset_peak_rss()
        started, spent = time.perf_counter(), time.process_time()
        answer = post(client, case, key, body)
        wall_ms = (time.perf_counter() - started) * 1000
        cpu_ms = (time.process_time() - spent) * 1000
        if answer.status_code != case.status:
            raise RuntimeError(f"{case.key}: {answer.status_code} {answer.text[:300]}")
        if n:  # the first request is a warm-up
            wall.append(wall_ms)
            cpu.append(cpu_ms)
            grown.append((m.peak_rss_mib(pid) or 0.0) - before)
    return {
        "ms": round(statistics.median(wall), 2),
        "cpu_ms": round(statistics.median(cpu), 2),
        "rss_growth_mib": round(max(grown), 1),
        "upload_kib": round(size / 1024, 1),
        "status": case.status,
    }


def run_inputs(runs: int, households: int, say: Callable[[str], None]) -> dict[str, Any]:
    """Every case against one app on one fresh database; figures flat, for the JSON line."""
    # No Redis here by design: the valid CAP documents' alerts are planned, never sent.
    logging.getLogger("broadcaster.delivery.dispatch").setLevel(logging.ERROR)
    directory = Path(tempfile.mkdtemp(prefix="bb-inputs-"))
    try:
        url = f"sqlite:///{directory / 'inputs.db'}"
        db = Database(url)
        upgrade(db.engine)
        keys = seed(db, households)
        settings = Settings(
            env="test",
            database_url=url,
            data_dir=directory / "var",
            public_base_url="http://testserver",
        )
        chosen = cases(households)
        load = m.load_average()
        with TestClient(create_app(settings, db)) as client:
            # the households the valid CAP document reaches, imported once through the API
            rows = [
                d.household_row(f"YB{i:05d}", grid_code=TARGETED_GRID) for i in range(households)
            ]
            answer = post(client, chosen[0], keys[Role.admin], d.xlsx_bytes(rows))
            if answer.status_code != 200:
                raise RuntimeError(f"seeding the district: {answer.status_code} {answer.text}")
            figures: dict[str, Any] = {}
            for case in chosen:
                say(f"{case.label}: {runs} requests after a warm-up")
                key = keys[Role.admin if case.route == IMPORT else Role.feed]
                for name, value in measure(client, case, key, runs).items():
                    figures[f"{case.key}_{name}"] = value
        db.dispose()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    for case in chosen:
        if case.baseline:
            for unit in ("ms", "cpu_ms"):
                base = figures[f"{case.baseline}_{unit}"]
                ratio = figures[f"{case.key}_{unit}"] / base if base else None
                figures[f"{case.key}_over_baseline_{unit}"] = round(ratio, 3) if ratio else None
    figures.update(requests=runs, households=households, load_average_before=load)
    figures["cases"] = {case.key: case.label for case in chosen}
    figures["baselines"] = {case.key: case.baseline for case in chosen if case.baseline}
    return figures


def print_table(figures: dict[str, Any], machine: dict[str, Any]) -> None:
    """One row per case: what it answered, its size, time, CPU and memory, × its baseline."""
    title = (
        f"bench inputs · median of {figures['requests']} requests each · "
        f"{machine.get('cores')} cores · load {figures['load_average_before']} · "
        f"{machine.get('commit')}"
    )
    out = Table(title=title, title_justify="left")
    for column in ("case", "answer", "upload KiB", "wall ms", "CPU ms", "peak RSS +MiB"):
        out.add_column(column, justify="left" if column == "case" else "right")
    out.add_column("× baseline (wall / CPU)", justify="right")
    for key, label in figures["cases"].items():
        ratio = ""
        if key in figures["baselines"]:
            ratio = (
                f"{figures[f'{key}_over_baseline_ms']:.2f} / "
                f"{figures[f'{key}_over_baseline_cpu_ms']:.2f}"
            )
        out.add_row(
            label,
            str(figures[f"{key}_status"]),
            f"{figures[f'{key}_upload_kib']:,.1f}",
            f"{figures[f'{key}_ms']:,.1f}",
            f"{figures[f'{key}_cpu_ms']:,.1f}",
            f"{figures[f'{key}_rss_growth_mib']:,.1f}",
            ratio,
        )
    console = Console()
    if not console.is_terminal:
        console.width = 140
    console.print(out)
