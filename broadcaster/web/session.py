"""Console sessions: an HMAC-signed cookie naming the user, and a CSRF token bound to it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

COOKIE = "bc_session"
LIFETIME = 12 * 3600  # one duty shift


@dataclass(frozen=True)
class WebSession:
    user_id: int
    expires: int
    nonce: str

    def csrf_token(self, secret: bytes) -> str:
        """Forms and cookie-authenticated API writes must carry this token."""
        return _mac(secret, f"csrf:{self.nonce}")[:32]


def _mac(secret: bytes, text: str) -> str:
    digest = hmac.new(secret, text.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue(secret: bytes, user_id: int, now: float | None = None) -> tuple[WebSession, str]:
    """A new session and its cookie value."""
    session = WebSession(user_id, int((now or time.time()) + LIFETIME), secrets.token_hex(8))
    body = f"{session.user_id}.{session.expires}.{session.nonce}"
    return session, f"{body}.{_mac(secret, body)}"


def read(secret: bytes, cookie: str | None, now: float | None = None) -> WebSession | None:
    """The session of a genuine, unexpired cookie, else None."""
    if not cookie or cookie.count(".") != 3:
        return None
    user_id, expires, nonce, mac = cookie.split(".")
    body = f"{user_id}.{expires}.{nonce}"
    if not hmac.compare_digest(mac, _mac(secret, body)):
        return None
    if not (user_id.isdigit() and expires.isdigit()) or int(expires) < (now or time.time()):
        return None
    return WebSession(int(user_id), int(expires), nonce)


def valid_csrf(secret: bytes, session: WebSession, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(token or "", session.csrf_token(secret))
