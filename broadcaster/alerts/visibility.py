"""Which alerts the public may see: issued, in force here, and drills only when made public."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, or_

from broadcaster.alerts.models import Alert, AlertSource, AlertState, AlertStatus

NOT_PUBLIC_STATES = (AlertState.draft, AlertState.pending_approval)


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
