"""The periodic ticks every deployment runs (registered by `broadcaster worker`)."""

from __future__ import annotations

from broadcaster.delivery.lookups import RECONCILE
from broadcaster.queues import URGENT
from broadcaster.settings import Settings
from broadcaster.ticks import Periodic


def periodic_ticks(settings: Settings) -> list[Periodic]:
    """Reconciliation (and later escalation) ticks, run once per interval cluster-wide."""
    return [
        Periodic(
            RECONCILE,
            "broadcaster.delivery.reconciler.tick",
            settings.delivery.reconcile_every_seconds,
            queue=URGENT,  # it resends what urgent batches lost: never behind a fan-out
            on_redis_back=True,  # jobs Redis lost are put back at once, from the database
        ),
        Periodic(
            "follow-up", "broadcaster.flows.followup_tick.tick", settings.followup_every_seconds
        ),
        Periodic("feeds", "broadcaster.flows.polling.tick", settings.feeds.poll_tick_seconds),
        Periodic(
            "tally-fold", "broadcaster.flows.tally_tick.fold", settings.tally_fold_every_seconds
        ),
        Periodic(
            "tally-check", "broadcaster.flows.tally_tick.check", settings.tally_check_every_seconds
        ),
    ]
