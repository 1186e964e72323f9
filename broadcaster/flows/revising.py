"""An officer's changes to an alert — update, evacuation order, all-clear, cancel — and their
previews: what each would send and to how many (planned for real, then rolled back)."""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import TemplateNotFound
from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from broadcaster.alerts.authority import Issuer
from broadcaster.alerts.change_schemas import ChangeOut, UpdateIn
from broadcaster.alerts.models import Alert, Recipient, RevisionKind
from broadcaster.alerts.schemas import AlertOut
from broadcaster.alerts.states import CONCERNED
from broadcaster.alerts.texts import NOTICE_ALL_CLEAR, NOTICE_CANCEL, render
from broadcaster.auth.audit import Actor
from broadcaster.db.base import utcnow
from broadcaster.delivery.approved import check_templates
from broadcaster.errors import ValidationFailed
from broadcaster.feeds.outbound import own_message
from broadcaster.flows import closing, notices, updates
from broadcaster.flows.updates import Revision
from broadcaster.registry.service import households_in_zone, zones_by_code
from broadcaster.settings import Settings

EMPTY_AREA = (
    "新区域内没有登记住户：缩小范围会让所有住户都不再涉及，请核对区域编号，或解除预警 / the new "
    "area holds no registered household; check the zone codes, or lift the alert"
)
NOTHING = (
    "更新内容与当前预警相同 / nothing would change: every field given is as the alert already reads"
)


@dataclass(frozen=True)
class Change:
    """One change an officer asks for: an update (with its body), the all-clear or a cancel."""

    kind: RevisionKind
    update: UpdateIn | None = None
    note: str = ""


def revision_from(session: Session, alert: Alert, body: UpdateIn) -> tuple[Revision, list]:  # type: ignore[type-arg]
    """The alert as the body revises it (what is left out stays), and the new area's
    household selects when the zones are given (unknown codes: a 422 naming `zones`)."""
    zones = zones_by_code(session, body.zones) if body.zones is not None else None
    given = body.model_fields_set
    revision = Revision(
        headline=body.headline if body.headline is not None else alert.headline,
        body=body.body if body.body is not None else alert.body,
        instruction=body.instruction if body.instruction is not None else alert.instruction,
        level=body.level or alert.level,
        hazard=body.hazard or alert.hazard,
        expires_at=body.expires_at if "expires_at" in given else alert.expires_at,
        zone_codes=tuple(body.zones or ()),
        evacuate=body.evacuate,
        replace_zones=zones is not None,
    )
    same_area = zones is None or set(body.zones or ()) == set(alert.zone_codes)
    unchanged = (
        same_area
        and revision.expires_at == alert.expires_at
        and (revision.evacuate is None or revision.evacuate == alert.evacuate)
        and (revision.level, revision.hazard, revision.headline, revision.body)
        == (alert.level, alert.hazard, alert.headline, alert.body)
        and revision.instruction == alert.instruction
    )
    if unchanged:
        raise ValidationFailed(NOTHING, field=next(iter(sorted(given)), None))
    selects = [households_in_zone(zone) for zone in zones or ()]
    if zones is not None and not _any_household(session, selects):
        raise ValidationFailed(EMPTY_AREA, field="zones")
    return revision, selects


def _any_household(session: Session, selects: list) -> bool:  # type: ignore[type-arg]
    found = union(*selects).subquery() if len(selects) > 1 else selects[0].subquery()
    return session.scalar(select(func.count()).select_from(found)) != 0


def apply_change(
    session: Session,
    *,
    alert_id: int,
    change: Change,
    actor: Actor,
    issuer: Issuer,
    settings: Settings,
    available: set[str],
) -> ChangeOut:
    """Make the change in the caller's transaction; what it did, to enqueue after commit."""
    alert = updates.locked_open(session, alert_id)
    message = own_message(session, alert, settings, utcnow())
    if change.kind is RevisionKind.update:
        assert change.update is not None
        revision, households = revision_from(session, alert, change.update)
        changed = updates.update_alert(
            session,
            alert_id=alert_id,
            revision=revision,
            households=households,
            message=message,
            actor=actor,
            issuer=issuer,
            settings=settings,
            available_channels=available,
        )
        judged = changed.assessment
        if changed.channel_counts:  # what no approved template carries is refused: 422
            check_templates(changed.alert, settings=settings)
        return _out(
            session,
            changed.alert,
            change.kind,
            asks_again=bool(judged and judged.asks_again and changed.households_asked),
            asked=changed.households_asked,
            notified=changed.households_notified,
            added=changed.households_added,
            released=changed.households_released,
            deliveries=changed.channel_counts or {},
        )
    end = closing.all_clear if change.kind is RevisionKind.all_clear else closing.cancel_alert
    closed = end(
        session, alert_id=alert_id, message=message, actor=actor, issuer=issuer, note=change.note
    )
    return _out(
        session,
        closed.alert,
        change.kind,
        notified=closed.households_told,
        withdrawn=closed.withdrawn,
        tasks_closed=closed.tasks_closed,
        deliveries=closed.channel_counts,
    )


def _out(
    session: Session,
    alert: Alert,
    kind: RevisionKind,
    *,
    asks_again: bool = False,
    asked: int = 0,
    notified: int = 0,
    added: int = 0,
    released: int = 0,
    withdrawn: int = 0,
    tasks_closed: int = 0,
    deliveries: dict[str, int],
) -> ChangeOut:
    session.flush()
    targeted = session.scalar(
        select(func.count()).where(Recipient.alert_id == alert.id, Recipient.state.in_(CONCERNED))
    )
    return ChangeOut(
        alert=AlertOut.model_validate(alert),
        revision=alert.revision,
        kind=kind,
        asks_again=asks_again,
        households_targeted=int(targeted or 0),
        households_asked=asked,
        households_notified=notified,
        households_added=added,
        households_released=released,
        withdrawn=withdrawn,
        tasks_closed=tasks_closed,
        deliveries={c: n for c, n in deliveries.items() if n},
    )


def preview_texts(
    alert: Alert, kind: RevisionKind, settings: Settings, note: str = ""
) -> dict[str, str]:
    """What each channel of the alert would say after the change (the alert as changed in
    the preview's transaction): the revised warning, or the all-clear or cancel notice."""
    notice = {RevisionKind.all_clear: NOTICE_ALL_CLEAR, RevisionKind.cancel: NOTICE_CANCEL}
    texts: dict[str, str] = {}
    for channel in notices.used_channels(alert):
        try:
            text = render(
                alert,
                channel=channel,
                language=settings.language,
                templates_dir=settings.config_dir / "templates",
                sender=settings.sender_name,
                notice=notice.get(kind),
                zone=settings.zone,
                note=note,
                group_name="…",
            )
        except TemplateNotFound:
            continue  # a channel without a text of its own (e.g. a relay holder's link)
        texts[channel] = text.personal(settings.public_url("/c/…"))
    return texts
