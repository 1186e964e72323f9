"""References PostgreSQL checks per statement instead of with per-row foreign keys (0019, 0024)."""

from __future__ import annotations

from typing import Any

# (table, column): the models declare them as foreign keys (SQLite keeps them as such); on
# PostgreSQL statement-level triggers check them as a set, for the planning's bulk inserts.
STATEMENT_CHECKED = frozenset(
    {
        ("deliveries", "alert_id"),
        ("deliveries", "recipient_id"),
        ("deliveries", "person_id"),
        ("deliveries", "group_id"),
        ("deliveries", "loudspeaker_id"),
        ("deliveries", "resend_of"),
        ("recipients", "alert_id"),
        ("recipients", "household_id"),
        ("visit_tasks", "alert_id"),
        ("visit_tasks", "recipient_id"),
        ("visit_tasks", "household_id"),
        ("visit_tasks", "worker_id"),
        ("visit_tasks", "reassigned_from"),
    }
)


def checked_per_statement(obj: Any, _name: Any, type_: str, reflected: bool, _compare: Any) -> bool:
    """For alembic's `include_object`: False for a model foreign key that PostgreSQL checks
    with triggers (so comparing the models with a PostgreSQL schema leaves it out)."""
    if type_ != "foreign_key_constraint" or reflected:
        return True
    columns = tuple(obj.column_keys)
    return not (len(columns) == 1 and (obj.table.name, columns[0]) in STATEMENT_CHECKED)
