"""Registry files are bounded before they are parsed: zip bombs, row counts, upload size, and
a report that lists the first problems and counts them all."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from broadcaster.app import create_app
from broadcaster.auth.audit import Actor
from broadcaster.auth.models import AuditEvent, Role
from broadcaster.db.database import Database
from broadcaster.errors import ValidationFailed
from broadcaster.registry.importer import import_households
from broadcaster.registry.importer.reading import read_sheet
from broadcaster.registry.models import Household
from broadcaster.settings import ImportSettings, Settings
from tests.api_fixtures import auth
from tests.factories.import_files import csv_bytes, household_row, xlsx_bomb, xlsx_bytes
from tests.factories.registry import zone_tree

MIB = 1024 * 1024


def memory_kib(field: str) -> int:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


def untouched(db: Database) -> tuple[int, int]:
    with db.read() as session:
        households = session.scalar(select(func.count()).select_from(Household))
        imports = session.scalar(select(func.count()).where(AuditEvent.action == "registry.import"))
    return int(households or 0), int(imports or 0)


def parts_opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the zip members opened for reading (to be unpacked) from now on."""
    opened: list[str] = []
    real = zipfile.ZipFile.open

    def counted(archive: zipfile.ZipFile, name: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(getattr(name, "filename", name))
        return real(archive, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", counted)
    return opened


def test_a_zip_bomb_is_refused_unopened_without_the_memory_growing(
    client: TestClient,
    role_keys: dict[Role, str],
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bomb = xlsx_bomb(1100)  # 4 MB whose sheet XML unpacks to 1.15 GB
    assert len(bomb) < 5 * MIB
    with db.transaction() as session:
        zone_tree(session)
    opened = parts_opened(monkeypatch)
    before = memory_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) restarts from now
    answer = client.post(
        "/api/v1/registry/import",
        files={"file": ("户籍表.xlsx", bomb)},
        headers=auth(role_keys[Role.admin]),
    )
    grown_mib = (memory_kib("VmHWM") - before) / 1024
    print(f"zip bomb refused, peak RSS growth {grown_mib:.1f} MiB")
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "file"
    assert "zip bomb" in answer.json()["message"]
    assert "1100 MiB" in answer.json()["message"]
    # Refused from the zip directory alone: not one part was opened, so not a byte was
    # inflated and no XML parsed; the work is bounded by the upload's size, not the bomb's.
    assert opened == []
    assert grown_mib < 100
    assert untouched(db) == (0, 0)
    read_sheet(xlsx_bytes([household_row("HH1")]), "a.xlsx")
    assert "xl/worksheets/sheet1.xml" in opened  # what the count sees when a file is read


def test_a_small_part_compressed_far_too_well_is_refused_too(db: Database) -> None:
    with db.transaction() as session, pytest.raises(ValidationFailed) as refused:
        import_households(session, data=xlsx_bomb(2), filename="a.xlsx", actor=Actor("t"))
    assert "compressed" in refused.value.message
    assert "limit 200:1" in refused.value.message
    assert untouched(db) == (0, 0)


def test_more_rows_than_the_limit_are_refused_before_any_is_imported(db: Database) -> None:
    with db.transaction() as session:
        zone_tree(session)
    rows = [household_row(f"H{n}") for n in range(11)]
    for data, name in ((csv_bytes(rows), "a.csv"), (xlsx_bytes(rows), "a.xlsx")):
        with db.transaction() as session, pytest.raises(ValidationFailed) as refused:
            import_households(
                session,
                data=data,
                filename=name,
                actor=Actor("t"),
                limits=ImportSettings(max_rows=10),
            )
        assert "more than 10" in refused.value.message
        assert refused.value.detail["limit"] == 10
    assert untouched(db) == (0, 0)


def test_an_upload_over_the_size_limit_is_refused_unread(
    db: Database, role_keys: dict[Role, str], tmp_path: Path
) -> None:
    settings = Settings(
        env="test", data_dir=tmp_path / "var", imports=ImportSettings(max_upload_bytes=4096)
    )
    with db.transaction() as session:
        zone_tree(session)
    data = csv_bytes([household_row(f"H{n}") for n in range(200)])
    assert len(data) > 4096
    with TestClient(create_app(settings, db)) as client:
        for route in ("/api/v1/registry/import", "/api/v1/registry/groups/import"):
            answer = client.post(
                route, files={"file": ("a.csv", data)}, headers=auth(role_keys[Role.admin])
            )
            assert answer.status_code == 422, answer.text
            assert "file too large (limit 0.00390625 MiB)" in answer.json()["message"]
    assert untouched(db) == (0, 0)


def test_a_file_of_bad_rows_answers_the_first_problems_and_their_total(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    with db.transaction() as session:
        zone_tree(session)
    bad = [household_row(f"H{n}", phones="123", grid_code="NOPE") for n in range(3000)]
    answer = client.post(
        "/api/v1/registry/import",
        files={"file": ("a.csv", csv_bytes(bad))},
        headers=auth(role_keys[Role.admin]),
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["rejected"], report["problems_total"]) == (3000, 6000)  # two per row
    assert len(report["problems"]) == 1000  # the default limit
    assert report["problems"][0]["row"] == 2  # the first ones, in order
    assert len(answer.content) < 300_000
    assert untouched(db) == (0, 1)
