"""`bench sweep`: one escalation sweep over every household of an alert, each step timed.

A red alert (SMS; the red policy of config/policies.toml: voice after 10 min, a door visit
after 20 min) goes to every household; nobody answers; the sweep then runs as the follow-up
tick runs it, with `now` past each step: stage 0 → voice deliveries for every household,
stage 1 → visit tasks.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from sqlalchemy import func, select

from broadcaster.alerts.models import Alert, AlertSource, Recipient
from broadcaster.alerts.schemas import AlertIn
from broadcaster.auth.audit import SYSTEM
from broadcaster.bench.plan import ALERT
from broadcaster.bench.procs import SECRET
from broadcaster.db.database import Database
from broadcaster.flows.escalation import advance
from broadcaster.flows.issuing import issue_alert
from broadcaster.followup.models import VisitTask
from broadcaster.settings import Settings
from channels.registry import registered


def _issue(db: Database, settings: Settings) -> int:
    with db.transaction() as session:
        issued = issue_alert(
            session,
            body=AlertIn.model_validate(ALERT),
            actor=SYSTEM,
            source=AlertSource.officer,
            settings=settings,
            available_channels=set(registered()),
        )
        return issued.alert.id


def _step(
    db: Database, alert_id: int, stage: int, now: dt.datetime
) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    with db.transaction() as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        result = advance(session, alert=alert, stage=stage, now=now)
    return time.perf_counter() - started, result


def measure(url: str) -> dict[str, Any]:
    """Issue the alert, then sweep stage 0 (voice) and stage 1 (visits); the figures."""
    settings = Settings(database_url=url, secret_key=SECRET)
    db = Database(url)
    try:
        alert_id = _issue(db, settings)
        with db.read() as session:
            issued = session.scalar(select(Alert.issued_at).where(Alert.id == alert_id))
            households = session.scalar(
                select(func.count()).select_from(Recipient).where(Recipient.alert_id == alert_id)
            )
        assert issued is not None
        voice_s, voice = _step(db, alert_id, 0, issued + dt.timedelta(minutes=11))
        visit_s, visits = _step(db, alert_id, 1, issued + dt.timedelta(minutes=21))
        with db.read() as session:
            tasks = session.scalar(
                select(func.count()).select_from(VisitTask).where(VisitTask.alert_id == alert_id)
            )
    finally:
        db.dispose()
    return {
        "households": int(households or 0),
        "due_voice": voice.get("households", 0),
        "voice_deliveries": voice.get("deliveries", 0),
        "sweep_voice_s": round(voice_s, 3),
        "due_visit": visits.get("households", 0),
        "visit_tasks": int(tasks or 0),
        "sweep_visit_s": round(visit_s, 3),
        "sweep_s": round(max(voice_s, visit_s), 3),
    }
