"""Providers' receipts become status reports, applied in group commits (one transaction for
the receipts that arrive together)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.db.retry import retrying
from broadcaster.delivery.batcher import GroupCommit
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.delivery.statuses import StatusReport, apply_reports
from channels.hooks import Receipt

log = logging.getLogger(__name__)


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


def report_committer(db: Database) -> GroupCommit[StatusReport]:
    """The group commit that applies status reports for one app."""

    def once(reports: Sequence[StatusReport]) -> None:
        with db.transaction() as session:
            apply_reports(session, placed(session, reports), utcnow())

    def apply(reports: Sequence[StatusReport]) -> None:
        # States only move forward (invariant 4): applying a batch twice changes nothing.
        retrying(lambda: once(reports), what="applying status callbacks")

    return GroupCommit(apply)
