"""One alert (/console/alerts/{id}): timeline, funnel, chart, channels, providers, coverage,
recipients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.alerts import coverage, revisions
from broadcaster.alerts.models import SENDING_STATES, Alert, AlertState, Recipient
from broadcaster.auth.audit import record
from broadcaster.db.ids import Id
from broadcaster.errors import BroadcasterError
from broadcaster.registry.models import Zone, ZoneKind
from broadcaster.registry.service import zone_by_code
from broadcaster.reports.export import STATUS_FILTERS, RecipientFilter, base_query, count, details
from broadcaster.web.auth import PageUser
from broadcaster.web.console.board import may_approve
from broadcaster.web.console.common import (
    PAGE_SIZE,
    alongside,
    console_user,
    db_of,
    missing,
    page,
    principal,
    settings_of,
)
from broadcaster.web.console.figures import answers_by_via, channel_rows, timing
from broadcaster.web.console.live import funnels
from broadcaster.web.console.provider_panel import provider_panel
from broadcaster.web.console.timeline import timeline

router = APIRouter()
OPEN = (AlertState.pending_approval, AlertState.sending, AlertState.active)


@dataclass(frozen=True)
class Filters:
    """The recipients table's filters as given in the query string (kept for links)."""

    status: str = ""
    vulnerable: str = ""
    zone: str = ""
    phones: str = ""

    @classmethod
    def of(cls, request: Request) -> Filters:
        q = request.query_params
        status = q.get("status", "")
        return cls(
            status=status if status in STATUS_FILTERS else "",
            vulnerable=q.get("vulnerable", "") if q.get("vulnerable") in ("1", "0") else "",
            zone=q.get("zone", "").strip()[:64],
            phones="full" if q.get("phones") == "full" else "",
        )

    def query(self, **changes: Any) -> str:
        values = {**self.__dict__, **changes}
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})

    def resolve(self, session: Session) -> tuple[RecipientFilter, str | None]:
        """The filter for the queries, and an error message when the zone code is unknown."""
        zone: Zone | None = None
        error = None
        if self.zone:
            try:
                zone = zone_by_code(session, self.zone)
            except BroadcasterError as exc:
                error = exc.message
        vulnerable = {"1": True, "0": False}.get(self.vulnerable)
        return RecipientFilter(self.status or None, vulnerable, zone), error


def recipients_table(
    session: Session, alert: Alert, filters: Filters, page_number: int
) -> dict[str, Any]:
    """One page of the alert's households (most urgent first) with what hangs off each."""
    flt, error = filters.resolve(session)
    total = count(session, flt, alert.id)
    pages = max(1, -(-total // PAGE_SIZE))
    page_number = min(max(page_number, 1), pages)
    # Deferred join: page through the (alert, priority, id) index alone, then read 50 rows.
    page_ids = (
        select(Recipient.id)
        .where(*flt.conditions(alert.id))
        .order_by(Recipient.priority, Recipient.id)
        .offset((page_number - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
        .scalar_subquery()
    )
    rows = session.execute(
        base_query(RecipientFilter(), alert.id)
        .where(Recipient.id.in_(page_ids))
        .order_by(Recipient.priority, Recipient.id)
    ).all()
    more = details(session, [r for r, _h in rows])
    grids = dict(
        session.execute(
            select(Zone.id, Zone.code).where(Zone.id.in_({h.grid_id for _r, h in rows}))
        ).all()
    )
    return {
        "rows": rows,
        "more": more,
        "grids": grids,
        "total": total,
        "page_number": page_number,
        "pages": pages,
        "filter_error": error,
    }


def audit_phones(request: Request, user: PageUser, alert_id: int, what: str, **detail: Any) -> None:
    """Full phone numbers shown or exported: who, which alert, what (invariant 9)."""
    with db_of(request).transaction() as session:
        record(
            session,
            actor=principal(user, request).actor,
            action="alert.export",
            object_type="alert",
            object_id=alert_id,
            format=what,
            **detail,
        )


def zone_choices(session: Session) -> list[tuple[str, str]]:
    """Codes for the zone filter's suggestions: townships, villages and hazard zones."""
    rows = session.execute(
        select(Zone.code, Zone.name)
        .where(Zone.kind.in_((ZoneKind.township, ZoneKind.village, ZoneKind.hazard)))
        .order_by(Zone.code)
        .limit(500)
    )
    return [(code, name) for code, name in rows]


@router.get("/console/alerts/{alert_id}/coverage", response_class=HTMLResponse)
def alert_coverage(request: Request, alert_id: Id) -> HTMLResponse:
    """The alert's coverage table, fetched when the officer opens that section."""
    user = console_user(request)
    with db_of(request).read() as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            return missing(request, f"alert {alert_id}")
        rows = coverage.rolled_up(session, alert.id)
        hazards = coverage.hazard_rows(session, alert.id, hazard_codes(session, alert))
    return page(
        request,
        "console_part_coverage_table.html",
        user,
        "",
        coverage_alert=alert,
        coverage=rows,
        hazard_coverage=hazards,
    )


def hazard_codes(session: Session, alert: Alert) -> list[str]:
    """The hazard zones the alert was sent to (their coverage is worth a row each)."""
    return list(
        session.scalars(
            select(Zone.code).where(Zone.code.in_(alert.zone_codes), Zone.kind == ZoneKind.hazard)
        )
    )


@router.get("/console/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(
    request: Request, alert_id: Id, page_no: int = Query(default=1, alias="page", ge=1)
) -> HTMLResponse:
    user = console_user(request)
    filters = Filters.of(request)
    db = db_of(request)
    with db.read() as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            return missing(request, f"alert {alert_id}")
        channels = alongside(db, lambda other: channel_rows(other, alert))  # the biggest scan
        funnel = funnels(session, [alert.id], [alert.id])[alert.id]
        done = timing(session, alert, funnel.targeted)
        context = {
            "alert": alert,
            "f": funnel,
            "done": done,
            "chart": done.chart,
            "answers": answers_by_via(session, alert),
            "events": timeline(session, alert, done.seconds_to_final),
            "revisions": revisions.revisions_of(session, alert),
            "tallies": revisions.round_tallies(session, alert),
            "zone_codes": zone_choices(session),
            **recipients_table(session, alert, filters, page_no),
            "providers": provider_panel(
                session, alert, settings_of(request), request.app.state.redis
            ),
            "channels": channels(),
        }
    if filters.phones:
        audit_phones(request, user, alert_id, "page", phones="full", page=page_no)
    return page(
        request,
        "console_alert.html",
        user,
        "alerts",
        filters=filters,
        status_choices=STATUS_FILTERS,
        is_open=context["alert"].state in OPEN,
        is_live=context["alert"].state in SENDING_STATES,
        may_approve=may_approve,
        sent=request.query_params.get("sent") == "1",
        **context,
    )
