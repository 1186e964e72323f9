"""The per-statement reference check probes the new rows as they come, not their distinct values

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 22:40:00

0019's check took the distinct values of each column first. PostgreSQL cannot know how many
there are in a transition table, guesses 200, and so probes the referenced table's key once
per distinct value in the hash table's order: random pages, a million times for the people of
a million households (the deliveries' checks took 24 s of a 78 s insert under EXPLAIN ANALYZE).
Without DISTINCT it knows the row count: the probes follow the rows' own order (a table
already at hand for a repeated key), and small statements keep their one probe a row.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0025'
down_revision: str | None = '0024'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = r"""
CREATE OR REPLACE FUNCTION references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    i integer := 0;
    missing bigint;
BEGIN
    WHILE i < TG_NARGS LOOP
        EXECUTE format(
            'SELECT n.%1$I FROM new_rows n WHERE n.%1$I IS NOT NULL '
            'AND NOT EXISTS (SELECT 1 FROM %2$I r WHERE r.id = n.%1$I) LIMIT 1',
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

PREVIOUS_QUERY = (
    "'SELECT n.%1$I FROM (SELECT DISTINCT %1$I FROM new_rows WHERE %1$I IS NOT NULL) n '\n"
    "            'WHERE NOT EXISTS (SELECT 1 FROM %2$I r WHERE r.id = n.%1$I) LIMIT 1',"
)
THIS_QUERY = (
    "'SELECT n.%1$I FROM new_rows n WHERE n.%1$I IS NOT NULL '\n"
    "            'AND NOT EXISTS (SELECT 1 FROM %2$I r WHERE r.id = n.%1$I) LIMIT 1',"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(FUNCTION.replace(THIS_QUERY, PREVIOUS_QUERY))
