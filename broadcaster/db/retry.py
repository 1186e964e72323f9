"""Lost or busy database connections: recognise them, and retry a unit of work that is safe to."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_AFTER_SECONDS = 2
_SQLITE_BUSY = ("database is locked", "database is busy", "database table is locked")


def is_transient(error: BaseException) -> bool:
    """True when the database was unreachable, dropped the connection or was busy: the same
    work may succeed a moment later. Programming and constraint errors are not transient."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, sa_exc.DisconnectionError | sa_exc.TimeoutError):
        return True  # TimeoutError: no pooled connection came free in time
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
        driver = type(error.orig).__module__ if error.orig is not None else ""
        if driver.startswith("psycopg"):
            return True  # psycopg's OperationalError is about the connection or server state
        text = str(error.orig).lower()
        return any(busy in text for busy in _SQLITE_BUSY)
    return False


def retrying(work: Callable[[], T], *, what: str, attempts: int = 4, first_wait: float = 0.2) -> T:
    """Run `work` (one whole transaction, safe to run twice), again after a transient error.

    A transaction whose COMMIT was cut off may have committed; only units of work that
    re-check their state (leases, forward-only states) belong here."""
    wait = first_wait
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except sa_exc.SQLAlchemyError as error:
            if attempt == attempts or not is_transient(error):
                raise
            log.warning("%s: database unavailable (%s); retry %d", what, _brief(error), attempt)
            time.sleep(wait)
            wait = min(wait * 3, 5.0)
    raise AssertionError("unreachable")  # pragma: no cover


def _brief(error: BaseException) -> str:
    return str(error).splitlines()[0][:200]
