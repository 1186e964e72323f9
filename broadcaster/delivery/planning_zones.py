"""Planning zone-wide deliveries: WeCom group robots and village loudspeakers."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Recipient
from broadcaster.alerts.states import CONCERNED
from broadcaster.delivery.models import Delivery, DeliveryState, LoudspeakerTask
from broadcaster.delivery.planning import LEVEL_WEIGHT
from broadcaster.registry.models import Group, GroupKind, Household, Loudspeaker, Zone, ZoneKind

LOCAL_KINDS = (ZoneKind.village, ZoneKind.grid)


def touched_zones(session: Session, alert: Alert) -> set[int]:
    """Villages and grids with at least one targeted household: their groups and
    loudspeakers speak to people under the alert, the district's wider ones do not."""
    grids = select(Household.grid_id).join(Recipient, Recipient.household_id == Household.id)
    concerned = grids.where(Recipient.alert_id == alert.id, Recipient.state.in_(CONCERNED))
    paths = session.scalars(select(Zone.path).where(Zone.id.in_(concerned)))
    ancestors = {int(part) for path in paths for part in path.strip("/").split("/") if part}
    if not ancestors:
        return set()
    return set(
        session.scalars(select(Zone.id).where(Zone.id.in_(ancestors), Zone.kind.in_(LOCAL_KINDS)))
    )


def _priority(alert: Alert) -> int:
    return (4 - alert.level.rank) * LEVEL_WEIGHT  # zone-wide posts go out with the first wave


def plan_group_robots(
    session: Session,
    *,
    alert: Alert,
    now: dt.datetime,
    channel: str,
    only: ColumnElement[bool] | None = None,
    notice: str | None = None,
) -> int:
    """One robot post per group with a robot key in the touched villages and grids that has
    none yet with the alert's current text (so an update that changed only the area posts only
    to newly touched villages, and a new text or a `notice` posts to every group)."""
    posted = select(Delivery.group_id).where(
        Delivery.alert_id == alert.id,
        Delivery.channel == channel,
        Delivery.group_id.is_not(None),
        Delivery.revision >= alert.text_revision,
    )
    groups = session.scalars(
        select(Group).where(
            Group.kind == GroupKind.wecom,
            Group.zone_id.in_(touched_zones(session, alert)),
            Group.webhook_key.is_not(None),
            Group.id.not_in(posted),
        )
    )
    rows = [_zone_delivery(alert, now, channel, g.code, notice, group_id=g.id) for g in groups]
    session.add_all(rows)
    session.flush()
    return len(rows)


def plan_loudspeakers(
    session: Session,
    *,
    alert: Alert,
    now: dt.datetime,
    channel: str,
    only: ColumnElement[bool] | None = None,
    notice: str | None = None,
) -> int:
    """One delivery (render, optional push) and one operator task per loudspeaker of the
    touched villages that has no task yet for the alert's current text (a new text or a
    `notice` is played anew, with its own audio)."""
    tasked = select(LoudspeakerTask.loudspeaker_id).where(
        LoudspeakerTask.alert_id == alert.id, LoudspeakerTask.revision >= alert.text_revision
    )
    speakers = list(
        session.scalars(
            select(Loudspeaker).where(
                Loudspeaker.zone_id.in_(touched_zones(session, alert)),
                Loudspeaker.id.not_in(tasked),
            )
        )
    )
    for speaker in speakers:
        delivery = _zone_delivery(
            alert, now, channel, speaker.code, notice, loudspeaker_id=speaker.id
        )
        session.add(delivery)
        session.flush()
        session.add(
            LoudspeakerTask(
                alert_id=alert.id,
                loudspeaker_id=speaker.id,
                delivery_id=delivery.id,
                created_at=now,
                revision=alert.revision,
            )
        )
    return len(speakers)


def _zone_delivery(
    alert: Alert,
    now: dt.datetime,
    channel: str,
    address: str,
    notice: str | None,
    **target: int,
) -> Delivery:
    """A queued zone-wide delivery of the current revision; it goes out with the first wave."""
    return Delivery(
        alert_id=alert.id,
        channel=channel,
        address=address,
        state=DeliveryState.queued,
        priority=(4 - alert.level.rank) * LEVEL_WEIGHT,
        attempts=0,
        queued_at=now,
        revision=alert.revision,
        notice=notice,
        **target,
    )
