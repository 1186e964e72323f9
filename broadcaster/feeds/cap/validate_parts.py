"""Validation of the inner CAP blocks: area, resource and valueName/value pairs."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from broadcaster.feeds.cap.model import Area, Circle, Point, Resource, ValuePair
from broadcaster.feeds.cap.reader import Children, Problems
from broadcaster.feeds.cap.values import (
    check_base64,
    parse_circle,
    parse_number,
    parse_polygon,
    parse_size,
)

PAIR = {"valueName": False, "value": False}
AREA = {
    "areaDesc": False,
    "polygon": True,
    "circle": True,
    "geocode": True,
    "altitude": False,
    "ceiling": False,
}
RESOURCE = {
    "resourceDesc": False,
    "mimeType": False,
    "size": False,
    "uri": False,
    "derefUri": False,
    "digest": False,
}


def read_pairs(
    parent: Children, name: str, problems: Problems, *, value_required: bool = False
) -> tuple[ValuePair, ...]:
    """eventCode, parameter or geocode children: both parts present, valueName not empty."""
    pairs: list[ValuePair] = []
    for path, element in parent.elements(name):
        block = Children(element, path, PAIR, problems)
        value_name = block.text("valueName", required=True)
        found = block.elements("value")
        if not found:
            block.text("value", required=True)
            continue
        value = block.element_text(*found[0])
        if value_required and not value:
            problems.add(found[0][0], "值为空 / value is empty")
            continue
        if value_name is not None:
            pairs.append(ValuePair(value_name, value))
    return tuple(pairs)


def read_area(element: Element, path: str, problems: Problems) -> Area | None:
    block = Children(element, path, AREA, problems)
    before = len(problems.items)
    area_desc = block.text("areaDesc", required=True)
    polygons: list[tuple[Point, ...]] = []
    for item_path, text in block.texts("polygon"):
        polygon = block.convert(item_path, text, parse_polygon)
        if polygon is not None:
            polygons.append(polygon)
    circles: list[Circle] = []
    for item_path, text in block.texts("circle"):
        circle = block.convert(item_path, text, parse_circle)
        if circle is not None:
            circles.append(circle)
    geocodes = read_pairs(block, "geocode", problems, value_required=True)
    altitude = block.value("altitude", parse_number)
    ceiling = block.value("ceiling", parse_number)
    if ceiling is not None and altitude is None and not block.elements("altitude"):
        problems.add(
            block.path("ceiling"),
            "ceiling 只能与 altitude 一起使用 / ceiling must not be used without altitude",
        )
    if area_desc is None or len(problems.items) > before:
        return None
    return Area(area_desc, tuple(polygons), tuple(circles), geocodes, altitude, ceiling)


def read_resource(element: Element, path: str, problems: Problems) -> Resource | None:
    block = Children(element, path, RESOURCE, problems)
    before = len(problems.items)
    resource_desc = block.text("resourceDesc", required=True)
    mime_type = block.text("mimeType", required=True)
    size = block.value("size", parse_size)
    uri = block.text("uri")
    deref_uri = block.value("derefUri", check_base64)
    digest = block.text("digest")
    if resource_desc is None or mime_type is None or len(problems.items) > before:
        return None
    return Resource(resource_desc, mime_type, size, uri, deref_uri, digest)
