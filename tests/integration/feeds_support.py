"""Shared by the feed tests (no tests here): CAP documents, a region-coded registry, counts."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Recipient
from broadcaster.bench.documents import cap_document as cap_document
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, LoudspeakerTask
from broadcaster.feeds.models import AlertMessage, StationState
from broadcaster.registry.models import Household, Zone, ZoneKind
from broadcaster.settings import PACKAGE_CONFIG_DIR
from tests.api_fixtures import auth
from tests.factories import registry as f

FIXTURES = Path(__file__).parent.parent / "fixtures" / "cap"
CAP = "application/cap+xml"
TABLES: dict[str, Any] = {
    "alerts": Alert,
    "recipients": Recipient,
    "deliveries": Delivery,
    "messages": AlertMessage,
    "speaker_tasks": LoudspeakerTask,
    "stations": StationState,
}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def current(document: bytes) -> bytes:
    """The 2020 rainstorm fixture as if issued today: its expiry moved into the future."""
    assert b"<expires>2020-06-15T10:44:13+08:00</expires>" in document
    return document.replace(b"2020-06-15T10:44:13+08:00", b"2099-06-15T10:44:13+08:00")


def counts(db: Database) -> dict[str, int]:
    with db.read() as session:
        return {
            name: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in TABLES.items()
        }


def post_cap(client: TestClient, key: str, document: bytes | str, media: str = CAP) -> Any:
    data = document.encode() if isinstance(document, str) else document
    return client.post(
        "/api/v1/feeds/cap", content=data, headers={**auth(key), "Content-Type": media}
    )


def config_copy(tmp_path: Path, *, policies: str | None = None, rules: str | None = None) -> Path:
    """The repository's config/ in a temporary folder, with policies/rules replaced if given."""
    target = tmp_path / "config"
    shutil.copytree(PACKAGE_CONFIG_DIR, target)
    if policies is not None:
        (target / "policies.toml").write_text(policies, encoding="utf-8")
    if rules is not None:
        (target / "rules.toml").write_text(rules, encoding="utf-8")
    return target


def region_zone(
    session: Session, code: str, kind: ZoneKind, region: str | None, parent: Zone | None = None
) -> Zone:
    zone = f.zone(session, code=code, kind=kind, parent=parent, name=f"{code}区")
    zone.region_code = region
    return zone


def located(session: Session, grid: Zone, lat: float | None, lon: float | None) -> Household:
    household = f.household(session, grid=grid)
    household.lat, household.lon = lat, lon
    return household


def region_registry(db: Database) -> dict[str, list[int]]:
    """渝北区 500112 (a township and two villages under it), 江北区 500105, 南岸区 500108.

    Returns household ids by where they are: yubei, jiangbei, nanan_in_polygon, nanan_out.
    """
    with db.transaction() as session:
        yubei = region_zone(session, "YB", ZoneKind.district, "500112")
        town = region_zone(session, "YB-T1", ZoneKind.township, "500112001", yubei)
        village = region_zone(session, "YB-T1-V1", ZoneKind.village, "500112001001", town)
        grid_a = region_zone(session, "YB-G1", ZoneKind.grid, None, village)
        grid_b = region_zone(session, "YB-G2", ZoneKind.grid, None, village)
        jiangbei = region_zone(session, "JB", ZoneKind.district, "500105")
        grid_j = region_zone(session, "JB-G1", ZoneKind.grid, None, jiangbei)
        nanan = region_zone(session, "NA", ZoneKind.district, "500108")
        grid_n = region_zone(session, "NA-G1", ZoneKind.grid, None, nanan)
        ids = {
            "yubei": [
                located(session, grid_a, None, None).id,
                located(session, grid_a, 29.72, 106.63).id,
                located(session, grid_b, None, None).id,
            ],
            "jiangbei": [located(session, grid_j, None, None).id for _ in range(2)],
            # the rainstorm fixture's polygon is 29.70-29.80 N, 106.75-106.90 E
            "nanan_in_polygon": [located(session, grid_n, 29.76, 106.80).id],
            "nanan_out": [located(session, grid_n, 29.60, 106.55).id],
        }
    return ids


def recipients_of(db: Database, alert_id: int) -> set[int]:
    with db.read() as session:
        return set(
            session.scalars(select(Recipient.household_id).where(Recipient.alert_id == alert_id))
        )


def deliveries_of(db: Database, alert_id: int) -> list[Delivery]:
    with db.read() as session:
        return list(
            session.scalars(
                select(Delivery).where(Delivery.alert_id == alert_id).order_by(Delivery.id)
            )
        )
