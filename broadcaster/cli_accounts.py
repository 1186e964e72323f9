"""Accounts and their safety: `broadcaster users`, `keys`, `audit verify` and `secret`."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer
from rich.console import Console

from broadcaster.auth import service as auth_service
from broadcaster.auth.audit import Actor
from broadcaster.auth.chain import verify
from broadcaster.auth.models import User
from broadcaster.db.database import Database
from broadcaster.errors import BroadcasterError
from broadcaster.settings import Settings, get_settings

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
users_app = typer.Typer(help="Users of the console and API.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
console = Console()
CLI_ACTOR = Actor("cli")


def _database(settings: Settings) -> Database:
    return Database(settings.resolved_database_url)


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]{message}[/red]")
    return typer.Exit(code=1)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit log's hash chain; exit 1 naming every edited or deleted row."""
    db = Database(get_settings().resolved_database_url)
    try:
        with db.read() as session:
            verdict = verify(session)
    finally:
        db.dispose()
    for problem in verdict.problems:
        console.print(f"[red]{problem.kind}: {problem.text}[/red]", highlight=False)
    console.print(
        f"{verdict.rows} audit rows, head seq {verdict.head_seq} hash {verdict.head_hash}",
        highlight=False,
    )
    if verdict.problems:
        console.print(
            f"[red]审计日志已被篡改 / audit log tampered: {len(verdict.problems)} problem(s)[/red]"
        )
        raise typer.Exit(code=1)
    console.print("审计日志完整 / audit chain intact (keep the head hash to detect a cut tail)")


def secret() -> None:
    """Print a fresh secret key for BROADCASTER_SECRET_KEY (256 random bits)."""
    typer.echo(secrets.token_urlsafe(32))


@users_app.command("create")
def users_create(
    username: str,
    role: Annotated[str, typer.Option(help="admin, officer, feed, operator, field or lead")],
    worker: Annotated[
        str | None,
        typer.Option(help="the worker's phone: the login works that worker's tasks"),
    ] = None,
    display_name: str = "",
    password: Annotated[
        str | None,
        typer.Option(help="console password (for a worker's login, generated and shown if empty)"),
    ] = None,
) -> None:
    """Create a user; with --worker, the login of that field worker, lead or operator."""
    from broadcaster.registry.logins import create_worker_login, new_password

    shown = password is None and worker is not None
    password = new_password() if shown else password
    db = _database(get_settings())
    try:
        with db.transaction() as session:
            user, linked = create_worker_login(
                session,
                username=username,
                role=role,
                worker_phone=worker,
                display_name=display_name,
                password=password,
                actor=CLI_ACTOR,
            )
            text = f"user {user.username} ({user.role.value}) created, id {user.id}"
            if linked is not None:
                text += f", worker {linked.name} {linked.phone} ({linked.role.value})"
    except BroadcasterError as exc:
        raise _fail(exc.message) from exc
    console.print(text)
    if shown:
        console.print(f"password: [bold]{password}[/bold]  (不会再次显示 / not shown again)")


@users_app.command("password")
def users_password(
    username: str,
    password: Annotated[
        str | None, typer.Option(help="the new password (generated and shown if empty)")
    ] = None,
) -> None:
    """Set a user's console password (e.g. for a login made by a household import)."""
    from sqlalchemy import select

    from broadcaster.registry.logins import new_password

    shown = password is None
    password = password or new_password()
    db = _database(get_settings())
    try:
        with db.transaction() as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                raise _fail(f"no such user: {username}")
            auth_service.set_password(session, user=user, password=password, actor=CLI_ACTOR)
    except BroadcasterError as exc:
        raise _fail(exc.message) from exc
    console.print(f"password of {username} set")
    if shown:
        console.print(f"password: [bold]{password}[/bold]  (不会再次显示 / not shown again)")


@keys_app.command("create")
def keys_create(
    username: Annotated[str, typer.Option("--user", help="the key's user")],
    name: str = "",
) -> None:
    """Issue an API key for a user; the key is printed once and never again."""
    from sqlalchemy import select

    db = _database(get_settings())
    with db.transaction() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise _fail(f"no such user: {username}")
        row, key = auth_service.create_api_key(session, user=user, name=name, actor=CLI_ACTOR)
    console.print(f"key {row.id} for {username}: [bold]{key}[/bold]")
    console.print("保存好它：不会再次显示 / store it now: it is not shown again")


@keys_app.command("revoke")
def keys_revoke(key_id: int) -> None:
    """Revoke an API key."""
    db = _database(get_settings())
    try:
        with db.transaction() as session:
            auth_service.revoke_api_key(session, key_id=key_id, actor=CLI_ACTOR)
    except BroadcasterError as exc:
        raise _fail(exc.message) from exc
    console.print(f"key {key_id} revoked")
