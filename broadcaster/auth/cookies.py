"""Console sessions: an HMAC-signed cookie naming the user and a server-side session, and a
CSRF token bound to it."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from starlette.requests import Request

from broadcaster.auth import sessions
from broadcaster.auth.models import User
from broadcaster.db.database import Database
from broadcaster.settings import Settings

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


def issue(
    secret: bytes,
    user_id: int,
    now: float | None = None,
    *,
    nonce: str | None = None,
    lifetime: float = LIFETIME,
) -> tuple[WebSession, str]:
    """A new session and its cookie value (`nonce`: the server-side session's token)."""
    session = WebSession(
        user_id, int((now or time.time()) + lifetime), nonce or secrets.token_hex(16)
    )
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


def current(request: Request, *, touch: bool = True) -> WebSession | None:
    """The session of the request's cookie when genuine and still live on the server
    (not logged out, revoked by a password change, expired or idle too long); `touch`
    counts this request as activity."""
    settings: Settings = request.app.state.settings
    db: Database = request.app.state.db
    secret = settings.secret_key.get_secret_value().encode()
    web = read(secret, request.cookies.get(COOKIE))
    if web is None:
        return None
    idle = dt.timedelta(minutes=settings.security.session_idle_minutes)
    with db.read() as session:
        live, stale = sessions.check(session, user_id=web.user_id, token=web.nonce, idle=idle)
    if not live:
        return None
    if stale and touch:
        with db.transaction() as session:
            sessions.touch(session, web.nonce)
    return web


def valid_csrf(secret: bytes, session: WebSession, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(token or "", session.csrf_token(secret))


def signed_in(request: Request) -> tuple[WebSession, User] | None:
    """The live session of the request's cookie and its user, if still active; the one
    place pages and cookie-authenticated API calls learn who is signed in."""
    web = current(request)
    if web is None:
        return None
    db: Database = request.app.state.db
    with db.read() as session:
        user = session.get(User, web.user_id)
        if user is None or not user.active:
            return None
        session.expunge(user)
    return web, user
