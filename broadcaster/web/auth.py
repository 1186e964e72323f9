"""Page sign-in: who is looking at a console page, or a redirect to the login form."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from broadcaster.auth import cookies as web_session
from broadcaster.auth.models import Role
from broadcaster.settings import Settings
from broadcaster.web.templating import render


class LoginRequired(Exception):
    """No valid session: send the browser to /login and back here afterwards."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PageForbidden(Exception):
    """Signed in, but this page is not for the user's role."""


@dataclass(frozen=True)
class PageUser:
    user_id: int
    username: str
    display_name: str
    role: Role
    csrf: str


def page_user(request: Request, *roles: Role) -> PageUser:
    """The signed-in user of a page open to `roles`."""
    settings: Settings = request.app.state.settings
    secret = settings.secret_key.get_secret_value().encode()
    found = web_session.signed_in(request)
    if found is None:
        raise LoginRequired(request.url.path)
    web, user = found
    if user.role not in roles:
        raise PageForbidden(user.role.value)
    return PageUser(
        user.id, user.username, user.display_name or user.username, user.role,
        web.csrf_token(secret),
    )  # fmt: skip


def check_csrf(request: Request, token: str | None) -> None:
    """Forms posted without the session's CSRF token are refused."""
    settings: Settings = request.app.state.settings
    secret = settings.secret_key.get_secret_value().encode()
    web = web_session.current(request)
    if web is None:
        raise LoginRequired(request.url.path)
    if not web_session.valid_csrf(secret, web, token):
        raise PageForbidden("csrf")


async def _to_login(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)


async def _forbidden(request: Request, exc: Exception) -> Response:
    return render(
        request,
        "message.html",
        status_code=403,
        title="无权访问 / not allowed",
        text="此页面不对您的角色开放，或表单已过期，请刷新后重试。",
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(LoginRequired, _to_login)
    app.add_exception_handler(PageForbidden, _forbidden)
