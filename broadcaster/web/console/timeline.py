"""An alert's timeline: the audit log, the escalation steps (done or planned) and milestones."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Recipient
from broadcaster.alerts.policy import parse_policy
from broadcaster.auth.models import AuditEvent
from broadcaster.confirm.models import HelpRequest
from broadcaster.db.base import utcnow
from broadcaster.delivery.models import LoudspeakerTask
from broadcaster.errors import ValidationFailed
from broadcaster.followup.models import VisitTask
from broadcaster.followup.steps import escalation
from broadcaster.reports.audit_trail import ACTION_NAMES
from broadcaster.web.console.figures import first_send

# The alert's own actions, named as in the audit trail (the rest are shown by their parts).
ACTIONS = {k: v for k, v in ACTION_NAMES.items() if k.startswith("alert.") and k != "alert.refused"}


@dataclass(frozen=True)
class Event:
    """One line of the timeline; `planned` ones have not happened yet."""

    at: dt.datetime
    text: str
    detail: str = ""
    unit: str = ""
    actor: str = ""
    tone: str = ""  # good, bad or ""
    planned: bool = False
    channel: str = ""


def timeline(
    session: Session, alert: Alert, seconds_to_final: dict[str, float | None]
) -> list[Event]:
    """Everything that happened to the alert, in time order, then what is still to come."""
    events = _audit(session, alert)
    sent = first_send(session, alert)
    if sent is not None:
        events.append(Event(sent, "首条消息交给服务商"))
    events.extend(_escalations(session, alert))
    events.extend(_tasks(session, alert))
    if alert.issued_at is not None:
        for key, share in (("p50", "50%"), ("p90", "90%"), ("p100", "100%")):
            seconds = seconds_to_final.get(key)
            if seconds is not None:
                at = alert.issued_at + dt.timedelta(seconds=seconds)
                events.append(Event(at, "住户完成", share, tone="good"))
    if alert.completed_at is not None:
        events.append(Event(alert.completed_at, "全部住户已完成", tone="good"))
    return sorted(events, key=lambda e: (e.planned, e.at))


def _audit(session: Session, alert: Alert) -> list[Event]:
    rows = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.object_type == "alert", AuditEvent.object_id == str(alert.id))
        .order_by(AuditEvent.at, AuditEvent.id)
        .limit(200)
    )
    found = []
    for row in rows:
        detail = row.detail or {}
        note, unit = "", ""
        if row.action in ("alert.issue", "alert.approve"):
            note, unit = f"{detail.get('households', alert.households_targeted)}", "户"
        elif row.action == "alert.reject":
            note = str(detail.get("reason", ""))
        elif row.action == "alert.cancel":
            note, unit = f"{detail.get('withdrawn', 0)}", "条发送已撤回"
        elif row.action == "alert.export":
            note = f"{detail.get('format', '')} {detail.get('phones', '')}".strip()
        tone = "bad" if row.action in ("alert.cancel", "alert.reject") else ""
        text = ACTIONS.get(row.action, row.action)
        found.append(Event(row.at, text, note, unit, row.actor, tone))
    return found


def _escalations(session: Session, alert: Alert) -> list[Event]:
    """Each policy step: how many households got it, or when it is due."""
    try:
        plan = escalation(parse_policy(alert.policy))
    except ValidationFailed:
        return []
    if alert.issued_at is None:
        return []
    now, found = utcnow(), []
    stages: dict[int, int] = {}
    if any(alert.issued_at + step.after <= now for step in plan.steps):  # else: no scan
        stages = dict(
            session.execute(
                select(Recipient.stage, func.count())
                .where(Recipient.alert_id == alert.id)
                .group_by(Recipient.stage)
            ).all()
        )
    for index, step in enumerate(plan.steps):
        at = alert.issued_at + step.after
        what = "升级：上门核实" if step.is_visit else "升级：改用渠道"
        channel = step.channel or ""
        households = sum(n for stage, n in stages.items() if stage > index)
        if at <= now and households:
            found.append(Event(at, what, f"{households}", "户", channel=channel))
        elif at > now and alert.completed_at is None and alert.closed_at is None:
            found.append(Event(at, what, planned=True, channel=channel))
    return found


def _tasks(session: Session, alert: Alert) -> list[Event]:
    """Visits created at once (vulnerable), loudspeakers played, help requests."""
    found = []
    vulnerable = session.execute(
        select(func.min(VisitTask.created_at), func.count()).where(
            VisitTask.alert_id == alert.id, VisitTask.reason == "vulnerable"
        )
    ).one()
    if vulnerable[1]:
        found.append(Event(vulnerable[0], "重点人群上门任务", f"{vulnerable[1]}", "户"))
    played = session.execute(
        select(func.min(LoudspeakerTask.played_at), func.count()).where(
            LoudspeakerTask.alert_id == alert.id, LoudspeakerTask.played_at.is_not(None)
        )
    ).one()
    if played[1] and played[0] is not None:
        found.append(Event(played[0], "喇叭已播放", f"{played[1]}", "个喇叭"))
    helped = session.execute(
        select(func.min(HelpRequest.opened_at), func.count()).where(
            HelpRequest.alert_id == alert.id
        )
    ).one()
    if helped[1]:
        found.append(Event(helped[0], "首个求助", f"{helped[1]}", "户求助", tone="bad"))
    return found
