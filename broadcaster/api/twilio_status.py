"""Provider webhooks: Twilio status callbacks, signature-checked against the public URL."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from twilio.request_validator import RequestValidator

from broadcaster.api.deps import get_settings_dep
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.db.retry import retrying
from broadcaster.delivery.batcher import GroupCommit
from broadcaster.delivery.models import DeliveryState
from broadcaster.delivery.statuses import StatusReport, apply_reports
from broadcaster.errors import Forbidden, ValidationFailed
from broadcaster.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/hooks", tags=["hooks"])

TWILIO_STATES = {
    "accepted": DeliveryState.sent,
    "scheduled": DeliveryState.sent,
    "queued": DeliveryState.sent,
    "sending": DeliveryState.sent,
    "sent": DeliveryState.sent,
    "delivered": DeliveryState.delivered,
    "read": DeliveryState.delivered,
    "undelivered": DeliveryState.failed,
    "failed": DeliveryState.failed,
    "canceled": DeliveryState.failed,
}


async def twilio_form(request: Request, settings: Settings) -> dict[str, str]:
    """The POSTed form, once its X-Twilio-Signature matches our public URL; else 403."""
    form = await request.form()
    params = {k: v for k, v in form.items() if isinstance(v, str)}
    url = settings.public_url(request.url.path)
    if request.url.query:
        url += "?" + request.url.query
    validator = RequestValidator(settings.twilio.auth_token.get_secret_value())
    if not validator.validate(url, params, request.headers.get("x-twilio-signature", "")):
        log.warning("forged or mis-signed Twilio callback to %s", request.url.path)
        raise Forbidden("签名无效 / invalid signature")
    return params


def status_report(params: dict[str, str], delivery_ref: str | None) -> StatusReport | None:
    """Our report from Twilio's parameters; None for a status we do not track."""
    if not delivery_ref or not delivery_ref.isdigit():
        raise ValidationFailed("缺少投递编号 / missing delivery reference", field="d")
    state = TWILIO_STATES.get(params.get("MessageStatus") or params.get("SmsStatus") or "")
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    if state is None or not sid:
        return None
    return StatusReport(int(delivery_ref), sid, state, params.get("ErrorCode") or None)


def report_committer(db: Database) -> GroupCommit[StatusReport]:
    """The group commit that applies status reports for one app."""

    def once(reports: Sequence[StatusReport]) -> None:
        with db.transaction() as session:
            apply_reports(session, reports, utcnow())

    def apply(reports: Sequence[StatusReport]) -> None:
        # States only move forward (invariant 4): applying a batch twice changes nothing.
        retrying(lambda: once(reports), what="applying status callbacks")

    return GroupCommit(apply)


@router.post("/twilio/sms/status", response_class=PlainTextResponse)
async def twilio_sms_status(
    request: Request, settings: Settings = Depends(get_settings_dep)
) -> str:
    """Twilio's message status callback (the `d` query names our delivery)."""
    params = await twilio_form(request, settings)
    report = status_report(params, request.query_params.get("d"))
    if report is not None:
        committer: GroupCommit[StatusReport] = request.app.state.status_reports
        await committer.submit(report)
    return ""
