"""FastAPI app factory: state, routers, middleware and error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from broadcaster import __version__
from broadcaster.api import errors
from broadcaster.api.health import router as health_router
from broadcaster.auth.routes import router as auth_router
from broadcaster.db.database import Database
from broadcaster.registry.routes import router as registry_router
from broadcaster.settings import Settings, get_settings


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    """Build the API application for one deployment's settings."""
    settings = settings or get_settings()
    db = db or Database(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        db.dispose()

    app = FastAPI(
        title="broadcaster",
        version=__version__,
        summary="预警信息发布与到户确认服务 · warning broadcast and household confirmation",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    errors.install(app)
    app.include_router(health_router)
    app.include_router(auth_router, prefix="/api/v1")
    app.include_router(registry_router, prefix="/api/v1")
    return app
