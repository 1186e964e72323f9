"""Providers' receipts become status reports, applied in group commits (one transaction for
the receipts that arrive together)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import replace

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.db.retry import retrying
from broadcaster.delivery.batcher import GroupCommit
from broadcaster.delivery.lookups import note_callback_lag
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.delivery.statuses import StatusReport, apply_reports
from broadcaster.settings import Settings
from channels.hooks import Receipt

log = logging.getLogger(__name__)
FINAL_REPORTS = frozenset({DeliveryState.delivered, DeliveryState.failed})
LAG_NOTE_EVERY = 1.0  # seconds
LAG_NOTE_AFTER_ERROR = 10.0


def status_report(receipt: Receipt) -> StatusReport:
    """Our report from a provider's receipt (the provider's states are a subset of ours)."""
    return StatusReport(
        receipt.delivery_id,
        receipt.provider_id,
        DeliveryState(receipt.state.value),
        receipt.error_code,
    )


def placed(session: Session, reports: Sequence[StatusReport]) -> list[StatusReport]:
    """The reports with their delivery: one that names none (delivery id 0: a provider that
    echoes nothing of ours per message, e.g. Tencent for a many-number request) is matched by
    the provider's id; one whose provider id is not stored (yet) is dropped: the reconciler's
    lookup of messages long `sent` settles it."""
    unplaced = {r.provider_id for r in reports if not r.delivery_id}
    if not unplaced:
        return list(reports)
    rows = session.execute(
        select(Delivery.provider_id, Delivery.id).where(Delivery.provider_id.in_(unplaced))
    ).all()
    found = {row.provider_id: row.id for row in rows if row.provider_id}
    if len(found) < len(unplaced):  # pushed before the worker stored the id, or not ours
        log.info("%d receipts name no stored provider id", len(unplaced) - len(found))
    return [
        r if r.delivery_id else replace(r, delivery_id=found[r.provider_id])
        for r in reports
        if r.delivery_id or r.provider_id in found
    ]


class LagNotes:
    """Notes the callbacks' lag at most once a second (the oldest message of the batch then
    applied; only then is it looked up) on a client of short timeouts, and not again for a
    while after Redis failed: a Redis away never holds callbacks up for long."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client = (
            redis.Redis.from_url(settings.redis_url, socket_connect_timeout=0.2, socket_timeout=0.2)
            if settings.redis_url
            else None
        )
        self._next = 0.0

    def due(self) -> bool:
        return self._client is not None and time.monotonic() >= self._next

    def add(self, seconds: float) -> None:
        if self._client is None or not self.due():
            return
        now = time.monotonic()
        self._next = now + LAG_NOTE_EVERY
        try:
            note_callback_lag(self._client, self.settings, seconds)
        except redis.RedisError:  # the look-ups keep their ordinary schedule meanwhile
            self._next = now + LAG_NOTE_AFTER_ERROR


def report_committer(db: Database, settings: Settings) -> GroupCommit[StatusReport]:
    """The group commit that applies status reports for one app, and notes how far the final
    ones run behind the sending (`lookups.note_callback_lag`)."""
    lags = LagNotes(settings)

    def once(reports: Sequence[StatusReport]) -> dt.datetime | None:
        """Applies the reports; the send time of the oldest message now final."""
        with db.transaction() as session:
            kept = placed(session, reports)
            apply_reports(session, kept, utcnow())
            finals = [r.delivery_id for r in kept if r.state in FINAL_REPORTS]
            if not finals or not lags.due():  # a note a second: no query per batch
                return None
            oldest = select(func.min(Delivery.sent_at)).where(Delivery.id.in_(finals))
            return session.scalar(oldest)

    def apply(reports: Sequence[StatusReport]) -> None:
        # States only move forward (invariant 4): applying a batch twice changes nothing.
        oldest = retrying(lambda: once(reports), what="applying status callbacks")
        if oldest is not None:
            lags.add((utcnow() - oldest).total_seconds())

    return GroupCommit(apply)
