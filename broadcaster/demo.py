"""`broadcaster demo`: the whole service on one machine with a generated district."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from fastapi import FastAPI
from rich.console import Console
from sqlalchemy import select

from broadcaster.app import create_app
from broadcaster.auth import service as auth_service
from broadcaster.auth.audit import SYSTEM
from broadcaster.auth.models import Role, User
from broadcaster.db.database import Database
from broadcaster.db.migrate import upgrade
from broadcaster.demo_providers import (
    Providers,
    banner_lines,
    mainland_accounts,
    provider_environment,
)
from broadcaster.redis_embedded import resolve_redis_url
from broadcaster.registry.models import Group, GroupKind
from broadcaster.sample.district import generate_district
from broadcaster.sample.logins import ensure_worker_logins
from broadcaster.settings import Settings, get_settings
from broadcaster.sim import NumberConfig, SimConfig, create_sim_app, sim_state
from broadcaster.sim.smtp import SmtpSink
from broadcaster.sim.twilio_calls import CallsSimConfig
from broadcaster.sim.wecom import WecomSimConfig
from broadcaster.supervise import Supervisor

console = Console()


def demo_environment(host: str, port: int, data_dir: Path, smtp_port: int) -> dict[str, str]:
    """Environment for the demo's processes: the simulator stands in for every provider."""
    base = f"http://{host}:{port}"
    return {
        "BROADCASTER_PUBLIC_BASE_URL": base,
        "BROADCASTER_TWILIO__API_BASE_URL": f"{base}/sim",
        "BROADCASTER_WECOM__API_BASE_URL": f"{base}/sim",
        "BROADCASTER_EMAIL__HOST": host,
        "BROADCASTER_EMAIL__PORT": str(smtp_port),
        "BROADCASTER_EMAIL__SECURITY": "none",
        "BROADCASTER_SIMULATOR_URL": f"{base}/sim",
        "BROADCASTER_SIMULATOR_SMTP": f"{host}:{smtp_port}",
        "BROADCASTER_BOOTSTRAP_API_KEY": _demo_key(data_dir),
    }


def _demo_key(data_dir: Path) -> str:
    """The demo's admin API key: configured, else kept in the data dir across runs."""
    configured = os.environ.get("BROADCASTER_BOOTSTRAP_API_KEY")
    if configured:
        return configured
    path = data_dir / "demo-api-key.txt"
    if path.is_file():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = "bk_demo_" + secrets.token_urlsafe(24)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def _admin_password(db: Database) -> str:
    """Give the demo admin a fresh console password and return it."""
    password = secrets.token_urlsafe(9)
    with db.transaction() as session:
        user = session.scalar(select(User).where(User.username == "admin"))
        if user is None:
            user = auth_service.create_user(
                session, username="admin", role=Role.admin, display_name="管理员", actor=SYSTEM
            )
        auth_service.set_password(session, user=user, password=password, actor=SYSTEM)
    return password


def simulator_config(settings: Settings, db: Database) -> SimConfig:
    """The simulator as the demo's providers: our Twilio account and number, the district's
    WeCom robots, calls answered by a person after half a second, and the accounts of the
    mainland providers in use (keys, approved templates, pushes to our hooks)."""
    twilio = settings.twilio
    with db.read() as session:
        robots = dict(
            session.execute(
                select(Group.webhook_key, Group.name).where(
                    Group.kind == GroupKind.wecom, Group.webhook_key.is_not(None)
                )
            ).all()
        )
    return SimConfig(
        accounts={twilio.account_sid: twilio.auth_token.get_secret_value()},
        numbers={
            twilio.from_number: NumberConfig(
                sms_url=settings.public_url("/hooks/twilio/sms/inbound")
            )
        },
        wecom=WecomSimConfig(keys=robots),
        calls=CallsSimConfig(auto_answer=True, answer_after_ms=500, silence_after_ms=20_000),
        **mainland_accounts(settings),
    )


def create_demo_app(settings: Settings | None = None) -> FastAPI:
    """The API with the provider simulator mounted at /sim."""
    settings = settings or get_settings()
    app = create_app(settings)
    sim_app = create_sim_app(simulator_config(settings, app.state.db))
    app.mount("/sim", sim_app)
    app.state.shutdown_hooks.append(sim_state(sim_app).aclose)
    return app


def simulator_warning(base: str, host: str) -> str:
    """The start-up notice that the simulator's control API has no authentication."""
    exposed = host not in ("127.0.0.1", "localhost", "::1")
    reach = (
        f"监听 {host}：网络上任何人都能访问！/ listening on {host}: anyone on the network can!"
        if exposed
        else "仅限本机访问 / reachable from this machine only"
    )
    return (
        "[bold red]⚠ 仅限演示 / DEMO ONLY[/bold red]: 供应商模拟器的控制接口未经认证 / "
        f"the provider simulator's control API is unauthenticated: {base}/sim/api/config "
        "shows and changes the provider auth token. "
        f"{reach}. 切勿用于生产 / never use the demo in production."
    )


def service_commands(
    *, app_factory: str, host: str, port: int, workers: int, api_processes: int = 1
) -> list[tuple[str, list[str]]]:
    """The processes of a single-machine install: the API (uvicorn) and the RQ workers."""
    api = [sys.executable, "-m", "uvicorn", app_factory, "--factory", "--host", host]
    api += ["--port", str(port), "--log-level", "info", "--no-access-log"]
    if api_processes > 1:
        api += ["--workers", str(api_processes)]
    worker = [sys.executable, "-m", "broadcaster.cli", "worker"]
    return [("api", api)] + [(f"worker-{n}", worker) for n in range(workers)]


def run_demo(
    *,
    households: int,
    host: str,
    port: int,
    workers: int,
    providers: Providers = Providers.mainland,
) -> None:
    """Prepare the district, then supervise API + simulator, workers and the private Redis
    until SIGTERM/SIGINT; a child that exits is started again. The simulator plays the
    chosen providers (mainland: Aliyun SMS, then Tencent SMS, and Aliyun voice)."""
    settings = get_settings()
    smtp = SmtpSink()
    smtp_port = smtp.start(host, 0)
    os.environ.update(demo_environment(host, port, settings.data_dir, smtp_port))
    os.environ.update(provider_environment(providers, f"http://{host}:{port}"))
    url, embedded = resolve_redis_url(settings)
    os.environ["BROADCASTER_REDIS_URL"] = url
    get_settings.cache_clear()
    settings = get_settings()
    db = Database(settings.resolved_database_url)
    upgrade(db.engine)
    with console.status(f"生成示范区 / generating a district of {households} households"):
        summary = generate_district(db, households=households)
    password = _admin_password(db)
    with db.transaction() as session:
        logins = ensure_worker_logins(session)
    db.dispose()
    supervisor = Supervisor(redis=embedded)
    commands = service_commands(
        app_factory="broadcaster.demo:create_demo_app", host=host, port=port, workers=workers
    )
    for name, argv in commands:
        supervisor.add(name, argv, os.environ.copy())
    base = settings.public_base_url
    console.print(
        f"\n[bold]broadcaster demo[/bold]  {base}\n"
        f"  district: {summary.households} households, {summary.people} people, "
        f"{summary.grids} grids ({'generated' if summary.created else 'reused'})\n"
        f"  console login: admin / {password}\n"
        f"  field worker login: {logins.field} / {logins.password}   ({base}/field/)\n"
        f"  loudspeaker operator login: {logins.operator} / {logins.password}   ({base}/operator)\n"
        f"  every demo worker: <role>-<worker id> (lead-1, operator-2, field-3…), same password\n"
        f"  API key (admin): {os.environ['BROADCASTER_BOOTSTRAP_API_KEY']}\n"
        f"  API docs: {base}/docs   simulator: {base}/sim/api/wecom/messages · "
        f"{base}/sim/api/ipcast · SMTP {host}:{smtp_port}\n"
        f"  public page: {base}/public\n" + "\n".join(banner_lines(settings, base)) + "\n"
    )
    console.print(simulator_warning(base, host))
    try:
        supervisor.run()
    finally:
        smtp.stop()
        if embedded is not None:
            embedded.stop()
