"""The typed CAP 1.2 model: enumerations with the spec's spellings, frozen dataclasses."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
DEFAULT_LANGUAGE = "en-US"


class CapStatus(enum.StrEnum):
    """alert/status: the handling of the message."""

    actual = "Actual"
    exercise = "Exercise"
    system = "System"
    test = "Test"
    draft = "Draft"


class CapMsgType(enum.StrEnum):
    """alert/msgType: the nature of the message."""

    alert = "Alert"
    update = "Update"
    cancel = "Cancel"
    ack = "Ack"
    error = "Error"


class Scope(enum.StrEnum):
    """alert/scope: the intended distribution."""

    public = "Public"
    restricted = "Restricted"
    private = "Private"


class Category(enum.StrEnum):
    """info/category."""

    geo = "Geo"
    met = "Met"
    safety = "Safety"
    security = "Security"
    rescue = "Rescue"
    fire = "Fire"
    health = "Health"
    env = "Env"
    transport = "Transport"
    infra = "Infra"
    cbrne = "CBRNE"
    other = "Other"


class ResponseType(enum.StrEnum):
    """info/responseType."""

    shelter = "Shelter"
    evacuate = "Evacuate"
    prepare = "Prepare"
    execute = "Execute"
    avoid = "Avoid"
    monitor = "Monitor"
    assess = "Assess"
    all_clear = "AllClear"
    none = "None"


class Urgency(enum.StrEnum):
    immediate = "Immediate"
    expected = "Expected"
    future = "Future"
    past = "Past"
    unknown = "Unknown"


class Severity(enum.StrEnum):
    extreme = "Extreme"
    severe = "Severe"
    moderate = "Moderate"
    minor = "Minor"
    unknown = "Unknown"


class Certainty(enum.StrEnum):
    observed = "Observed"
    likely = "Likely"
    possible = "Possible"
    unlikely = "Unlikely"
    unknown = "Unknown"


@dataclass(frozen=True)
class ValuePair:
    """eventCode, parameter and geocode: a user-assigned domain name and a value."""

    value_name: str
    value: str


@dataclass(frozen=True)
class Point:
    """A WGS 84 coordinate pair, latitude first as CAP writes it."""

    lat: float
    lon: float


@dataclass(frozen=True)
class Circle:
    center: Point
    radius_km: float


@dataclass(frozen=True)
class Reference:
    """One entry of alert/references: `sender,identifier,sent`."""

    sender: str
    identifier: str
    sent: dt.datetime


@dataclass(frozen=True)
class Resource:
    resource_desc: str
    mime_type: str
    size: int | None = None
    uri: str | None = None
    deref_uri: str | None = None
    digest: str | None = None


@dataclass(frozen=True)
class Area:
    area_desc: str
    polygons: tuple[tuple[Point, ...], ...] = ()
    circles: tuple[Circle, ...] = ()
    geocodes: tuple[ValuePair, ...] = ()
    altitude: float | None = None
    ceiling: float | None = None


@dataclass(frozen=True)
class Info:
    categories: tuple[Category, ...]
    event: str
    urgency: Urgency
    severity: Severity
    certainty: Certainty
    language: str = DEFAULT_LANGUAGE
    response_types: tuple[ResponseType, ...] = ()
    audience: str | None = None
    event_codes: tuple[ValuePair, ...] = ()
    effective: dt.datetime | None = None
    onset: dt.datetime | None = None
    expires: dt.datetime | None = None
    sender_name: str | None = None
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    web: str | None = None
    contact: str | None = None
    parameters: tuple[ValuePair, ...] = ()
    resources: tuple[Resource, ...] = ()
    areas: tuple[Area, ...] = ()


@dataclass(frozen=True)
class Alert:
    identifier: str
    sender: str
    sent: dt.datetime
    status: CapStatus
    msg_type: CapMsgType
    scope: Scope
    source: str | None = None
    restriction: str | None = None
    addresses: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    note: str | None = None
    references: tuple[Reference, ...] = ()
    incidents: tuple[str, ...] = ()
    infos: tuple[Info, ...] = ()
