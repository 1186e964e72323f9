"""Domain errors; the app's error handlers map them to HTTP answers."""

from __future__ import annotations

from typing import Any


class BroadcasterError(Exception):
    """Base of every domain error; `message` is safe to show to the caller."""

    status_code = 400
    code = "error"

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotFound(BroadcasterError):
    """The named object does not exist (or the caller may not see it)."""

    status_code = 404
    code = "not_found"


class Conflict(BroadcasterError):
    """The request clashes with the current state (duplicate, idempotency mismatch)."""

    status_code = 409
    code = "conflict"


class InvalidState(BroadcasterError):
    """The object is in a state that does not allow this action."""

    status_code = 409
    code = "invalid_state"


class ValidationFailed(BroadcasterError):
    """Input that is well-formed but wrong; `field` names what is wrong."""

    status_code = 422
    code = "validation_failed"

    def __init__(self, message: str, *, field: str | None = None, **detail: Any) -> None:
        super().__init__(message, field=field, **detail)
        self.field = field


class Unauthenticated(BroadcasterError):
    """No credentials, or credentials that do not match a live key or session."""

    status_code = 401
    code = "unauthenticated"


class Forbidden(BroadcasterError):
    """Authenticated, but the role may not do this."""

    status_code = 403
    code = "forbidden"
