"""Pure point-in-polygon and point-in-circle tests on WGS 84 lat/lon (no shapely needed)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
LatLon = tuple[float, float]


@dataclass(frozen=True)
class Box:
    """A latitude/longitude bounding box, for a cheap SQL pre-filter."""

    south: float
    west: float
    north: float
    east: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lon <= self.east


def polygon_box(ring: Sequence[LatLon]) -> Box:
    lats = [p[0] for p in ring]
    lons = [p[1] for p in ring]
    return Box(min(lats), min(lons), max(lats), max(lons))


def circle_box(lat: float, lon: float, radius_km: float) -> Box:
    """A box that surely holds the circle (generous near the poles)."""
    dlat = math.degrees(radius_km / EARTH_RADIUS_KM)
    cos_lat = math.cos(math.radians(min(89.0, abs(lat) + dlat)))
    dlon = 180.0 if cos_lat <= 0 else min(180.0, dlat / cos_lat)
    return Box(max(-90.0, lat - dlat), lon - dlon, min(90.0, lat + dlat), lon + dlon)


def in_polygon(lat: float, lon: float, ring: Sequence[LatLon]) -> bool:
    """Even-odd ray casting on plain lat/lon (fine at district scale); edges count as inside.

    The ring may or may not repeat its first point at the end (CAP polygons do).
    """
    if len(ring) < 3:
        return False
    inside = False
    previous = ring[-1]
    for current in ring:
        if _on_segment(lat, lon, previous, current):
            return True
        (y1, x1), (y2, x2) = previous, current
        if (y1 > lat) != (y2 > lat):
            crossing = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
            if lon < crossing:
                inside = not inside
        previous = current
    return inside


def _on_segment(lat: float, lon: float, a: LatLon, b: LatLon, eps: float = 1e-12) -> bool:
    (y1, x1), (y2, x2) = a, b
    cross = (x2 - x1) * (lat - y1) - (y2 - y1) * (lon - x1)
    if abs(cross) > eps:
        return False
    return min(y1, y2) - eps <= lat <= max(y1, y2) + eps and (
        min(x1, x2) - eps <= lon <= max(x1, x2) + eps
    )


def distance_km(a: LatLon, b: LatLon) -> float:
    """Great-circle (haversine) distance."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def in_circle(lat: float, lon: float, center: LatLon, radius_km: float) -> bool:
    """Within `radius_km` of the centre (a zero radius holds only the centre itself)."""
    return distance_km((lat, lon), center) <= radius_km


def geojson_rings(geometry: dict[str, object] | None) -> list[list[LatLon]]:
    """Outer rings of a GeoJSON Polygon or MultiPolygon as (lat, lon) lists; else nothing."""
    if not geometry:
        return []
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    polygons = [coordinates] if kind == "Polygon" else coordinates if kind == "MultiPolygon" else []
    rings: list[list[LatLon]] = []
    for polygon in polygons if isinstance(polygons, list) else []:
        if not isinstance(polygon, list) or not polygon or not isinstance(polygon[0], list):
            continue
        try:
            ring = [(float(point[1]), float(point[0])) for point in polygon[0]]
        except (TypeError, ValueError, IndexError):
            continue
        if len(ring) >= 3:
            rings.append(ring)
    return rings
