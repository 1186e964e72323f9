"""The periodic ticks every deployment runs (registered by `broadcaster worker`)."""

from __future__ import annotations

from broadcaster.delivery.lookups import RECONCILE
from broadcaster.queues import TICKS
from broadcaster.settings import Settings
from broadcaster.ticks import Periodic


def periodic_ticks(settings: Settings) -> list[Periodic]:
    """The periodic ticks, run once per interval cluster-wide; those that keep time go on the
    ticks queue, ahead of every fan-out's sends (a red alert's on the urgent queue too)."""
    return [
        Periodic(
            RECONCILE,
            "broadcaster.delivery.reconciler.tick",
            settings.delivery.reconcile_every_seconds,
            queue=TICKS,  # it resends what urgent batches lost: never behind a fan-out
            on_redis_back=True,  # jobs Redis lost are put back at once, from the database
        ),
        Periodic(
            "follow-up",
            "broadcaster.flows.followup_tick.tick",
            settings.followup_every_seconds,
            queue=TICKS,  # escalations are due at set times: behind a red fan-out's sends (on
            # the urgent queue) its 10-minute voice step came at 13.5 minutes
        ),
        Periodic(
            "feeds",
            "broadcaster.flows.polling.tick",
            settings.feeds.poll_tick_seconds,
            queue=TICKS,  # a warning a feed brings must not wait for another alert's fan-out
        ),
        Periodic(
            "tally-fold",
            "broadcaster.flows.tally_tick.fold",
            settings.tally_fold_every_seconds,
            queue=TICKS,  # a fan-out's sends keep the default queue waiting; deltas would pile
        ),
        Periodic(
            "tally-check", "broadcaster.flows.tally_tick.check", settings.tally_check_every_seconds
        ),
        Periodic(
            "statistics",
            "broadcaster.flows.tally_tick.statistics",
            settings.statistics_every_seconds,
            queue=TICKS,  # it is for the fan-out under way: behind its sends it came after it
        ),
    ]
