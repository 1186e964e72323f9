"""Stand-in for alerts.texts' message_kind/message_values until they land on main."""

from __future__ import annotations

import tomllib

from broadcaster.alerts.clock import spoken
from broadcaster.alerts.models import Alert
from broadcaster.alerts.texts import closing_notice, without_reply_ask
from broadcaster.settings import Settings


def message_kind(alert: Alert, notice: str | None = None) -> str:
    """The kind of message a delivery carries: its notice, else the warning as revised."""
    notice = notice or closing_notice(alert)
    if notice:
        return notice
    if alert.evacuate:
        return "evacuate"
    return "update" if (alert.revision or 1) > 1 else "alert"


def message_values(
    alert: Alert, *, settings: Settings, token: str, note: str = ""
) -> dict[str, str]:
    """The values an approved template may use."""
    language = settings.language
    with (settings.config_dir / "templates" / "names.toml").open("rb") as handle:
        names = tomllib.load(handle)[language]
    return {
        "sender": settings.sender_name,
        "level_name": names["level"][alert.level.value],
        "hazard_name": names["hazard"][alert.hazard.value],
        "headline": alert.headline,
        "body": alert.body,
        "instruction": without_reply_ask(alert.instruction or ""),
        "token": token,
        "link": settings.public_url(f"/c/{token}"),
        "issued": spoken(alert.issued_at, settings.zone, language),
        "note": note,
    }
