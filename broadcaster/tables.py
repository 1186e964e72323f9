"""Imports every table module so that Base.metadata is complete (Alembic, tests)."""

from broadcaster.alerts import models as alert_models
from broadcaster.auth import models as auth_models
from broadcaster.auth import session_models
from broadcaster.confirm import models as confirm_models
from broadcaster.db.base import Base
from broadcaster.delivery import models as delivery_models
from broadcaster.feeds import models as feed_models
from broadcaster.followup import models as followup_models
from broadcaster.registry import duty_models
from broadcaster.registry import models as registry_models
from broadcaster.relay import models as relay_models
from broadcaster.reports import progress as progress_models
from broadcaster.reports import tallies as tally_models

__all__ = [
    "Base",
    "alert_models",
    "auth_models",
    "confirm_models",
    "delivery_models",
    "duty_models",
    "feed_models",
    "followup_models",
    "progress_models",
    "registry_models",
    "relay_models",
    "session_models",
    "tally_models",
]
