"""Nothing exposed by default: tokens masked in the access log, the SQLite file 0600, API
docs off in production, the demo simulator's open control API announced at start-up."""

from __future__ import annotations

import logging
import os
import secrets
import stat
import threading
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import text

from broadcaster.api.log_masking import mask
from broadcaster.app import create_app
from broadcaster.db.database import Database
from broadcaster.db.engine import make_engine
from broadcaster.demo import simulator_warning
from broadcaster.settings import Settings
from tests.stack import free_port, wait_until

TOKEN = "AbCdEf0123456789_-xyz"


def test_tokens_never_reach_the_access_log(
    db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A real uvicorn server with its access log on, as `broadcaster serve` runs it."""
    port = free_port()
    config = uvicorn.Config(create_app(settings, db), host="127.0.0.1", port=port, log_level="info")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    access = logging.getLogger("uvicorn.access")
    try:
        wait_until(lambda: server.started, timeout=30)
        access.addHandler(caplog.handler)  # uvicorn's own configuration is in place now
        base = f"http://127.0.0.1:{port}"
        for path in (f"/c/{TOKEN}", f"/relay/{TOKEN}", f"/relay/{TOKEN}?lang=en", "/healthz"):
            httpx.get(base + path, timeout=10)
    finally:
        access.removeHandler(caplog.handler)
        server.should_exit = True
        thread.join(timeout=15)
    lines = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert len(lines) == 4, lines
    assert not any(TOKEN in line for line in lines)
    assert any("/c/*** " in line for line in lines)
    assert any("/relay/***?lang=en" in line for line in lines)
    assert any("/healthz" in line for line in lines)


def test_mask_keeps_other_paths() -> None:
    assert mask("/console/alerts/3") == "/console/alerts/3"
    assert mask("/c/abc/done?t=xyz") == "/c/***/done?t=***"


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_sqlite_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "broadcaster.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (1)"))
    for file in [path, *path.parent.glob("broadcaster.db-*")]:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    engine.dispose()
    path.chmod(0o644)  # a file from before this release is tightened on start
    make_engine(f"sqlite:///{path}").dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def _production(tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        env="production",
        data_dir=tmp_path,
        secret_key=secrets.token_urlsafe(32),  # type: ignore[arg-type]
        twilio={"account_sid": "AC" + secrets.token_hex(16), "auth_token": secrets.token_hex(16)},  # type: ignore[arg-type]
        **extra,  # type: ignore[arg-type]
    )


def test_api_docs_are_off_in_production(db: Database, tmp_path: Path) -> None:
    with TestClient(create_app(_production(tmp_path), db)) as client:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert client.get(path).status_code == 404, path
    enabled = _production(tmp_path, security={"api_docs": True})
    with TestClient(create_app(enabled, db)) as client:
        assert client.get("/openapi.json").status_code == 200


def test_api_docs_are_on_in_development(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200


def test_demo_announces_the_unauthenticated_simulator() -> None:
    local = simulator_warning("http://127.0.0.1:8000", "127.0.0.1")
    assert "/sim/api/config" in local
    assert "未经认证" in local
    assert "unauthenticated" in local
    exposed = simulator_warning("http://10.0.0.5:8000", "0.0.0.0")
    assert "anyone on the network" in exposed
