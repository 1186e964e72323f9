"""Alert changes API: update (转移令 included), all-clear, cancel, their previews, revisions."""

from __future__ import annotations

import redis
from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from broadcaster.alerts import authority, revisions
from broadcaster.alerts.authority import Issuer
from broadcaster.alerts.change_schemas import (
    ChangeOut,
    CloseIn,
    RevisionOut,
    RevisionsOut,
    UpdateIn,
)
from broadcaster.alerts.models import Alert, RevisionKind
from broadcaster.alerts.texts import closing_notice
from broadcaster.api.deps import allow, get_db, get_redis, get_settings_dep, read_session
from broadcaster.auth.models import Role
from broadcaster.auth.service import Principal
from broadcaster.db.database import Database
from broadcaster.db.ids import Id
from broadcaster.delivery.approved import media_of, template_previews
from broadcaster.delivery.dispatch import try_enqueue_sends
from broadcaster.errors import NotFound
from broadcaster.flows.revising import Change, apply_change, preview_texts
from broadcaster.settings import Settings
from channels.registry import registered

router = APIRouter(prefix="/alerts", tags=["alerts"])
duty = allow(Role.officer, Role.admin)


def change(
    db: Database,
    settings: Settings,
    redis_client: redis.Redis | None,
    who: Principal,
    alert_id: int,
    asked: Change,
) -> ChangeOut:
    """Make the change in one transaction (a refusal changes nothing and is audited), then
    enqueue what it planned."""
    with authority.audited(db, who.actor), db.transaction() as session:
        done = apply_change(
            session,
            alert_id=alert_id,
            change=asked,
            actor=who.actor,
            issuer=Issuer.of(who),
            settings=settings,
            available=set(registered()),
        )
    if done.deliveries:
        try_enqueue_sends(
            settings,
            redis_client,
            alert_id=alert_id,
            level=done.alert.level,
            channel_counts=done.deliveries,
        )
    return done


def preview(
    db: Database, settings: Settings, who: Principal, alert_id: int, asked: Change
) -> ChangeOut:
    """The same change planned in a transaction that is rolled back: what it would send, to
    how many households, and each channel's text. Nothing is kept or enqueued."""
    with db.dry_run() as session:
        done = apply_change(
            session,
            alert_id=alert_id,
            change=asked,
            actor=who.actor,
            issuer=Issuer.of(who),
            settings=settings,
            available=set(registered()),
        )
        alert = session.get_one(Alert, alert_id)
        texts = preview_texts(alert, asked.kind, settings, asked.note)
        approved = template_previews(
            alert,
            media=media_of(alert),
            settings=settings,
            notice=closing_notice(alert),
            note=asked.note,
            refuse=asked.kind is RevisionKind.update,  # lifting or cancelling: never stopped
        )
        return done.model_copy(update={"texts": texts, "templates": approved})


@router.post("/{alert_id}/update", response_model=ChangeOut)
def update_alert(
    alert_id: Id,
    body: UpdateIn,
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
    redis_client: redis.Redis | None = Depends(get_redis),
    who: Principal = duty,
) -> ChangeOut:
    """A new revision of the alert. A raised level or `evacuate: true` (转移令) reaches every
    household again, confirmed ones included, on the level's channels, re-posts to groups and
    loudspeakers and asks for a fresh confirmation (counts restart for the revision); a
    correction or a lower level tells the households already sent, confirmations kept. New
    zones reach their households; households left out of the area are told."""
    return change(db, settings, redis_client, who, alert_id, Change(RevisionKind.update, body))


@router.post("/{alert_id}/update/preview", response_model=ChangeOut)
def preview_update(
    alert_id: Id,
    body: UpdateIn,
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
    who: Principal = duty,
) -> ChangeOut:
    """What the update would send and to how many households (nothing is changed)."""
    return preview(db, settings, who, alert_id, Change(RevisionKind.update, body))


@router.post("/{alert_id}/all-clear", response_model=ChangeOut)
def all_clear(
    alert_id: Id,
    body: CloseIn | None = None,
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
    redis_client: redis.Redis | None = Depends(get_redis),
    who: Principal = duty,
) -> ChangeOut:
    """Lift the alert (解除): every household that was sent it gets the all-clear, as do its
    WeCom groups, loudspeakers and relay holders; open visits and relay tasks close; the
    alert ends and leaves /public (CAP: an Update with responseType AllClear)."""
    note = body.note if body else ""
    return change(
        db, settings, redis_client, who, alert_id, Change(RevisionKind.all_clear, note=note)
    )


@router.post("/{alert_id}/all-clear/preview", response_model=ChangeOut)
def preview_all_clear(
    alert_id: Id,
    body: CloseIn | None = None,
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
    who: Principal = duty,
) -> ChangeOut:
    """What the all-clear would send and to how many (nothing is changed)."""
    note = body.note if body else ""
    return preview(db, settings, who, alert_id, Change(RevisionKind.all_clear, note=note))


@router.post("/{alert_id}/cancel/preview", response_model=ChangeOut)
def preview_cancel(
    alert_id: Id,
    body: CloseIn | None = None,
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
    who: Principal = duty,
) -> ChangeOut:
    """What cancelling (撤销) would send — a short correction to everyone already reached."""
    note = body.note if body else ""
    return preview(db, settings, who, alert_id, Change(RevisionKind.cancel, note=note))


@router.get("/{alert_id}/revisions", response_model=RevisionsOut)
def alert_revisions(
    alert_id: Id,
    session: Session = Depends(read_session),
    _: Principal = allow(Role.officer, Role.admin, Role.feed),
) -> RevisionsOut:
    """Every revision as it was sent, with where the households stood in each round."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"预警不存在 / no alert {alert_id}")
    tallies = revisions.round_tallies(session, alert)
    rows = []
    for row in revisions.revisions_of(session, alert):
        out = RevisionOut.model_validate(row)
        if row.number in tallies:
            out.households = {s.value: n for s, n in tallies[row.number].items()}
        rows.append(out)
    return RevisionsOut(
        alert_id=alert.id,
        state=alert.state,
        revision=alert.revision,
        round=alert.round,
        revisions=rows,
    )
