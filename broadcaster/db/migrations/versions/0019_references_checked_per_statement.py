"""PostgreSQL checks the references of deliveries and recipients once per statement

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 06:40:00

Planning writes a million recipients and 2.3 million deliveries in one INSERT … SELECT each.
PostgreSQL checks a foreign key with one trigger event per row and key: eight per household
here, about half of the planning time (100,000 households at load 7: 23–29 s with the keys,
12–18 s without, 18–21 s checked per statement). On PostgreSQL those eight keys become
statement-level triggers that check the statement's new rows as a set (one anti-join per
column), refuse a change of a reference column, and refuse deleting a row still referred to.
SQLite keeps its foreign keys (checked inline, cheaply).
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, referenced table, constraint name as the models' naming convention makes it)
REFERENCES = (
    ('deliveries', 'alert_id', 'alerts', 'fk_deliveries_alert_id_alerts'),
    ('deliveries', 'recipient_id', 'recipients', 'fk_deliveries_recipient_id_recipients'),
    ('deliveries', 'person_id', 'people', 'fk_deliveries_person_id_people'),
    ('deliveries', 'group_id', 'groups', 'fk_deliveries_group_id_groups'),
    ('deliveries', 'loudspeaker_id', 'loudspeakers', 'fk_deliveries_loudspeaker_id_loudspeakers'),
    ('deliveries', 'resend_of', 'deliveries', 'fk_deliveries_resend_of_deliveries'),
    ('recipients', 'alert_id', 'alerts', 'fk_recipients_alert_id_alerts'),
    ('recipients', 'household_id', 'households', 'fk_recipients_household_id_households'),
)

FUNCTIONS = r"""
CREATE FUNCTION references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
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
            RAISE EXCEPTION 'insert on table "%" violates its reference %.% = %: no such row in "%"',
                TG_TABLE_NAME, TG_TABLE_NAME, TG_ARGV[i], missing, TG_ARGV[i + 1]
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        i := i + 2;
    END LOOP;
    RETURN NULL;
END $$;

CREATE FUNCTION references_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    i integer := 0;
BEGIN
    WHILE i < TG_NARGS LOOP
        IF to_jsonb(NEW) -> TG_ARGV[i] IS DISTINCT FROM to_jsonb(OLD) -> TG_ARGV[i] THEN
            RAISE EXCEPTION 'update on table "%" changes its reference %.%, which is fixed',
                TG_TABLE_NAME, TG_TABLE_NAME, TG_ARGV[i]
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        i := i + 1;
    END LOOP;
    RETURN NEW;
END $$;

CREATE FUNCTION references_kept() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    i integer := 0;
    used bigint;
BEGIN
    WHILE i < TG_NARGS LOOP
        EXECUTE format(
            'SELECT o.id FROM old_rows o WHERE EXISTS (SELECT 1 FROM %1$I x WHERE x.%2$I = o.id) '
            'LIMIT 1', TG_ARGV[i], TG_ARGV[i + 1]) INTO used;
        IF used IS NOT NULL THEN
            RAISE EXCEPTION 'delete on table "%" removes row % still referred to by %.%',
                TG_TABLE_NAME, used, TG_ARGV[i], TG_ARGV[i + 1]
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        i := i + 2;
    END LOOP;
    RETURN NULL;
END $$;
"""


def _quoted(*words: str) -> str:
    return ', '.join(f"'{w}'" for w in words)


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(FUNCTIONS)
    for table, _column, _target, name in REFERENCES:
        op.drop_constraint(name, table, type_='foreignkey')
    for table in ('deliveries', 'recipients'):
        mine = [(c, t) for tb, c, t, _n in REFERENCES if tb == table]
        pairs = _quoted(*(w for pair in mine for w in pair))
        columns = ', '.join(c for c, _t in mine)
        op.execute(
            f'CREATE TRIGGER {table}_references_exist AFTER INSERT ON {table} '
            f'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT '
            f'EXECUTE FUNCTION references_exist({pairs})'
        )
        op.execute(
            f'CREATE TRIGGER {table}_references_fixed BEFORE UPDATE OF {columns} ON {table} '
            f'FOR EACH ROW EXECUTE FUNCTION references_fixed({_quoted(*(c for c, _t in mine))})'
        )
    for target in sorted({t for _tb, _c, t, _n in REFERENCES}):
        users = [(tb, c) for tb, c, t, _n in REFERENCES if t == target]
        pairs = _quoted(*(w for pair in users for w in pair))
        op.execute(
            f'CREATE TRIGGER {target}_references_kept AFTER DELETE ON {target} '
            f'REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT '
            f'EXECUTE FUNCTION references_kept({pairs})'
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for target in sorted({t for _tb, _c, t, _n in REFERENCES}):
        op.execute(f'DROP TRIGGER {target}_references_kept ON {target}')
    for table in ('deliveries', 'recipients'):
        op.execute(f'DROP TRIGGER {table}_references_fixed ON {table}')
        op.execute(f'DROP TRIGGER {table}_references_exist ON {table}')
    for table, column, target, name in REFERENCES:
        op.create_foreign_key(name, table, target, [column], ['id'])
    op.execute(
        'DROP FUNCTION references_kept(); DROP FUNCTION references_fixed(); '
        'DROP FUNCTION references_exist()'
    )
