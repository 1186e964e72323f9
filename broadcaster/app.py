"""FastAPI app factory: state, routers, middleware and error mapping."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError

from broadcaster import __version__
from broadcaster.alerts.policy_check import check_policies
from broadcaster.alerts.visibility import audio_url
from broadcaster.api import errors, log_masking
from broadcaster.api.alert_changes import router as alert_changes_router
from broadcaster.api.alerts import router as alerts_router
from broadcaster.api.audit import router as audit_router
from broadcaster.api.duty_board import router as confirm_api_router
from broadcaster.api.feeds import router as feeds_router
from broadcaster.api.health import router as health_router
from broadcaster.api.hooks import router as hooks_router
from broadcaster.api.hooks_fast import FastHooks
from broadcaster.api.loudspeakers import router as loudspeaker_router
from broadcaster.api.registry import router as registry_router
from broadcaster.api.retry_reads import RetryReads
from broadcaster.api.security_headers import SecurityHeaders
from broadcaster.api.shelters import router as shelters_router
from broadcaster.api.shifts import router as shifts_router
from broadcaster.api.situation import router as situation_router
from broadcaster.api.users import router as auth_router
from broadcaster.api.visits import router as visits_router
from broadcaster.auth.service import ensure_bootstrap_key
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.lookups import mark_callback_gap
from broadcaster.flows.receipts import report_committer
from broadcaster.flows.replies import inbound_committer
from broadcaster.jobs import periodic_ticks
from broadcaster.public.cap import router as cap_out_router
from broadcaster.public.routes import router as public_router
from broadcaster.queues import connect
from broadcaster.reports.counts import CountsCache
from broadcaster.settings import Settings, get_settings
from broadcaster.ticks import Ticker
from broadcaster.web import STATIC_DIR
from broadcaster.web import auth as page_auth
from broadcaster.web.console import router as console_router
from broadcaster.web.field import router as field_router
from broadcaster.web.links import router as links_router
from broadcaster.web.login import router as login_router
from broadcaster.web.operator import router as operator_router
from broadcaster.web.relay import api as relay_router
from broadcaster.web.relay import pages as relay_pages

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    """Build the API application for one deployment's settings."""
    settings = settings or get_settings()
    check_policies(settings.config_dir)  # a level leaving a household unaddressed: no start
    db = db or Database(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.bootstrap_api_key is not None:
            ensure_bootstrap(db, settings.bootstrap_api_key.get_secret_value())
        ticker = start_api_ticker(settings)
        yield
        if ticker is not None:
            ticker.stop()
        for hook in _app.state.shutdown_hooks:
            await hook()
        await _app.state.status_reports.close()
        await _app.state.inbound_replies.close()
        db.dispose()

    docs = settings.security.api_docs
    if docs is None:
        docs = settings.env != "production"
    app = FastAPI(
        title="broadcaster",
        version=__version__,
        summary="预警信息发布与到户确认服务 · warning broadcast and household confirmation",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    log_masking.install()
    app.state.settings = settings
    app.state.db = db
    app.state.redis = connect(settings.redis_url) if settings.redis_url else None
    app.state.status_reports = report_committer(db, settings)
    app.state.counts_cache = CountsCache()
    app.state.inbound_replies = inbound_committer(db, settings, app.state.redis)
    app.state.hook_channels = {}
    app.state.shutdown_hooks = []
    app.state.voice_audio = lambda alert, _language: audio_url(settings, alert)
    errors.install(app)
    app.add_middleware(RetryReads)
    # Provider webhooks first: routes are matched in order, and these are the hot paths
    # (thousands of status callbacks a second during a fan-out).
    app.include_router(hooks_router)
    app.include_router(health_router)
    app.include_router(auth_router, prefix="/api/v1")
    app.include_router(audit_router, prefix="/api/v1")
    app.include_router(registry_router, prefix="/api/v1")
    app.include_router(shelters_router, prefix="/api/v1")
    app.include_router(alerts_router, prefix="/api/v1")
    app.include_router(alert_changes_router, prefix="/api/v1")
    app.include_router(confirm_api_router, prefix="/api/v1")
    app.include_router(loudspeaker_router, prefix="/api/v1")
    app.include_router(feeds_router, prefix="/api/v1")
    app.include_router(visits_router, prefix="/api/v1")
    app.include_router(relay_router, prefix="/api/v1")
    app.include_router(situation_router, prefix="/api/v1")
    app.include_router(shifts_router, prefix="/api/v1")
    app.include_router(public_router)
    app.include_router(cap_out_router)
    app.include_router(login_router)
    app.include_router(operator_router)
    app.include_router(field_router)
    app.include_router(console_router)
    page_auth.install(app)
    app.include_router(links_router)
    app.include_router(relay_pages)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(
        SecurityHeaders,
        https=settings.public_base_url.startswith("https://"),
        hsts_seconds=settings.security.hsts_seconds,
    )
    app.add_middleware(FastHooks, owner=app)  # outermost: receipts and replies skip the rest
    return app


def start_api_ticker(settings: Settings) -> Ticker | None:
    """This API process takes its share of the cluster-wide ticks (see broadcaster.ticks)."""
    if not settings.redis_url or not settings.api_ticks:
        return None
    ticker = Ticker(
        settings.redis_url,
        settings,
        periodic_ticks(settings),
        owner=f"api-{socket.gethostname()}-{os.getpid()}",
    )
    ticker.start()
    note_restart(settings)
    return ticker


def note_restart(settings: Settings) -> None:
    """Status callbacks may have been lost while this API was away: what was sent before
    now and never looked up is looked up a grace from now, not minutes later."""
    assert settings.redis_url
    connection = connect(settings.redis_url)
    try:
        mark_callback_gap(connection, settings, utcnow())
    except redis.RedisError as exc:  # Redis away: the ordinary look-up schedule covers it
        log.warning("could not mark the callback gap of this start: %s", exc)
    finally:
        connection.close()


def ensure_bootstrap(db: Database, key: str) -> None:
    """Make the configured bootstrap key an admin key (several processes may race here)."""
    try:
        with db.transaction() as session:
            ensure_bootstrap_key(session, key=key)
    except IntegrityError:
        with db.transaction() as session:  # another process won the race; check its result
            ensure_bootstrap_key(session, key=key)
