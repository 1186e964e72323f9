"""CAP 1.2 in and out: safe parsing, validation, mapping to our terms, publishing, Atom."""

# A pure library: no database, no HTTP. Element order inside a block is not enforced (the
# schema's sequence is followed when publishing); extension elements of other namespaces are
# skipped; unknown elements of the CAP namespace are problems.

from broadcaster.feeds.cap.atom import AtomEntry, to_atom
from broadcaster.feeds.cap.errors import CapError, CapInvalid
from broadcaster.feeds.cap.feed import FeedAlert, FeedContent, MappingRules, to_feed_alert
from broadcaster.feeds.cap.identifiers import (
    GbtIdentifier,
    format_gbt_identifier,
    parse_gbt_identifier,
)
from broadcaster.feeds.cap.mapping import (
    DEFAULT_HAZARD_KEYWORDS,
    DEFAULT_SEVERITY_LEVELS,
    AreaSpec,
    area_of,
    choose_info,
    hazard_of,
    level_of,
    msg_type_of,
    status_of,
)
from broadcaster.feeds.cap.model import Alert, Area, Info
from broadcaster.feeds.cap.parse import DEFAULT_MAX_BYTES, read_xml
from broadcaster.feeds.cap.publish import (
    GB_T_2260,
    PublishedAlert,
    PublishedArea,
    event_name,
    to_cap_xml,
)
from broadcaster.feeds.cap.validate import parse_alert, validate_alert

__all__ = [
    "DEFAULT_HAZARD_KEYWORDS",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_SEVERITY_LEVELS",
    "GB_T_2260",
    "Alert",
    "Area",
    "AreaSpec",
    "AtomEntry",
    "CapError",
    "CapInvalid",
    "FeedAlert",
    "FeedContent",
    "GbtIdentifier",
    "Info",
    "MappingRules",
    "PublishedAlert",
    "PublishedArea",
    "area_of",
    "choose_info",
    "event_name",
    "format_gbt_identifier",
    "hazard_of",
    "level_of",
    "msg_type_of",
    "parse_alert",
    "parse_gbt_identifier",
    "read_xml",
    "status_of",
    "to_atom",
    "to_cap_xml",
    "to_feed_alert",
    "validate_alert",
]
