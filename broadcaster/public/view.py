"""What the public pages show of an alert: the warning and its areas, never personal data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.alerts.clock import stamp
from broadcaster.alerts.models import Alert, AlertState
from broadcaster.alerts.texts import _names, without_reply_ask
from broadcaster.alerts.visibility import public_condition
from broadcaster.feeds.outbound import last_change
from broadcaster.registry.models import Zone
from broadcaster.settings import Settings

LIVE = (AlertState.sending, AlertState.active)
STATE_NAMES = {
    AlertState.sending: "生效中 / in force",
    AlertState.active: "生效中 / in force",
    AlertState.closed: "已解除 / lifted",  # the all-clear
    AlertState.cancelled: "已取消 / cancelled",
    AlertState.expired: "已过期 / expired",
}


@dataclass(frozen=True)
class PublicAlert:
    """One alert as the public sees it (built from the alert row and zone names only)."""

    id: int
    level: str
    level_name: str
    hazard_name: str
    headline: str
    body: str
    instruction: str
    areas: list[str]
    issued: str
    updated: str
    state_name: str
    live: bool
    drill: bool
    cap_url: str


def listed(session: Session, *, limit: int = 50) -> list[Alert]:
    """Alerts in force here, newest first: actual ones, and drills made public."""
    return list(
        session.scalars(
            select(Alert)
            .where(Alert.state.in_(LIVE), public_condition())
            .order_by(Alert.issued_at.desc(), Alert.id.desc())
            .limit(limit)
        )
    )


def public_alerts(
    session: Session, settings: Settings, alerts: Sequence[Alert]
) -> list[PublicAlert]:
    """The public view of each alert, with area names looked up once."""
    codes = {code for alert in alerts for code in alert.zone_codes}
    names = dict(session.execute(select(Zone.code, Zone.name).where(Zone.code.in_(codes))).all())
    words = _names(settings.config_dir / "templates")["zh-CN"]
    views = []
    for alert in alerts:
        areas = [names.get(code, code) for code in alert.zone_codes]
        areas += [str(d) for d in (alert.area or {}).get("descriptions", []) if d]
        views.append(
            PublicAlert(
                id=alert.id,
                level=alert.level.value,
                level_name=words["level"][alert.level.value],
                hazard_name=words["hazard"][alert.hazard.value],
                headline=alert.headline,
                body=alert.body,
                instruction=without_reply_ask(alert.instruction),
                areas=list(dict.fromkeys(areas)),
                issued=stamp(alert.issued_at, settings.zone),
                updated=stamp(last_change(session, alert), settings.zone),
                state_name=STATE_NAMES.get(alert.state, alert.state.value),
                live=alert.state in LIVE,
                drill=alert.is_drill,
                cap_url=f"/cap/alerts/{alert.id}.xml",
            )
        )
    return views
