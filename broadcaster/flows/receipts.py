"""Providers' receipts become status reports, applied in group commits (one transaction for
the receipts that arrive together)."""

from __future__ import annotations

from collections.abc import Sequence

from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.db.retry import retrying
from broadcaster.delivery.batcher import GroupCommit
from broadcaster.delivery.models import DeliveryState
from broadcaster.delivery.statuses import StatusReport, apply_reports
from channels.hooks import Receipt


def status_report(receipt: Receipt) -> StatusReport:
    """Our report from a provider's receipt (the provider's states are a subset of ours)."""
    return StatusReport(
        receipt.delivery_id,
        receipt.provider_id,
        DeliveryState(receipt.state.value),
        receipt.error_code,
    )


def report_committer(db: Database) -> GroupCommit[StatusReport]:
    """The group commit that applies status reports for one app."""

    def once(reports: Sequence[StatusReport]) -> None:
        with db.transaction() as session:
            apply_reports(session, reports, utcnow())

    def apply(reports: Sequence[StatusReport]) -> None:
        # States only move forward (invariant 4): applying a batch twice changes nothing.
        retrying(lambda: once(reports), what="applying status callbacks")

    return GroupCommit(apply)
