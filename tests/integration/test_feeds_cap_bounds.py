"""CAP geometry is bounded: too many vertices, shapes, areas or geocodes are a quick 422."""

from __future__ import annotations

import math
import time

import pytest
from fastapi.testclient import TestClient

from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from tests.integration.feeds_support import cap_document, counts, post_cap, region_registry


def ring(points: int, lat: float = 29.75, lon: float = 106.82, radius: float = 0.04) -> str:
    """A closed polygon of `points` coordinate pairs around the rainstorm fixture's area."""
    pairs = [
        f"{lat + radius * math.sin(2 * math.pi * n / (points - 1)):.6f},"
        f"{lon + radius * math.cos(2 * math.pi * n / (points - 1)):.6f}"
        for n in range(points - 1)
    ]
    return " ".join([*pairs, pairs[0]])


def with_area(document: bytes, shapes: str) -> bytes:
    return document.replace(b"<areaDesc>", shapes.encode() + b"<areaDesc>", 1)


@pytest.mark.parametrize(
    ("shapes", "words"),
    [
        (f"<polygon>{ring(40_000)}</polygon>", "too many polygon vertices: 40000, limit 2000"),
        (
            f"<polygon>{ring(1500)}</polygon><polygon>{ring(1500)}</polygon>",
            "too many polygon vertices: 3000, limit 2000",
        ),
        (
            "<circle>29.75,106.82 1</circle>" * 8000,
            "too many polygons and circles: 8000, limit 100",
        ),
    ],
)
def test_too_much_geometry_is_refused_quickly_naming_the_limit(
    client: TestClient, role_keys: dict[Role, str], db: Database, shapes: str, words: str
) -> None:
    region_registry(db)
    before = counts(db)
    document = with_area(cap_document("GEO-1", geocodes=()), shapes)
    assert len(document) < 1024 * 1024  # under the size cap: only the geometry is too much
    started = time.perf_counter()
    answer = post_cap(client, role_keys[Role.feed], document)
    seconds = time.perf_counter() - started
    print(f"{words.split(':')[0]} refused in {seconds:.3f} s")
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "alert/info/area"
    assert words in answer.json()["message"]
    assert seconds < 1
    assert counts(db) == before


def test_too_many_areas_or_geocodes_are_refused(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    region_registry(db)
    geocodes = cap_document("GEO-2", geocodes=tuple(f"{500000 + n}" for n in range(1001)))
    answer = post_cap(client, role_keys[Role.feed], geocodes)
    assert answer.status_code == 422
    assert "too many geocodes: 1001, limit 1000" in answer.json()["message"]
    area = "<area><areaDesc>一处</areaDesc></area>"
    areas = cap_document("GEO-3").replace(b"</info>", (area * 100).encode() + b"</info>")
    answer = post_cap(client, role_keys[Role.feed], areas)
    assert answer.status_code == 422
    assert "too many areas: 101, limit 100" in answer.json()["message"]
    assert counts(db)["alerts"] == 0


def test_geometry_within_the_limits_is_mapped_as_before(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    ids = region_registry(db)
    document = with_area(cap_document("GEO-4", geocodes=()), f"<polygon>{ring(2000)}</polygon>")
    answer = post_cap(client, role_keys[Role.feed], document)
    assert answer.status_code == 201, answer.text
    assert answer.json()["alert"]["households_targeted"] == len(ids["nanan_in_polygon"])
