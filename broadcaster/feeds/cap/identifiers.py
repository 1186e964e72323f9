"""Recognising Chinese national early-warning identifiers (GB/T 35965.1 style) in CAP."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

# Any CAP identifier is accepted. Identifiers of the national early-warning release system are
# recognised as well. We could not read GB/T 35965.1-2018 itself; the form below is the one a
# publicly posted normative annex ("附录 A 取值规则及说明", A.1.1 预警信息唯一标识) gives; we
# assume, without having verified it, that it is the standard's annex:
#
#     ZZZZZZDDDUUUXX_YYYYMMDDhhmmss_N      (31 characters)
#
# - ZZZZZZDDDUUUXX: the issuing unit's 14-digit code — ZZZZZZ the 6-digit GB/T 2260 division
#   code, DDD the 3-digit GB/T 4657 organisation code (416 = meteorological service), UUU an
#   internal unit code ("000" by default), XX an extension ("00" by default);
# - YYYYMMDDhhmmss: when the warning was entered, in Beijing time (+08:00);
# - N: a 0-9 sequence number for warnings of one unit entered in the same second.
#
# Feeds of the national system (12379 / CMA) are seen with the same form without `_N`
# (e.g. `43010041600000_20180530101833`); that form is recognised too, with sequence None.
BEIJING = dt.timezone(dt.timedelta(hours=8), "CST")
_GBT_ID = re.compile(
    r"(?P<region>\d{6})(?P<org>\d{3})(?P<unit>\d{3})(?P<ext>\d{2})"
    r"_(?P<entered>\d{14})(?:_(?P<seq>\d))?",
    re.ASCII,
)


@dataclass(frozen=True)
class GbtIdentifier:
    """The parts of a national early-warning identifier."""

    sender_code: str
    region_code: str
    org_code: str
    unit_code: str
    extension: str
    entered_at: dt.datetime
    sequence: int | None

    @property
    def is_full_form(self) -> bool:
        """True for the 31-character form with the sequence number."""
        return self.sequence is not None


def parse_gbt_identifier(identifier: str) -> GbtIdentifier | None:
    """The parts of a GB/T 35965.1-style identifier, or None for any other identifier."""
    match = _GBT_ID.fullmatch(identifier)
    if match is None:
        return None
    try:
        entered = dt.datetime.strptime(match["entered"], "%Y%m%d%H%M%S").replace(tzinfo=BEIJING)
    except ValueError:
        return None
    region, org, unit, ext = match["region"], match["org"], match["unit"], match["ext"]
    return GbtIdentifier(
        sender_code=region + org + unit + ext,
        region_code=region,
        org_code=org,
        unit_code=unit,
        extension=ext,
        entered_at=entered,
        sequence=None if match["seq"] is None else int(match["seq"]),
    )


def format_gbt_identifier(
    sender_code: str, entered_at: dt.datetime, sequence: int | None = 0
) -> str:
    """A national-form identifier for our own published alerts (`sequence=None`: short form)."""
    if not re.fullmatch(r"\d{14}", sender_code, re.ASCII):
        raise ValueError("sender_code must be 14 digits (GB/T 2260 + GB/T 4657 + 000 + 00)")
    if entered_at.tzinfo is None:
        raise ValueError("entered_at needs a time zone")
    stamp = entered_at.astimezone(BEIJING).strftime("%Y%m%d%H%M%S")
    if sequence is None:
        return f"{sender_code}_{stamp}"
    if not 0 <= sequence <= 9:
        raise ValueError("sequence is one digit, 0-9")
    return f"{sender_code}_{stamp}_{sequence}"
