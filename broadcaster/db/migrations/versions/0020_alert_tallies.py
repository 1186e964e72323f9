"""alert_tallies: households, deliveries (by channel) and visit tasks by state, kept by triggers

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 13:00:00

A fresh count of an alert with a million deliveries scanned them (0.1 s for the households,
0.2 s for the deliveries on SQLite; the visit tasks, for its progress). These tallies are kept in the same transactions that
insert and move the rows, so a read sums a few rows by key.

- SQLite: row triggers add to one row per key (an upsert; there is one writer at a time).
- PostgreSQL: statement triggers append one delta row per key a statement changed (no
  row is ever updated, so concurrent writers never wait on a tally or deadlock over one);
  `seq` comes from a sequence, and a periodic tick folds an alert's deltas into one row
  per key.

Rows are never deleted in service (states only move forward), so no delete triggers; the
periodic check recounts and reports (and mends) any drift.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, subject, the channel as SQL): only deliveries have one.
TALLIED = (
    ('recipients', 'household', "''"),
    ('deliveries', 'delivery', 'channel'),
    ('visit_tasks', 'visit', "''"),
)

PG_FUNCTION = r"""
CREATE FUNCTION tally_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        EXECUTE format(
            'INSERT INTO alert_tallies (alert_id, subject, channel, state, seq, n) '
            'SELECT alert_id, %L, channel, state, nextval(''alert_tallies_seq''), n FROM ('
            '  SELECT alert_id, %s AS channel, state::text AS state, count(*) AS n '
            '  FROM new_rows GROUP BY 1, 2, 3) g', TG_ARGV[0], TG_ARGV[1]);
    ELSE
        EXECUTE format(
            'INSERT INTO alert_tallies (alert_id, subject, channel, state, seq, n) '
            'SELECT alert_id, %L, channel, state, nextval(''alert_tallies_seq''), n FROM ('
            '  SELECT alert_id, channel, state, sum(d) AS n FROM ('
            '    SELECT alert_id, %2$s AS channel, state::text AS state, 1 AS d FROM new_rows'
            '    UNION ALL'
            '    SELECT alert_id, %2$s, state::text, -1 FROM old_rows) c'
            '  GROUP BY 1, 2, 3 HAVING sum(d) <> 0) g', TG_ARGV[0], TG_ARGV[1]);
    END IF;
    RETURN NULL;
END $$;
"""

SQLITE_ADD = (
    "INSERT INTO alert_tallies (alert_id, subject, channel, state, seq, n) "
    "VALUES ({row}.alert_id, '{subject}', {channel}, {row}.state, 0, {n}) "
    "ON CONFLICT (alert_id, subject, channel, state, seq) DO UPDATE SET n = n + excluded.n;"
)


def _create_table() -> None:
    op.create_table(
        'alert_tallies',
        sa.Column('alert_id', sa.Integer(), nullable=False),
        sa.Column('subject', sa.String(length=16), nullable=False),
        sa.Column('channel', sa.String(length=32), nullable=False),
        sa.Column('state', sa.String(length=32), nullable=False),
        sa.Column('seq', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('n', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            'alert_id', 'subject', 'channel', 'state', 'seq', name=op.f('pk_alert_tallies')
        ),
    )


def _backfill() -> None:
    for table, subject, channel in TALLIED:
        op.execute(
            f"INSERT INTO alert_tallies (alert_id, subject, channel, state, seq, n) "
            f"SELECT alert_id, '{subject}', {channel}, state, 0, count(*) FROM {table} "
            f"GROUP BY 1, 2, 3, 4"  # noqa: S608 (constant names)
        )


def _pg_triggers() -> None:
    op.execute('CREATE SEQUENCE alert_tallies_seq')
    op.execute(PG_FUNCTION)
    for table, subject, channel in TALLIED:
        args = f"'{subject}', '{channel.replace(chr(39), chr(39) * 2)}'"
        op.execute(
            f'CREATE TRIGGER {table}_tally_insert AFTER INSERT ON {table} '
            f'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT '
            f'EXECUTE FUNCTION tally_rows({args})'
        )
        op.execute(
            f'CREATE TRIGGER {table}_tally_update AFTER UPDATE ON {table} '
            f'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT '
            f'EXECUTE FUNCTION tally_rows({args})'
        )


def _sqlite_triggers() -> None:
    for table, subject, channel in TALLIED:
        new = channel if channel == "''" else f'NEW.{channel}'
        old = channel if channel == "''" else f'OLD.{channel}'
        add_new = SQLITE_ADD.format(row='NEW', subject=subject, channel=new, n=1)
        take_old = SQLITE_ADD.format(row='OLD', subject=subject, channel=old, n=-1)
        op.execute(
            f'CREATE TRIGGER {table}_tally_insert AFTER INSERT ON {table} BEGIN {add_new} END'
        )
        op.execute(
            f'CREATE TRIGGER {table}_tally_update AFTER UPDATE ON {table} '
            f'WHEN OLD.state IS NOT NEW.state OR OLD.alert_id IS NOT NEW.alert_id '
            f'OR {old} IS NOT {new} BEGIN {add_new} {take_old} END'
        )


def upgrade() -> None:
    _create_table()
    _backfill()
    if op.get_bind().dialect.name == 'postgresql':
        _pg_triggers()
    else:
        _sqlite_triggers()


def downgrade() -> None:
    for table, _subject, _channel in TALLIED:
        op.execute(f'DROP TRIGGER {table}_tally_update ON {table}'
                   if op.get_bind().dialect.name == 'postgresql'
                   else f'DROP TRIGGER {table}_tally_update')
        op.execute(f'DROP TRIGGER {table}_tally_insert ON {table}'
                   if op.get_bind().dialect.name == 'postgresql'
                   else f'DROP TRIGGER {table}_tally_insert')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP FUNCTION tally_rows(); DROP SEQUENCE alert_tallies_seq')
    op.drop_table('alert_tallies')
