"""Bounds on a CAP document's geometry, counted on the parsed tree before anything is mapped."""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element

from broadcaster.feeds.cap.errors import CapError
from broadcaster.feeds.cap.model import CAP_NS


@dataclass(frozen=True)
class GeometryLimits:
    """The most areas, shapes (polygons + circles), polygon vertices (all polygons together)
    and geocodes one document may carry: matching them to households costs per vertex/shape."""

    max_areas: int = 100
    max_shapes: int = 100
    max_vertices: int = 2000
    max_geocodes: int = 1000


NAMES = {
    "areas": ("区域", "areas"),
    "shapes": ("多边形与圆", "polygons and circles"),
    "vertices": ("多边形顶点", "polygon vertices"),
    "geocodes": ("地理编码", "geocodes"),
}


def check_geometry(root: Element, limits: GeometryLimits) -> None:
    """CapError (422) naming the first limit the document passes; cheap (no coordinate parsed)."""
    found = dict.fromkeys(NAMES, 0)
    for element in root.iter():
        tag = element.tag
        if not isinstance(tag, str) or not tag.startswith(f"{{{CAP_NS}}}"):
            continue
        name = tag[len(CAP_NS) + 2 :]
        if name == "area":
            found["areas"] += 1
        elif name in ("polygon", "circle"):
            found["shapes"] += 1
            if name == "polygon":
                found["vertices"] += len((element.text or "").split())
        elif name == "geocode":
            found["geocodes"] += 1
    for kind, limit in (
        ("areas", limits.max_areas),
        ("shapes", limits.max_shapes),
        ("vertices", limits.max_vertices),
        ("geocodes", limits.max_geocodes),
    ):
        if found[kind] > limit:
            zh, en = NAMES[kind]
            raise CapError(
                "alert/info/area",
                f"{zh}过多：共 {found[kind]} 个，上限 {limit} / too many {en}: "
                f"{found[kind]}, limit {limit}",
            )
