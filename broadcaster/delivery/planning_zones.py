"""Planning zone-wide deliveries: WeCom group robots and village loudspeakers."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Recipient
from broadcaster.delivery.models import Delivery, DeliveryState, LoudspeakerTask
from broadcaster.delivery.planning import LEVEL_WEIGHT
from broadcaster.registry.models import Group, GroupKind, Household, Loudspeaker, Zone, ZoneKind

LOCAL_KINDS = (ZoneKind.village, ZoneKind.grid)


def touched_zones(session: Session, alert: Alert) -> set[int]:
    """Villages and grids with at least one targeted household: their groups and
    loudspeakers speak to people under the alert, the district's wider ones do not."""
    grids = select(Household.grid_id).join(Recipient, Recipient.household_id == Household.id)
    paths = session.scalars(
        select(Zone.path).where(Zone.id.in_(grids.where(Recipient.alert_id == alert.id)))
    )
    ancestors = {int(part) for path in paths for part in path.strip("/").split("/") if part}
    if not ancestors:
        return set()
    return set(
        session.scalars(select(Zone.id).where(Zone.id.in_(ancestors), Zone.kind.in_(LOCAL_KINDS)))
    )


def _priority(alert: Alert) -> int:
    return (4 - alert.level.rank) * LEVEL_WEIGHT  # zone-wide posts go out with the first wave


def plan_wecom(
    session: Session, *, alert: Alert, now: dt.datetime, only: ColumnElement[bool] | None = None
) -> int:
    """One robot post per WeCom group of the touched villages and grids."""
    zones = touched_zones(session, alert)
    groups = session.scalars(
        select(Group).where(
            Group.kind == GroupKind.wecom, Group.zone_id.in_(zones), Group.webhook_key.is_not(None)
        )
    )
    rows = [
        Delivery(
            alert_id=alert.id,
            group_id=g.id,
            channel="wecom_group",
            address=g.code,
            state=DeliveryState.queued,
            priority=_priority(alert),
            attempts=0,
            queued_at=now,
        )
        for g in groups
    ]
    session.add_all(rows)
    return len(rows)


def plan_loudspeakers(
    session: Session, *, alert: Alert, now: dt.datetime, only: ColumnElement[bool] | None = None
) -> int:
    """One delivery (render, optional push) and one operator task per loudspeaker."""
    zones = touched_zones(session, alert)
    speakers = list(session.scalars(select(Loudspeaker).where(Loudspeaker.zone_id.in_(zones))))
    for speaker in speakers:
        delivery = Delivery(
            alert_id=alert.id,
            loudspeaker_id=speaker.id,
            channel="loudspeaker",
            address=speaker.code,
            state=DeliveryState.queued,
            priority=_priority(alert),
            attempts=0,
            queued_at=now,
        )
        session.add(delivery)
        session.flush()
        session.add(
            LoudspeakerTask(
                alert_id=alert.id,
                loudspeaker_id=speaker.id,
                delivery_id=delivery.id,
                created_at=now,
            )
        )
    return len(speakers)
