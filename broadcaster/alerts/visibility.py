"""Which alerts the public may see: issued, in force here, and drills only when made public."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, or_

from broadcaster.alerts.models import Alert, AlertSource, AlertState, AlertStatus
from broadcaster.alerts.tokens import seal, unseal
from broadcaster.settings import Settings

VIEW = b"view:"  # the seal's domain: a view key opens one alert's page and audio, nothing else

NOT_PUBLIC_STATES = (AlertState.draft, AlertState.pending_approval)
ENDED_STATES = (AlertState.closed, AlertState.cancelled)


def public_condition() -> ColumnElement[bool]:
    """Issued (never a draft or one held for approval); an actual alert or a drill marked
    public; and ours: an officer's, or a feed's that reached one of our zones or households
    (a foreign CAP alert that matched nothing is not a warning in force here)."""
    return and_(
        Alert.state.not_in(NOT_PUBLIC_STATES),
        Alert.issued_at.is_not(None),
        or_(Alert.status == AlertStatus.actual, Alert.public.is_(True)),
        or_(
            Alert.source == AlertSource.officer,
            Alert.households_targeted > 0,
            func.json_array_length(Alert.zone_codes) > 0,
        ),
    )


def is_public(alert: Alert) -> bool:
    """The same rule for one loaded alert."""
    return (
        alert.state not in NOT_PUBLIC_STATES
        and alert.issued_at is not None
        and (alert.status is AlertStatus.actual or alert.public)
        and (
            alert.source is AlertSource.officer
            or alert.households_targeted > 0
            or bool(alert.zone_codes)
        )
    )


def view_key(settings: Settings, alert_id: int) -> str:
    """The key that opens an alert not shown publicly (a private drill's page and audio) to
    those its messages reach: the residents, operators and groups of the drill."""
    return seal(settings.secret_key.get_secret_value().encode(), VIEW, alert_id, 0)


def may_view(settings: Settings, alert: Alert, key: str | None) -> bool:
    """Public, or issued and opened by its own view key (never guessed from an id)."""
    if is_public(alert):
        return True
    if key is None or alert.state in NOT_PUBLIC_STATES or alert.issued_at is None:
        return False
    secret = settings.secret_key.get_secret_value().encode()
    return unseal(secret, VIEW, key) == (alert.id, 0)


def public_url(settings: Settings, alert: Alert, suffix: str = "") -> str:
    """The alert's public page (or `suffix`, e.g. "/audio.mp3"), with its view key when the
    alert is not shown publicly, so a drill's own messages still open it."""
    url = settings.public_url(f"/public/alerts/{alert.id}{suffix}")
    separator = "&" if "?" in url else "?"
    return url if is_public(alert) else f"{url}{separator}k={view_key(settings, alert.id)}"


def audio_url(settings: Settings, alert: Alert, fmt: str = "mp3") -> str:
    """The alert's loudspeaker audio, named by its current text (each new text, or the
    all-clear, is a new URL: players and caches never replay an earlier revision's file)."""
    text = f"{alert.text_revision or 1}{'x' if alert.state in ENDED_STATES else ''}"
    return public_url(settings, alert, f"/audio.{fmt}?r={text}")
