"""One household under one alert (/console/alerts/{id}/households/{code}): its state, its
deliveries and every attempt at sending them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from broadcaster.alerts.models import Alert, Recipient
from broadcaster.db.ids import Id
from broadcaster.delivery.attempts import of_recipients
from broadcaster.delivery.models import Delivery
from broadcaster.registry.models import Household
from broadcaster.reports.export import details
from broadcaster.reports.recipients import confirmations_of
from broadcaster.web.console.common import console_user, db_of, missing, page

router = APIRouter()


@router.get("/console/alerts/{alert_id}/households/{code}", response_class=HTMLResponse)
def recipient_page(request: Request, alert_id: Id, code: str) -> HTMLResponse:
    user = console_user(request)
    with db_of(request).read() as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            return missing(request, f"alert {alert_id}")
        found = session.execute(
            select(Recipient, Household)
            .join(Household, Household.id == Recipient.household_id)
            .where(Recipient.alert_id == alert.id, Household.code == code)
        ).first()
        if found is None:
            return missing(request, f"household {code}")
        recipient, household = found
        deliveries = session.scalars(
            select(Delivery).where(Delivery.recipient_id == recipient.id).order_by(Delivery.id)
        ).all()
        context = {
            "alert": alert,
            "recipient": recipient,
            "household": household,
            "deliveries": deliveries,
            "attempts": of_recipients(session, [recipient.id]).get(recipient.id, []),
            "more": details(session, [recipient]),
            "answers": confirmations_of(session, [recipient]).get(recipient.id, []),
        }
        return page(request, "console_recipient.html", user, "alerts", **context)
