"""PostgreSQL checks the references of visit tasks once per statement too

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 22:00:00

Planning opens a visit task for every vulnerable household as it goes (100,000 of a million
households); their five foreign keys fired a trigger event per row and key (2.5 s of the
million's planning under EXPLAIN ANALYZE). Like 0019's: statement-level triggers check the
statement's new rows as a set. The alert, recipient and household of a task never change; its
worker and the worker it was taken from do (a reassignment), so those two are checked again
after every UPDATE statement, over the rows it changed. A worker, alert, recipient or
household still referred to by a task is not deleted. SQLite keeps its foreign keys.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIXED = (
    ('alert_id', 'alerts', 'fk_visit_tasks_alert_id_alerts'),
    ('recipient_id', 'recipients', 'fk_visit_tasks_recipient_id_recipients'),
    ('household_id', 'households', 'fk_visit_tasks_household_id_households'),
)
MOVABLE = (
    ('worker_id', 'workers', 'fk_visit_tasks_worker_id_workers'),
    ('reassigned_from', 'workers', 'fk_visit_tasks_reassigned_from_workers'),
)
# The referenced tables' delete checks of 0019 (their existing users), and the new ones
KEPT_BEFORE = {
    'alerts': (('deliveries', 'alert_id'), ('recipients', 'alert_id')),
    'recipients': (('deliveries', 'recipient_id'),),
    'households': (('recipients', 'household_id'),),
    'workers': (),
}

# 0019's, with the statement's operation in its message (it now checks updates too)
REFERENCES_EXIST = r"""
CREATE OR REPLACE FUNCTION references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    i integer := 0;
    missing bigint;
BEGIN
    WHILE i < TG_NARGS LOOP
        EXECUTE format(
            'SELECT n.%1$I FROM (SELECT DISTINCT %1$I FROM new_rows WHERE %1$I IS NOT NULL) n '
            'WHERE NOT EXISTS (SELECT 1 FROM %2$I r WHERE r.id = n.%1$I) LIMIT 1',
            TG_ARGV[i], TG_ARGV[i + 1]) INTO missing;
        IF missing IS NOT NULL THEN
            RAISE EXCEPTION '% on table "%" violates its reference %.% = %: no such row in "%"',
                lower(TG_OP), TG_TABLE_NAME, TG_TABLE_NAME, TG_ARGV[i], missing, TG_ARGV[i + 1]
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        i := i + 2;
    END LOOP;
    RETURN NULL;
END $$;
"""


def _quoted(*words: str) -> str:
    return ', '.join(f"'{w}'" for w in words)


def _pairs(references: Sequence[tuple[str, str, str]]) -> str:
    return _quoted(*(w for column, target, _name in references for w in (column, target)))


def _kept(target: str, users: Sequence[tuple[str, str]]) -> None:
    """(Re)create the delete check of `target` for these (table, column) users."""
    op.execute(f'DROP TRIGGER IF EXISTS {target}_references_kept ON {target}')
    if not users:
        return
    op.execute(
        f'CREATE TRIGGER {target}_references_kept AFTER DELETE ON {target} '
        f'REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT '
        f'EXECUTE FUNCTION references_kept({_quoted(*(w for user in users for w in user))})'
    )


def _users(target: str) -> list[tuple[str, str]]:
    mine = [('visit_tasks', c) for c, t, _n in FIXED + MOVABLE if t == target]
    return [*KEPT_BEFORE[target], *mine]


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(REFERENCES_EXIST)
    for _column, _target, name in FIXED + MOVABLE:
        op.drop_constraint(name, 'visit_tasks', type_='foreignkey')
    op.execute(
        'CREATE TRIGGER visit_tasks_references_exist AFTER INSERT ON visit_tasks '
        'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT '
        f'EXECUTE FUNCTION references_exist({_pairs(FIXED + MOVABLE)})'
    )
    op.execute(
        'CREATE TRIGGER visit_tasks_references_moved AFTER UPDATE ON visit_tasks '
        'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT '
        f'EXECUTE FUNCTION references_exist({_pairs(MOVABLE)})'
    )
    fixed = ', '.join(c for c, _t, _n in FIXED)
    op.execute(
        f'CREATE TRIGGER visit_tasks_references_fixed BEFORE UPDATE OF {fixed} ON visit_tasks '
        f'FOR EACH ROW EXECUTE FUNCTION references_fixed({_quoted(*fixed.split(", "))})'
    )
    for target in KEPT_BEFORE:
        _kept(target, _users(target))


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for target, users in KEPT_BEFORE.items():
        _kept(target, users)
    for trigger in ('references_fixed', 'references_moved', 'references_exist'):
        op.execute(f'DROP TRIGGER visit_tasks_{trigger} ON visit_tasks')
    for column, target, name in FIXED + MOVABLE:
        op.create_foreign_key(name, 'visit_tasks', target, [column], ['id'])
