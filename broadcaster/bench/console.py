"""`python -m broadcaster.bench.console`: render time of every console page on a large district.

A generated district (100,000 households by default) gets a red alert to every household,
two thirds of them answered, some asking for help, visits and loudspeaker tasks; then each
page is requested `--runs` times in-process (after one warm-up) and the median, p95 and
maximum are printed, with one JSON line. Budget: 300 ms per page.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from broadcaster.alerts.models import AlertSource
from broadcaster.alerts.schemas import AlertIn
from broadcaster.app import create_app
from broadcaster.auth import service as auth_service
from broadcaster.auth.audit import SYSTEM, Actor
from broadcaster.auth.models import Role
from broadcaster.bench import machine as m
from broadcaster.bench.scratch import scratch_database
from broadcaster.db.database import Database
from broadcaster.flows.issuing import issue_alert
from broadcaster.settings import Settings
from broadcaster.web.console.events import read_snapshot
from channels.registry import registered

BUDGET_MS = 300.0
PASSWORD = "bench-console-password"  # noqa: S105
PAGES = (
    ("dashboard", "/console"),
    ("fragment coverage", "/console/fragments/coverage?alert={alert}"),
    ("fragment help", "/console/fragments/help"),
    ("grids of a village", "/console/alerts/{alert}/coverage/{village}"),
    ("compose", "/console/compose"),
    ("compose grids", "/console/compose/zones/{village}"),
    ("alert list", "/console/alerts"),
    ("alert page", "/console/alerts/{alert}"),
    ("alert coverage (opened)", "/console/alerts/{alert}/coverage"),
    ("alert: unconfirmed", "/console/alerts/{alert}?status=unconfirmed"),
    ("alert: vulnerable, page 20", "/console/alerts/{alert}?vulnerable=1&page=20"),
    ("alert: needs help in a village", "/console/alerts/{alert}?status=needs_help&zone=T01V01"),
    ("alert: last page", "/console/alerts/{alert}?page=2000"),
    ("report", "/console/alerts/{alert}/report"),
    ("situation report", "/console/alerts/{alert}/situation"),
    ("situation, today's alerts", "/console/situation"),
    ("duty shift", "/console/duty"),
    ("fragment shift", "/console/fragments/shift"),
    ("audit of the alert", "/console/audit?alert={alert}"),
    ("registry households", "/console/registry"),
    ("registry search", "/console/registry?q=%E5%BC%A0&vulnerable=1"),
    ("registry zones", "/console/registry?tab=zones"),
    ("registry workers", "/console/registry?tab=workers&page=10"),
    ("registry groups", "/console/registry?tab=groups"),
    ("registry speakers", "/console/registry?tab=speakers"),
    ("household", "/console/registry/households/{household}"),
)
EXPORTS = (
    ("export csv (unconfirmed)", "/console/alerts/{alert}/recipients.csv?status=unconfirmed"),
    ("export xlsx (needs help)", "/console/alerts/{alert}/recipients.xlsx?status=needs_help"),
    ("report xlsx", "/console/alerts/{alert}/report.xlsx"),
    ("situation xlsx", "/api/v1/alerts/{alert}/situation-report?format=xlsx"),
)

# What happened after issue, set-based: 60 % confirmed, 2 % needing help, 10 % visited,
# 10 % reached without an answer, the rest pending; deliveries mostly delivered.
PROGRESS_SQL = (
    """UPDATE recipients SET state = CASE
         WHEN id % 50 = 7 THEN 'needs_help' WHEN id % 10 < 6 THEN 'confirmed'
         WHEN id % 10 = 8 THEN 'visited' WHEN id % 10 = 9 THEN 'reached' ELSE state END
       WHERE alert_id = :alert""",
    """UPDATE deliveries SET state = CASE WHEN id % 10 < 8 THEN 'delivered'
         WHEN id % 10 = 8 THEN 'failed' ELSE state END, error_code = CASE WHEN id % 10 = 8
         THEN '30003' ELSE error_code END WHERE alert_id = :alert""",
    """INSERT INTO confirmations (alert_id, recipient_id, via, answer, by, text, at)
       SELECT alert_id, id, 'sms_reply', CASE WHEN state = 'needs_help' THEN 'needs_help'
         ELSE 'safe' END, 'bench', '', :now FROM recipients
       WHERE alert_id = :alert AND state IN ('confirmed', 'needs_help')""",
    """INSERT INTO help_requests (alert_id, recipient_id, confirmation_id, opened_at, note)
       SELECT alert_id, recipient_id, id, at, '' FROM confirmations
       WHERE alert_id = :alert AND answer = 'needs_help'""",
)


def seed(db: Database, settings: Settings) -> dict[str, Any]:
    """An officer, a red alert to the whole district, and its progress."""
    with db.transaction() as session:
        auth_service.create_user(
            session, username="bench-officer", role=Role.officer, password=PASSWORD, actor=SYSTEM
        )
    body = AlertIn.model_validate(
        {
            "hazard": "rain",
            "level": "red",
            "headline": "示范区未来3小时将出现100毫米以上特大暴雨",
            "body": "预计未来3小时内降雨量将达100毫米以上。",
            "instruction": "请立即转移到安全地带。",
            "zones": ["DEMO"],
        }
    )
    started = time.perf_counter()
    with db.transaction() as session:
        issued = issue_alert(
            session,
            body=body,
            actor=Actor("user:bench-officer"),
            source=AlertSource.officer,
            settings=settings,
            available_channels=set(registered()),
        )
        alert_id = issued.alert.id
        issued_at = issued.alert.issued_at
    planned = time.perf_counter() - started
    assert issued_at is not None
    sqlite = db.dialect == "sqlite"
    # SQLite keeps UTC timestamps as naive text; PostgreSQL takes the aware datetime.
    now: Any = issued_at.replace(tzinfo=None).isoformat(sep=" ") if sqlite else issued_at
    with db.transaction() as session:
        for statement in PROGRESS_SQL:
            session.execute(text(statement), {"alert": alert_id, "now": now})
        spread = (
            "final_at = datetime(:now, '+' || (id % 1500) || ' seconds')"
            if sqlite
            else "final_at = CAST(:now AS timestamptz) + (id % 1500) * interval '1 second'"
        )
        session.execute(
            text(
                f"UPDATE recipients SET {spread}, reached_at = :now "  # noqa: S608
                "WHERE alert_id = :alert AND state IN ('confirmed', 'needs_help', 'visited')"
            ),
            {"alert": alert_id, "now": now},
        )
        village = session.execute(text("SELECT id FROM zones WHERE code = 'T01V01'")).scalar_one()
        household = session.execute(text("SELECT code FROM households LIMIT 1")).scalar_one()
    if db.dialect == "postgresql":  # what autovacuum does minutes after a big change
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:
        with db.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    return {"alert": alert_id, "village": village, "household": household, "plan_s": planned}


def timed(client: TestClient, url: str, runs: int) -> dict[str, Any]:
    first = client.get(url)
    if first.status_code != 200:
        raise RuntimeError(f"{url}: {first.status_code} {first.text[:300]}")
    spent = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = client.get(url)
        spent.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, url
    return {
        "median_ms": round(statistics.median(spent), 1),
        "p95_ms": round(m.percentile(spent, 0.95), 1),
        "max_ms": round(max(spent), 1),
        "bytes": len(first.content),
    }


def say(line: str) -> None:
    print(line, file=sys.stderr)


def measure(option: str | None, households: int, runs: int) -> dict[str, Any]:
    with scratch_database(option, households, say) as scratch:
        url = scratch.next_run()
        settings = Settings(env="test", database_url=url, secret_key="bench-console-secret")  # noqa: S106
        db = Database(url)
        try:
            ids = seed(db, settings)
            say(f"alert #{ids['alert']} planned in {ids['plan_s']:.1f} s; measuring")
            figures: dict[str, Any] = {}
            with TestClient(create_app(settings, db)) as client:
                login = client.post(
                    "/login", data={"username": "bench-officer", "password": PASSWORD}
                )
                assert login.status_code in (200, 303), login.text
                for name, path in PAGES:
                    figures[name] = timed(client, path.format(**ids), runs)
                for name, path in EXPORTS:
                    figures[name] = timed(client, path.format(**ids), 1)
            spent = []
            for _ in range(runs):
                started = time.perf_counter()
                read_snapshot(db, ids["alert"])
                spent.append((time.perf_counter() - started) * 1000)
            figures["event stream tick"] = {"median_ms": round(statistics.median(spent), 1)}
        finally:
            db.dispose()
    return {
        "households": households,
        "database": scratch.dialect,
        "runs": runs,
        "budget_ms": BUDGET_MS,
        "pages": figures,
        "machine": m.machine(),
    }


def print_table(result: dict[str, Any]) -> None:
    print(f"console pages, {result['households']:,} households, {result['database']}")
    print(f"{'page':<34}{'median':>9}{'p95':>9}{'max':>9}  budget")
    for name, f in result["pages"].items():
        over = "" if f["median_ms"] <= BUDGET_MS or name.startswith("export") else "  OVER"
        if "report xlsx" in name:
            over = ""
        print(
            f"{name:<34}{f['median_ms']:>9}{f.get('p95_ms', ''):>9}{f.get('max_ms', ''):>9}{over}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--database-url", default=None, help="sqlite (default) or postgresql")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    result = measure(args.database_url, args.households, args.runs)
    print_table(result)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
