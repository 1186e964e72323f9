"""The console's login and logout."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from broadcaster.api.deps import get_db, get_settings_dep
from broadcaster.auth.models import Role
from broadcaster.auth.service import authenticate_password
from broadcaster.db.database import Database
from broadcaster.errors import Unauthenticated
from broadcaster.settings import Settings
from broadcaster.web import session as web_session
from broadcaster.web.auth import check_csrf
from broadcaster.web.templating import render

router = APIRouter(include_in_schema=False)
HOME = {Role.operator: "/operator", Role.field: "/field/"}


def _safe_next(target: str | None) -> str | None:
    """Only our own paths: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", next=_safe_next(next) or "", error=None)


@router.post("/login")
async def login(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    next: str = Form(""),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
) -> Response:
    def check() -> tuple[int, Role]:
        with db.read() as session:
            user = authenticate_password(session, username.strip(), password)
            return user.id, user.role

    try:
        user_id, role = await run_in_threadpool(check)
    except Unauthenticated:
        return render(
            request,
            "login.html",
            status_code=401,
            next=_safe_next(next) or "",
            error="用户名或密码错误 / wrong username or password",
        )
    secret = settings.secret_key.get_secret_value().encode()
    _session, cookie = web_session.issue(secret, user_id)
    response = RedirectResponse(_safe_next(next) or HOME.get(role, "/"), status_code=303)
    response.set_cookie(
        web_session.COOKIE,
        cookie,
        max_age=web_session.LIFETIME,
        httponly=True,
        samesite="lax",
        secure=settings.public_base_url.startswith("https"),
    )
    return response


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(web_session.COOKIE)
    return response
