"""An alert's recipients as filtered rows for the console table, CSV and XLSX, phones masked;
every code in words (Chinese, or translated by the caller), times in the district's zone."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import ColumnElement, Select, func, select, tuple_
from sqlalchemy.orm import Session

from broadcaster.alerts.clock import DEFAULT_ZONE, stamp
from broadcaster.alerts.models import Alert, Recipient, RecipientState
from broadcaster.confirm.models import Confirmation
from broadcaster.delivery.models import Delivery
from broadcaster.errors import ValidationFailed
from broadcaster.followup.models import VisitTask
from broadcaster.registry.models import Household, Zone, ZoneKind
from broadcaster.registry.service import households_in_zone, phones_by_household
from broadcaster.reports import labels
from broadcaster.reports.labels import mask_phone

R = RecipientState
UNCONFIRMED = (R.pending, R.reached, R.unreachable)
STATUS_FILTERS = ("unconfirmed", *(s.value for s in RecipientState))
CHUNK = 2000
HEADER = (
    ("household_code", "户编号"),
    ("head_name", "户主"),
    ("address", "地址"),
    ("township", "乡镇"),
    ("village", "村/社区"),
    ("grid", "网格"),
    ("vulnerability", "重点人群"),
    ("state", "状态"),
    ("phones", "电话"),
    ("deliveries", "各渠道发送"),
    ("confirmed_via", "确认方式"),
    ("answer", "回答"),
    ("reached_at", "送达时间"),
    ("final_at", "完成时间"),
    ("visit", "上门核实"),
    ("exercise", "演练"),
)


@dataclass(frozen=True)
class RecipientFilter:
    """Which of an alert's households: by state (or "unconfirmed"), vulnerability, zone."""

    status: str | None = None
    vulnerable: bool | None = None
    zone: Zone | None = None

    def conditions(self, alert_id: int) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = [Recipient.alert_id == alert_id]
        if self.status == "unconfirmed":
            found.append(Recipient.state.in_(UNCONFIRMED))
        elif self.status:
            found.append(Recipient.state == RecipientState(self.status))
        if self.vulnerable is not None:
            found.append(Recipient.is_vulnerable.is_(self.vulnerable))
        if self.zone is not None:
            found.append(Recipient.household_id.in_(households_in_zone(self.zone)))
        return found


EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def given_time(value: dt.datetime, field: str, zone: dt.tzinfo = DEFAULT_ZONE) -> dt.datetime:
    """A time someone gave (without a zone: the district's) in UTC, within 2000–2100, else a
    ValidationFailed naming the field."""
    stamp = value if value.tzinfo is not None else value.replace(tzinfo=zone)
    if not EARLIEST <= stamp < LATEST:
        raise ValidationFailed(f"{field}: 时间超出范围 / time out of range", field=field)
    return stamp.astimezone(dt.UTC)


def local_time(value: dt.datetime | None, zone: dt.tzinfo | None = None) -> str:
    """A UTC timestamp in the district's zone, to the second ("" for none)."""
    return stamp(value, zone, seconds=True)


def base_query(flt: RecipientFilter, alert_id: int) -> Select[Recipient, Household]:
    return (
        select(Recipient, Household)
        .join(Household, Household.id == Recipient.household_id)
        .where(*flt.conditions(alert_id))
    )


def count(session: Session, flt: RecipientFilter, alert_id: int) -> int:
    stmt = select(func.count()).select_from(Recipient).where(*flt.conditions(alert_id))
    return int(session.scalar(stmt) or 0)


@dataclass
class Details:
    """What hangs off a page of recipients in their current round: phones, deliveries (channel,
    notice, state, how many), the first answer (how, what), the visit (state, outcome)."""

    phones: dict[int, list[str]]
    deliveries: dict[int, list[labels.Sent]]
    answers: dict[int, tuple[str, str]]
    visits: dict[int, tuple[str, str | None]]


def details(session: Session, recipients: list[Recipient]) -> Details:
    """Four set-based look-ups for one page (or chunk) of recipients (of their current round:
    what an earlier revision asked is history)."""
    ids = [r.id for r in recipients]
    homes = [r.household_id for r in recipients]
    found = Details({}, {}, {}, {})
    if not ids:
        return found
    found.phones.update(phones_by_household(session, homes))
    this_round = Recipient.id == Delivery.recipient_id
    for recipient_id, channel, notice, state, n in session.execute(
        select(
            Delivery.recipient_id, Delivery.channel, Delivery.notice, Delivery.state, func.count()
        )
        .join(Recipient, this_round)
        .where(Delivery.recipient_id.in_(ids), Delivery.revision >= Recipient.round)
        .group_by(Delivery.recipient_id, Delivery.channel, Delivery.notice, Delivery.state)
        .order_by(Delivery.recipient_id, Delivery.channel, Delivery.notice, Delivery.state)
    ):
        if recipient_id is None:
            continue
        sent = labels.Sent(channel, notice, state.value, int(n))
        found.deliveries.setdefault(recipient_id, []).append(sent)
    for recipient_id, via, answer in session.execute(
        select(Confirmation.recipient_id, Confirmation.via, Confirmation.answer)
        .join(Recipient, Recipient.id == Confirmation.recipient_id)
        .where(Confirmation.recipient_id.in_(ids), Confirmation.round == Recipient.round)
        .order_by(Confirmation.at.desc(), Confirmation.id.desc())
    ):
        found.answers[recipient_id] = (via.value, answer.value)  # the earliest one wins
    for recipient_id, visit_state, outcome in session.execute(
        select(VisitTask.recipient_id, VisitTask.state, VisitTask.outcome)
        .join(Recipient, Recipient.id == VisitTask.recipient_id)
        .where(VisitTask.recipient_id.in_(ids), VisitTask.round == Recipient.round)
    ):
        found.visits[recipient_id] = (visit_state.value, outcome.value if outcome else None)
    return found


class ZoneNames:
    """Township and village names of grids, loaded once per export."""

    def __init__(self, session: Session) -> None:
        rows = session.execute(select(Zone.id, Zone.name, Zone.kind, Zone.parent_id)).all()
        self._zones = {z.id: (z.name, z.kind, z.parent_id) for z in rows}

    def of(self, grid_id: int) -> dict[str, str]:
        names = {"grid": "", "village": "", "township": ""}
        current: int | None = grid_id
        for _ in range(8):
            if current is None or current not in self._zones:
                break
            name, kind, parent = self._zones[current]
            if kind in (ZoneKind.grid, ZoneKind.village, ZoneKind.township):
                names[kind.value] = names[kind.value] or name
            current = parent
        return names


@dataclass(frozen=True)
class Words:
    """How an export reads: the language (a translation of the Chinese labels) and zone."""

    translate: labels.Translate = str
    zone: dt.tzinfo | None = None


def export_rows(
    session: Session,
    flt: RecipientFilter,
    alert_id: int,
    *,
    full_phones: bool,
    words: Words | None = None,
) -> Iterator[list[str]]:
    """Every matching household, most urgent first, read in chunks by keyset."""
    words = words or Words()
    zones = ZoneNames(session)
    alert = session.get(Alert, alert_id)
    drill = words.translate(labels.YES) if alert is not None and alert.is_drill else ""
    last: tuple[int, int] | None = None
    while True:
        stmt = base_query(flt, alert_id).order_by(Recipient.priority, Recipient.id)
        if last is not None:
            stmt = stmt.where(tuple_(Recipient.priority, Recipient.id) > tuple_(*last))
        rows = session.execute(stmt.limit(CHUNK)).all()
        if not rows:
            return
        recipients = [r for r, _h in rows]
        more = details(session, recipients)
        for recipient, home in rows:
            names = zones.of(home.grid_id)
            yield [*row_values(recipient, home, more, names, full_phones, words), drill]
        last = (recipients[-1].priority, recipients[-1].id)


def row_values(
    recipient: Recipient,
    home: Household,
    more: Details,
    names: dict[str, str],
    full: bool,
    words: Words | None = None,
) -> list[str]:
    words = words or Words()
    say = words.translate
    phones = more.phones.get(home.id, [])
    via, answer = more.answers.get(recipient.id, ("", ""))
    visit = more.visits.get(recipient.id)
    return [
        home.code,
        home.head_name,
        home.address,
        names["township"],
        names["village"],
        names["grid"],
        "、".join(labels.name(labels.VULNERABILITY, flag, say) for flag in home.vulnerability),
        labels.name(labels.RECIPIENT_STATES, recipient.state, say),
        " ".join(p if full else mask_phone(p) for p in phones) or say(labels.NO_PHONE),
        " ".join(labels.sent_text(d, say) for d in more.deliveries.get(recipient.id, [])),
        labels.name(labels.VIA, via, say) if via else "",
        labels.name(labels.ANSWERS, answer, say) if answer else "",
        local_time(recipient.reached_at, words.zone),
        local_time(recipient.final_at, words.zone),
        labels.visit_text(visit, say) if visit else "",
    ]


def header_row(translate: labels.Translate = str) -> list[str]:
    """The column names people read (Chinese; translated for another language)."""
    return [translate(zh) for _key, zh in HEADER]


def csv_chunks(rows: Iterable[list[str]], translate: labels.Translate = str) -> Iterator[bytes]:
    """CSV in UTF-8 with a byte-order mark (Excel opens it as Chinese text), a chunk at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(header_row(translate))
    for n, row in enumerate(rows, 1):
        writer.writerow([safe_cell(v) for v in row])
        if n % 500 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def safe_cell(value: str) -> str:
    """No spreadsheet formulas from registry text: =, @, or +/- not followed by a number."""
    first, rest = value[:1], value[1:].replace(" ", "")
    if first in ("=", "@") or (first in ("+", "-") and not rest.isdigit()):
        return "'" + value
    return value


def write_xlsx(
    path: Path, rows: Iterable[list[str]], *, title: str, translate: labels.Translate = str
) -> None:
    """One sheet, written row by row (openpyxl's write-only mode keeps memory flat)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31] or "recipients")
    sheet.append(header_row(translate))
    for row in rows:
        sheet.append([safe_cell(v) for v in row])
    book.save(path)
