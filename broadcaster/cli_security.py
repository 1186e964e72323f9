"""The `broadcaster audit verify` and `broadcaster secret` commands."""

from __future__ import annotations

import secrets

import typer
from rich.console import Console

from broadcaster.auth.chain import verify
from broadcaster.db.database import Database
from broadcaster.settings import get_settings

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
console = Console()


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
