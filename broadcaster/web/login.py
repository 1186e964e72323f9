"""The console's login and logout."""

from __future__ import annotations

import math

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from broadcaster.api.deps import client_ip, get_db, get_settings_dep
from broadcaster.auth import cookies as web_session
from broadcaster.auth.login import sign_in, sign_out
from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.settings import Settings
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
    outcome = await run_in_threadpool(
        sign_in,
        db,
        username=username,
        password=password,
        source_ip=client_ip(request),
        settings=settings.security,
    )
    if outcome.token is None or outcome.user_id is None:
        wait = math.ceil(outcome.retry_after)
        error = "用户名或密码错误 / wrong username or password"
        if wait:
            error = (
                f"登录失败次数过多，请 {wait} 秒后再试 / "
                f"too many failed sign-ins, try again in {wait} s"
            )
        response = render(
            request,
            "login.html",
            status_code=429 if wait else 401,
            next=_safe_next(next) or "",
            error=error,
        )
        if wait:
            response.headers["Retry-After"] = str(wait)
        return response
    secret = settings.secret_key.get_secret_value().encode()
    lifetime = settings.security.session_hours * 3600
    _session, cookie = web_session.issue(
        secret, outcome.user_id, nonce=outcome.token, lifetime=lifetime
    )
    home = HOME.get(outcome.role, "/") if outcome.role else "/"
    redirect = RedirectResponse(_safe_next(next) or home, status_code=303)
    redirect.set_cookie(
        web_session.COOKIE,
        cookie,
        max_age=int(lifetime),
        httponly=True,
        samesite="lax",
        secure=settings.public_base_url.startswith("https"),
    )
    return redirect


@router.post("/logout")
def logout(request: Request, csrf: str = Form(""), db: Database = Depends(get_db)) -> Response:
    check_csrf(request, csrf)
    web = web_session.current(request)
    if web is not None:
        sign_out(db, token=web.nonce, source_ip=client_ip(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(web_session.COOKIE)
    return response
