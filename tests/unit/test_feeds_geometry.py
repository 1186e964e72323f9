"""Point-in-polygon and point-in-circle on lat/lon, and GB/T 2260 code prefixes."""

from __future__ import annotations

import pytest

from broadcaster.feeds.areas import region_prefix
from broadcaster.feeds.geometry import (
    circle_box,
    distance_km,
    geojson_rings,
    in_circle,
    in_polygon,
    polygon_box,
)

SQUARE = [(29.70, 106.75), (29.70, 106.90), (29.80, 106.90), (29.80, 106.75), (29.70, 106.75)]
# A "U" open to the north: the notch between the arms is outside.
U_SHAPE = [(0, 0), (0, 3), (3, 3), (3, 2), (1, 2), (1, 1), (3, 1), (3, 0), (0, 0)]
U_SHAPE = [(float(lat), float(lon)) for lat, lon in U_SHAPE]


@pytest.mark.parametrize(
    ("lat", "lon", "inside"),
    [
        (29.75, 106.80, True),
        (29.69, 106.80, False),
        (29.75, 106.91, False),
        (29.70, 106.80, True),  # on an edge
        (29.80, 106.90, True),  # on a corner
    ],
)
def test_point_in_a_closed_cap_polygon(lat: float, lon: float, inside: bool) -> None:
    assert in_polygon(lat, lon, SQUARE) is inside
    assert in_polygon(lat, lon, SQUARE[:-1]) is inside  # the closing point is optional


@pytest.mark.parametrize(
    ("lat", "lon", "inside"),
    [(0.5, 1.5, True), (2.0, 1.5, False), (2.5, 2.5, True), (2.5, 0.5, True), (4.0, 1.5, False)],
)
def test_point_in_a_concave_polygon(lat: float, lon: float, inside: bool) -> None:
    assert in_polygon(lat, lon, U_SHAPE) is inside


def test_degenerate_polygons_hold_nothing() -> None:
    assert not in_polygon(0.0, 0.0, [(0.0, 0.0), (1.0, 1.0)])


def test_circle_uses_great_circle_distance_in_km() -> None:
    assert distance_km((0.0, 0.0), (0.0, 1.0)) == pytest.approx(111.195, rel=1e-3)
    center = (29.75, 106.82)
    assert in_circle(29.75, 106.82, center, 0.0)  # a zero radius holds its centre only
    assert not in_circle(29.7501, 106.82, center, 0.0)
    assert in_circle(29.77, 106.82, center, 2.5)  # 2.2 km north
    assert not in_circle(29.78, 106.82, center, 2.5)  # 3.3 km north


def test_boxes_hold_their_shapes() -> None:
    box = circle_box(29.75, 106.82, 2.5)
    assert box.contains(29.772, 106.82)
    assert box.contains(29.75, 106.845)
    assert not box.contains(29.80, 106.82)
    square = polygon_box(SQUARE)
    assert (square.south, square.west, square.north, square.east) == (29.70, 106.75, 29.80, 106.90)


def test_geojson_outlines_become_lat_lon_rings() -> None:
    polygon = {"type": "Polygon", "coordinates": [[[106.6, 29.7], [106.7, 29.7], [106.7, 29.8]]]}
    assert geojson_rings(polygon) == [[(29.7, 106.6), (29.7, 106.7), (29.8, 106.7)]]
    multi = {"type": "MultiPolygon", "coordinates": [polygon["coordinates"]] * 2}
    assert len(geojson_rings(multi)) == 2
    assert geojson_rings({"type": "Point", "coordinates": [1, 2]}) == []
    assert geojson_rings({"type": "Polygon", "coordinates": "junk"}) == []
    assert geojson_rings(None) == []


@pytest.mark.parametrize(
    ("code", "prefix"),
    [
        ("500112", "500112"),  # a district: itself and everything under it
        ("500100", "5001"),  # a prefecture-level code covers its districts
        ("500000", "50"),  # a province
        ("500112001", "500112001"),  # a township (statistical code)
        ("500112001000", "500112001"),
        ("500112000000", "500112"),
        ("500112001002", "500112001002"),
        ("5001", None),
        ("YB-T1", None),
        ("５００１１２", None),  # full-width digits are not a code
    ],
)
def test_region_prefix(code: str, prefix: str | None) -> None:
    assert region_prefix(code) == prefix
