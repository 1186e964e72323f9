"""CAP 1.2 validation into the typed model, collecting every problem of a document."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from broadcaster.feeds.cap.bounds import GeometryLimits, check_geometry
from broadcaster.feeds.cap.model import (
    DEFAULT_LANGUAGE,
    Alert,
    Area,
    CapMsgType,
    CapStatus,
    Category,
    Certainty,
    Info,
    Resource,
    ResponseType,
    Scope,
    Severity,
    Urgency,
)
from broadcaster.feeds.cap.parse import DEFAULT_MAX_BYTES, ROOT, check_root, read_xml
from broadcaster.feeds.cap.reader import Children, Problems
from broadcaster.feeds.cap.validate_parts import read_area, read_pairs, read_resource
from broadcaster.feeds.cap.values import (
    check_absolute_uri,
    check_id_text,
    check_language,
    parse_datetime,
    parse_group,
    parse_references,
)

ALERT = {
    "identifier": False,
    "sender": False,
    "sent": False,
    "status": False,
    "msgType": False,
    "source": False,
    "scope": False,
    "restriction": False,
    "addresses": False,
    "code": True,
    "note": False,
    "references": False,
    "incidents": False,
    "info": True,
}
INFO = {
    "language": False,
    "category": True,
    "event": False,
    "responseType": True,
    "urgency": False,
    "severity": False,
    "certainty": False,
    "audience": False,
    "eventCode": True,
    "effective": False,
    "onset": False,
    "expires": False,
    "senderName": False,
    "headline": False,
    "description": False,
    "instruction": False,
    "web": False,
    "contact": False,
    "parameter": True,
    "resource": True,
    "area": True,
}

TEXTS = ("audience", "senderName", "headline", "description", "instruction", "contact")


def parse_alert(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, limits: GeometryLimits | None = None
) -> Alert:
    """Read and validate a CAP 1.2 document; CapError (or CapInvalid with all problems).
    Its geometry is bounded first (`limits`), before any coordinate is read."""
    root = read_xml(data, max_bytes=max_bytes)
    check_geometry(root, limits or GeometryLimits())
    return validate_alert(root)


def validate_alert(root: Element) -> Alert:
    """The typed alert of a parsed <alert> element, or CapInvalid listing every problem."""
    check_root(root)
    problems = Problems()
    block = Children(root, ROOT, ALERT, problems)
    identifier = block.value("identifier", check_id_text, required=True)
    sender = block.value("sender", check_id_text, required=True)
    sent = block.value("sent", parse_datetime, required=True)
    status = block.enum("status", CapStatus, required=True)
    msg_type = block.enum("msgType", CapMsgType, required=True)
    scope = block.enum("scope", Scope, required=True)
    restriction = block.text("restriction")
    before_addresses = len(problems.items)
    addresses = block.value("addresses", parse_group) or ()
    if scope is Scope.restricted and restriction is None:
        problems.add(
            block.path("restriction"),
            "范围为 Restricted 时必须有 restriction / scope Restricted requires <restriction>",
        )
    if scope is Scope.private and not addresses and len(problems.items) == before_addresses:
        problems.add(
            block.path("addresses"),
            "范围为 Private 时必须有 addresses / scope Private requires <addresses>",
        )
    references = block.value("references", parse_references) or ()
    source, note = block.text("source"), block.text("note")
    codes = tuple(text for _, text in block.texts("code") if text)
    incidents = block.value("incidents", parse_group) or ()
    infos = tuple(
        info
        for path, element in block.elements("info")
        if (info := _read_info(element, path, problems)) is not None
    )
    problems.raise_if_any()
    assert identifier is not None
    assert sender is not None
    assert sent is not None
    assert status is not None
    assert msg_type is not None
    assert scope is not None
    return Alert(
        identifier=identifier,
        sender=sender,
        sent=sent,
        status=status,
        msg_type=msg_type,
        scope=scope,
        source=source,
        restriction=restriction,
        addresses=addresses,
        codes=codes,
        note=note,
        references=references,
        incidents=incidents,
        infos=infos,
    )


def _read_info(element: Element, path: str, problems: Problems) -> Info | None:
    block = Children(element, path, INFO, problems)
    before = len(problems.items)
    language = block.value("language", check_language)
    if block.elements("language") and language is None and len(problems.items) == before:
        problems.add(block.path("language"), "语言代码为空 / language is empty")
    categories = block.enums("category", Category)
    if not block.elements("category"):
        problems.add(block.path("category", 0), "至少需要一个 category / at least one category")
    event = block.text("event", required=True)
    response_types = block.enums("responseType", ResponseType)
    urgency = block.enum("urgency", Urgency, required=True)
    severity = block.enum("severity", Severity, required=True)
    certainty = block.enum("certainty", Certainty, required=True)
    event_codes = read_pairs(block, "eventCode", problems)
    times = {name: block.value(name, parse_datetime) for name in ("effective", "onset", "expires")}
    texts = {name: block.text(name) for name in TEXTS}
    web = block.value("web", check_absolute_uri)
    parameters = read_pairs(block, "parameter", problems)
    resources = [read_resource(el, p, problems) for p, el in block.elements("resource")]
    areas = [read_area(el, p, problems) for p, el in block.elements("area")]
    if len(problems.items) > before:
        return None
    assert event is not None
    assert urgency is not None
    assert severity is not None
    assert certainty is not None
    return Info(
        categories=categories,
        event=event,
        urgency=urgency,
        severity=severity,
        certainty=certainty,
        language=language or DEFAULT_LANGUAGE,
        response_types=response_types,
        audience=texts["audience"],
        event_codes=event_codes,
        effective=times["effective"],
        onset=times["onset"],
        expires=times["expires"],
        sender_name=texts["senderName"],
        headline=texts["headline"],
        description=texts["description"],
        instruction=texts["instruction"],
        web=web,
        contact=texts["contact"],
        parameters=parameters,
        resources=tuple(r for r in resources if isinstance(r, Resource)),
        areas=tuple(a for a in areas if isinstance(a, Area)),
    )
