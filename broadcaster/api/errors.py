"""Maps domain errors and validation failures to JSON answers; never a bare 500."""

from __future__ import annotations

import logging
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from broadcaster.api.log_masking import mask
from broadcaster.db.retry import RETRY_AFTER_SECONDS, is_transient
from broadcaster.errors import BroadcasterError, Unauthenticated

log = logging.getLogger(__name__)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BroadcasterError)
    body: dict[str, Any] = {"error": exc.code, "message": exc.message}
    body.update({k: v for k, v in exc.detail.items() if v is not None})
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"field": _field_name(tuple(err.get("loc", ()))), "reason": err.get("msg", "invalid")}
        for err in exc.errors()
    ]
    first = problems[0] if problems else {"field": "body", "reason": "invalid"}
    return JSONResponse(
        {
            "error": "validation_failed",
            "message": f"{first['field']}: {first['reason']}",
            "field": first["field"],
            "problems": problems,
        },
        status_code=422,
    )


async def http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse(
        {"error": "http_error", "message": str(exc.detail)},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    """Two writers raced for the same unique value: the loser is told, nothing is half done."""
    log.info("integrity conflict: %s", exc)
    return JSONResponse(
        {
            "error": "conflict",
            "message": "并发修改冲突，请重试 / conflicting concurrent change, please retry",
        },
        status_code=409,
    )


async def unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database or Redis is down, dropped the connection or is busy: a 503 the client may
    retry, never a 500 (nothing was half done: the transaction rolled back)."""
    if isinstance(exc, SQLAlchemyError) and not is_transient(exc):
        return await unexpected_error(request, exc)
    log.warning(
        "%s %s: %s unavailable: %s",
        request.method,
        request.url.path,
        "Redis" if isinstance(exc, redis.RedisError) else "database",
        str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__,
    )
    return JSONResponse(
        {
            "error": "unavailable",
            "message": "服务暂时不可用，请稍后重试 / temporarily unavailable, please retry",
        },
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    path = mask(request.url.path)  # no personal tokens in logs
    log.exception("unhandled error on %s %s", request.method, path, exc_info=exc)
    return JSONResponse(
        {"error": "internal", "message": "internal error; it has been logged"}, status_code=500
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(BroadcasterError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(IntegrityError, integrity_error)
    app.add_exception_handler(SQLAlchemyError, unavailable)  # non-transient ones: a 500
    app.add_exception_handler(redis.RedisError, unavailable)
    app.add_exception_handler(Exception, unexpected_error)
