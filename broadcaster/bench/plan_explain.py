"""`bench plan --explain` (PostgreSQL): planning's bulk writes run under EXPLAIN ANALYZE, so
each one's time splits into its own work and each trigger's (references, tallies, flags)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from broadcaster.db.database import Database

WRITES = (
    "INSERT INTO deliveries",
    "INSERT INTO recipients",
    "INSERT INTO visit_tasks",
    "UPDATE recipients",
)
PREFIX = "EXPLAIN (ANALYZE, FORMAT JSON) "


def explain_writes(db: Database) -> list[dict[str, Any]]:
    """Hook `db`'s engine: each bulk write of planning (no RETURNING, not executemany) is run
    under EXPLAIN ANALYZE (which performs it, triggers and all); the list fills with one entry
    per write: its statement, its total milliseconds and its triggers' milliseconds."""
    found: list[dict[str, Any]] = []

    @event.listens_for(db.engine, "before_cursor_execute", retval=True)
    def _explain(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, many: bool
    ) -> tuple[str, Any]:
        if many or not statement.lstrip().startswith(WRITES) or "RETURNING" in statement:
            return statement, parameters
        return PREFIX + statement, parameters

    @event.listens_for(db.engine, "after_cursor_execute")
    def _collect(
        _conn: Any, cursor: Any, statement: str, _params: Any, _ctx: Any, _many: bool
    ) -> None:
        if not statement.startswith(PREFIX):
            return
        (plan,) = cursor.fetchone()
        top = plan[0]
        triggers = {t["Trigger Name"]: round(t["Time"]) for t in top.get("Triggers", [])}
        found.append(
            {
                "statement": " ".join(statement[len(PREFIX) :].split())[:60],
                "ms": round(top["Planning Time"] + top["Execution Time"]),
                "triggers_ms": triggers,
            }
        )

    return found
