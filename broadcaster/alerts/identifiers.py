"""An alert's identifier: CAP-compatible and unique per alert."""

from __future__ import annotations

import secrets

from broadcaster.db.base import utcnow
from broadcaster.settings import Settings


def new_identifier(settings: Settings) -> str:
    """A CAP-compatible identifier, unique per alert."""
    return f"{settings.queue_prefix}-{utcnow():%Y%m%d%H%M%S}-{secrets.token_hex(4)}"
