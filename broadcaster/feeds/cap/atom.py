"""An Atom (RFC 4287) feed of alerts, each entry linking its CAP document."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree import ElementTree as ET  # building only; every parse goes through defusedxml

ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_MEDIA_TYPE = "application/cap+xml"


@dataclass(frozen=True)
class AtomEntry:
    """One alert in the feed; `cap_url` is where its CAP document is served."""

    title: str
    cap_url: str
    updated: dt.datetime
    entry_id: str | None = None
    summary: str | None = None
    published: dt.datetime | None = None


def to_atom(
    feed_title: str,
    entries: Sequence[AtomEntry],
    *,
    feed_id: str,
    self_url: str | None = None,
    updated: dt.datetime | None = None,
    author: str = "broadcaster",
) -> bytes:
    """The feed as UTF-8 bytes; `updated` defaults to the newest entry's time.

    An entry's id is its `entry_id`, else its CAP document URL (an IRI, as Atom wants).
    """
    if updated is None:
        if not entries:
            raise ValueError("an empty feed needs an explicit `updated` time")
        updated = max(entry.updated for entry in entries)
    # Plain names and an explicit xmlns: ElementTree's default_namespace cannot serialise the
    # unqualified attributes (rel, type, href) that Atom's <link> needs.
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    _add(feed, "id", feed_id)
    _add(feed, "title", feed_title)
    _add(feed, "updated", _time(updated))
    name = ET.SubElement(ET.SubElement(feed, "author"), "name")
    name.text = author
    if self_url:
        _link(feed, self_url, rel="self", media_type="application/atom+xml")
    for entry in entries:
        element = ET.SubElement(feed, "entry")
        _add(element, "id", entry.entry_id or entry.cap_url)
        _add(element, "title", entry.title)
        _add(element, "updated", _time(entry.updated))
        if entry.published is not None:
            _add(element, "published", _time(entry.published))
        if entry.summary:
            _add(element, "summary", entry.summary)
        _link(element, entry.cap_url, rel="alternate", media_type=CAP_MEDIA_TYPE)
    ET.indent(feed)
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document


def _add(parent: ET.Element, name: str, text: str) -> None:
    ET.SubElement(parent, name).text = text


def _link(parent: ET.Element, href: str, *, rel: str, media_type: str) -> None:
    ET.SubElement(parent, "link", {"rel": rel, "type": media_type, "href": href})


def _time(value: dt.datetime) -> str:
    """RFC 3339 date-time; Atom needs the offset, so naive values are refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("Atom date-times need a time zone")
    return value.replace(microsecond=0).isoformat()
