"""CAP geometry is bounded: too many vertices, shapes, areas or geocodes are a 422 given
before any coordinate is read (what it costs: `broadcaster bench inputs`)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from broadcaster.auth.models import Role
from broadcaster.bench.documents import ring, with_area
from broadcaster.db.database import Database
from broadcaster.feeds.cap import validate, validate_parts
from tests.integration.feeds_support import cap_document, counts, post_cap, region_registry


def calls_of(monkeypatch: pytest.MonkeyPatch, module: ModuleType, name: str) -> list[Any]:
    """The calls of `module.name` from now on (each call's arguments), passed through."""
    calls: list[Any] = []
    real = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


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
def test_too_much_geometry_is_refused_unread_naming_the_limit(
    client: TestClient,
    role_keys: dict[Role, str],
    db: Database,
    shapes: str,
    words: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    region_registry(db)
    before = counts(db)
    document = with_area(cap_document("GEO-1", geocodes=()), shapes)
    assert len(document) < 1024 * 1024  # under the size cap: only the geometry is too much
    validated = calls_of(monkeypatch, validate, "validate_alert")
    polygons = calls_of(monkeypatch, validate_parts, "parse_polygon")
    circles = calls_of(monkeypatch, validate_parts, "parse_circle")
    answer = post_cap(client, role_keys[Role.feed], document)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "alert/info/area"
    assert words in answer.json()["message"]
    # Refused from one walk over the parsed tree (at most the 1 MiB size cap): no coordinate
    # was read, nothing was validated, mapped or matched against households.
    assert (validated, polygons, circles) == ([], [], [])
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
    client: TestClient, role_keys: dict[Role, str], db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = region_registry(db)
    document = with_area(cap_document("GEO-4", geocodes=()), f"<polygon>{ring(2000)}</polygon>")
    polygons = calls_of(monkeypatch, validate_parts, "parse_polygon")
    answer = post_cap(client, role_keys[Role.feed], document)
    assert answer.status_code == 201, answer.text
    assert len(polygons) == 1  # the count above would see a polygon read
    assert answer.json()["alert"]["households_targeted"] == len(ids["nanan_in_polygon"])
