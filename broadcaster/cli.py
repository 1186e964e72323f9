"""The `broadcaster` command line: serve, worker, db, import, users, keys, demo, sim."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from broadcaster.auth.audit import Actor
from broadcaster.bench.cli import bench_app
from broadcaster.cli_accounts import audit_app, keys_app, secret, users_app
from broadcaster.db.database import Database
from broadcaster.db.migrate import upgrade
from broadcaster.demo_providers import Providers
from broadcaster.errors import BroadcasterError
from broadcaster.redis_embedded import EmbeddedRedis, resolve_redis_url
from broadcaster.settings import Settings, get_settings

app = typer.Typer(
    help="预警信息发布与到户确认服务 · warning broadcast and confirmation service",
    no_args_is_help=True,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(bench_app, name="bench")
app.add_typer(audit_app, name="audit")
app.command("secret")(secret)
console = Console()
CLI_ACTOR = Actor("cli")


def _database(settings: Settings) -> Database:
    return Database(settings.resolved_database_url)


def _redis(settings: Settings) -> tuple[Settings, EmbeddedRedis | None]:
    """Settings with a Redis URL: the configured one, else a private embedded server.

    The URL goes into the environment so child processes (uvicorn, workers) share it.
    """
    url, embedded = resolve_redis_url(settings)
    os.environ["BROADCASTER_REDIS_URL"] = url
    get_settings.cache_clear()
    return get_settings(), embedded


def _check_policies(settings: Settings) -> None:
    """Refuse to start on a policy file that leaves some household unaddressed."""
    from broadcaster.alerts.policy_check import PolicyRefused, check_policies

    try:
        check_policies(settings.config_dir)
    except PolicyRefused as exc:
        console.print(str(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(code=1) from None


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]{message}[/red]")
    return typer.Exit(code=1)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the database migrations (creates the SQLite file if needed)."""
    settings = get_settings()
    db = _database(settings)
    upgrade(db.engine, revision)
    console.print(
        f"database at {db.engine.url.render_as_string(hide_password=True)} is at {revision}"
    )


@app.command("serve")
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Run the API server (uvicorn)."""
    import uvicorn

    _check_policies(get_settings())
    _settings, embedded = _redis(get_settings())
    try:
        uvicorn.run(
            "broadcaster.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            env_file=None,
        )
    finally:
        if embedded is not None:
            embedded.stop()


@app.command("run")
def run(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="RQ worker processes")] = 2,
    api_processes: Annotated[int, typer.Option(min=1, max=64, help="uvicorn processes")] = 1,
) -> None:
    """Run the service on one machine: migrations, then the API and workers (and a private
    Redis unless one is configured), each started again if it exits, until SIGTERM/SIGINT."""
    from broadcaster.demo import service_commands
    from broadcaster.supervise import Supervisor

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    _check_policies(get_settings())
    settings, embedded = _redis(get_settings())
    db = _database(settings)
    upgrade(db.engine)
    db.dispose()
    supervisor = Supervisor(redis=embedded)
    commands = service_commands(
        app_factory="broadcaster.app:create_app",
        host=host,
        port=port,
        workers=workers,
        api_processes=api_processes,
    )
    for name, argv in commands:
        supervisor.add(name, argv, os.environ.copy())
    console.print(f"broadcaster on http://{host}:{port} with {workers} workers; Ctrl+C stops")
    supervisor.run()


@app.command("worker")
def worker(
    burst: Annotated[bool, typer.Option(help="exit when the queues are empty")] = False,
    fork: Annotated[bool, typer.Option(help="fork a work horse per job (slower)")] = False,
    scheduler: Annotated[bool, typer.Option(help="also run the periodic ticks")] = True,
    rq_log_level: Annotated[
        str, typer.Option(help="RQ's own log (a line per job at INFO)")
    ] = "WARNING",
) -> None:
    """Run an RQ worker on the project's queues."""
    from broadcaster.jobs import periodic_ticks
    from broadcaster.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    _check_policies(get_settings())
    settings, embedded = _redis(get_settings())
    try:
        run_worker(
            settings,
            burst=burst,
            with_scheduler=scheduler,
            worker_class="fork" if fork else "simple",
            periodic=periodic_ticks(settings) if scheduler else [],
            rq_log_level=rq_log_level.upper(),
        )
    finally:
        if embedded is not None:
            embedded.stop()


@app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help=".xlsx or .csv household file")],
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    groups: Annotated[
        bool, typer.Option("--groups", help="the file lists WeChat/QQ/WeCom groups (群登记表)")
    ] = False,
    shelters: Annotated[
        bool, typer.Option("--shelters", help="the file lists shelters (安置点)")
    ] = False,
) -> None:
    """Import households (户籍表), or with --groups groups, or with --shelters shelters; good
    rows are applied, bad rows reported by row number."""
    from broadcaster.registry.group_import import import_groups
    from broadcaster.registry.importer import import_households
    from broadcaster.registry.shelters import import_shelters

    if not file.is_file():
        raise _fail(f"文件不存在 / no such file: {file}")
    db = _database(get_settings())
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=as_json,
    ) as bar:
        task = bar.add_task("导入 / importing", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            with db.transaction() as session:
                if groups or shelters:
                    chosen = import_groups if groups else import_shelters
                    report = chosen(
                        session, data=file.read_bytes(), filename=file.name, actor=CLI_ACTOR
                    )
                else:
                    report = import_households(
                        session,
                        data=file.read_bytes(),
                        filename=file.name,
                        actor=CLI_ACTOR,
                        progress=progress,
                    )
        except BroadcasterError as exc:
            raise _fail(exc.message) from exc
    if as_json:
        typer.echo(report.model_dump_json())
        return
    _print_import_report(report)


def _print_import_report(report: object) -> None:
    from broadcaster.registry.importer import COLUMNS, ImportReport

    assert isinstance(report, ImportReport)
    console.print(
        f"新建 created {report.created} · 更新 updated {report.updated} · "
        f"未变 unchanged {report.unchanged} · 拒绝 rejected {report.rejected} "
        f"(共 {report.total_rows} 行 rows)"
    )
    for warning in report.warnings:
        console.print(f"[yellow]注意 / warning: {warning}[/yellow]")
    if report.problems:
        headings = {spec.key: spec.title for spec in COLUMNS}
        table = Table("行 row", "列 column", "值 value", "原因 reason")
        for p in report.problems:
            table.add_row(str(p.row), headings.get(p.column, p.column), p.value, p.reason)
        console.print(table)


@app.command("template")
def template(path: Annotated[Path, typer.Argument(help="where to write (.xlsx or .csv)")]) -> None:
    """Write an empty household import template with the bilingual header row."""
    from broadcaster.registry.importer import write_template

    write_template(path)
    console.print(f"template written to {path}")


@app.command("demo")
def demo(
    households: Annotated[int, typer.Option(min=10, max=1_000_000)] = 2000,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(min=1, max=16, help="RQ worker processes")] = 1,
    providers: Annotated[
        Providers,
        typer.Option(
            help="mainland: SMS by Aliyun then Tencent Cloud, calls by Aliyun; twilio: Twilio "
            "for both (the simulator plays them all)",
        ),
    ] = Providers.mainland,
) -> None:
    """Run everything on one machine: SQLite, Redis, simulator, API and worker, with a district."""
    from broadcaster.demo import run_demo

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    _check_policies(get_settings())
    run_demo(
        households=households,
        host=host,
        port=port,
        workers=workers,
        providers=providers,
    )


@app.command("sim")
def sim(host: str = "127.0.0.1", port: int = 8099) -> None:
    """Run the provider simulator alone (mounted at /sim)."""
    from broadcaster.demo import simulator_warning
    from broadcaster.sim import SimConfig, run_sim

    settings = get_settings()
    console.print(simulator_warning(f"http://{host}:{port}", host))
    config = SimConfig(
        accounts={settings.twilio.account_sid: settings.twilio.auth_token.get_secret_value()}
    )
    run_sim(host=host, port=port, config=config)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
