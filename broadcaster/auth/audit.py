"""Writing to the append-only audit log (each row is sealed into a hash chain at commit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from broadcaster.auth.chain import mark_unsealed
from broadcaster.auth.models import AuditEvent


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (through a key or a session), a feed, or the system itself."""

    name: str
    source_ip: str | None = None


SYSTEM = Actor("system")


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    object_type: str = "",
    object_id: str | int = "",
    **detail: Any,
) -> AuditEvent:
    """Add one audit event to the session's transaction."""
    event = AuditEvent(
        actor=actor.name,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        source_ip=actor.source_ip,
        detail=detail,
    )
    session.add(event)
    mark_unsealed(session, event)
    return event
