"""alert_tallies: households, deliveries (by channel) and visit tasks by state, kept by triggers

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 13:00:00

A fresh count of an alert with a million deliveries scanned them (on SQLite: 0.1 s for the
households, 0.2 s for the deliveries, 0.3 s for the households with no channel, 1 s for the
unaddressed ones; the attempts: migration 0021). These tallies are kept in the same
transactions that insert and move the rows, so a read sums a few rows by key.

- SQLite: row triggers add to one row per key (an upsert; there is one writer at a time).
- PostgreSQL: statement triggers append one delta row per key a statement changed (no
  row is ever updated, so concurrent writers never wait on a tally or deadlock over one);
  `seq` comes from a sequence, and a periodic tick folds an alert's deltas into one row
  per key.

Households are tallied by state and by three facts each recipient now carries, kept by
triggers on deliveries and visit tasks: `channelled` (some delivery names it), `warned` (a
warning of its round under way or done) and `visiting` (an open visit task). Planning writes
recipients `channelled` and `warned` and settles those it planned nothing for in one pass
(flows/settling.py): flipping a million rows as their deliveries are inserted doubled the
planning time in an earlier attempt.

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

UNDER_WAY = "('queued', 'sending', 'sent', 'delivered', 'unknown')"  # or done
OPEN = "('open', 'in_progress')"
FLAGS = (
    "(CASE WHEN {r}channelled THEN 'c' ELSE '' END || CASE WHEN {r}warned THEN 'w' ELSE '' END"
    " || CASE WHEN {r}visiting THEN 'v' ELSE '' END)"
)
# (table, subject, the key beside the state as SQL over a row prefix {r})
TALLIED = (
    ('recipients', 'household', FLAGS),
    ('deliveries', 'delivery', '{r}channel'),
    ('visit_tasks', 'visit', "''"),
)
FLAG_COLUMNS = (('channelled', 'true'), ('warned', 'true'), ('visiting', 'false'))
UNSETTLED = 'NOT (warned AND channelled)'
# A warning of the recipient's round, under way or done, for recipient {r}.id at round {round}
LIVE = (
    'EXISTS (SELECT 1 FROM deliveries d WHERE d.recipient_id = {r}.id AND d.notice IS NULL '
    f'AND d.revision >= {{round}} AND d.state IN {UNDER_WAY})'
)
VISIT_OPEN = (
    f'EXISTS (SELECT 1 FROM visit_tasks t WHERE t.recipient_id = {{r}}.id AND t.state IN {OPEN})'
)

PG_TALLY = r"""
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

PG_FLAGS = f"""
CREATE FUNCTION deliveries_flag_recipients() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF EXISTS (SELECT 1 FROM recipients r WHERE {UNSETTLED}
                   AND r.alert_id IN (SELECT DISTINCT alert_id FROM new_rows)) THEN
            UPDATE recipients r SET channelled = true,
                warned = r.warned OR coalesce(n.live >= r.round, false)
            FROM (SELECT recipient_id, max(revision) FILTER (
                      WHERE notice IS NULL AND state IN {UNDER_WAY}) AS live
                  FROM new_rows WHERE recipient_id IS NOT NULL GROUP BY 1) n
            WHERE r.id = n.recipient_id AND {UNSETTLED};
        END IF;
    ELSE
        UPDATE recipients r SET warned = {LIVE.format(r='r', round='r.round')}
        FROM (SELECT DISTINCT n.recipient_id FROM new_rows n JOIN old_rows o ON o.id = n.id
              WHERE n.recipient_id IS NOT NULL AND n.notice IS NULL
              AND o.state IN {UNDER_WAY} AND n.state NOT IN {UNDER_WAY}) c
        WHERE r.id = c.recipient_id AND r.warned;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION visits_flag_recipients() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE recipients r SET visiting = true
        FROM (SELECT DISTINCT recipient_id FROM new_rows WHERE state IN {OPEN}) v
        WHERE r.id = v.recipient_id AND NOT r.visiting;
    ELSE
        UPDATE recipients r SET visiting = {VISIT_OPEN.format(r='r')}
        FROM (SELECT DISTINCT n.recipient_id FROM new_rows n JOIN old_rows o ON o.id = n.id
              WHERE (o.state IN {OPEN}) <> (n.state IN {OPEN})) c
        WHERE r.id = c.recipient_id;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION recipients_round_warned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.warned := {LIVE.format(r='NEW', round='NEW.round')};
    RETURN NEW;
END $$;
"""

SQLITE_ADD = (
    "INSERT INTO alert_tallies (alert_id, subject, channel, state, seq, n) "
    "VALUES ({row}.alert_id, '{subject}', {key}, {row}.state, 0, {n}) "
    "ON CONFLICT (alert_id, subject, channel, state, seq) DO UPDATE SET n = n + excluded.n;"
)
SQLITE_FLAGS = (
    # a delivery inserted: its household has a channel, and perhaps a warning
    f"CREATE TRIGGER deliveries_flag_insert AFTER INSERT ON deliveries "
    f"WHEN NEW.recipient_id IS NOT NULL BEGIN UPDATE recipients SET channelled = 1, "
    f"warned = warned OR (NEW.notice IS NULL AND NEW.state IN {UNDER_WAY} "
    f"AND NEW.revision >= round) WHERE id = NEW.recipient_id AND {UNSETTLED}; END",
    # a warning failed, was withdrawn or superseded: has the household another?
    f"CREATE TRIGGER deliveries_flag_update AFTER UPDATE OF state ON deliveries "
    f"WHEN NEW.recipient_id IS NOT NULL AND NEW.notice IS NULL AND OLD.state IN {UNDER_WAY} "
    f"AND NEW.state NOT IN {UNDER_WAY} BEGIN UPDATE recipients SET warned = "
    f"{LIVE.format(r='recipients', round='recipients.round')} "
    f"WHERE id = NEW.recipient_id AND warned; END",
    f"CREATE TRIGGER recipients_round_warned AFTER UPDATE OF round ON recipients "
    f"WHEN OLD.round IS NOT NEW.round BEGIN UPDATE recipients SET warned = "
    f"{LIVE.format(r='NEW', round='NEW.round')} WHERE id = NEW.id; END",
    f"CREATE TRIGGER visit_tasks_flag_insert AFTER INSERT ON visit_tasks "
    f"WHEN NEW.state IN {OPEN} BEGIN UPDATE recipients SET visiting = 1 "
    f"WHERE id = NEW.recipient_id AND NOT visiting; END",
    f"CREATE TRIGGER visit_tasks_flag_update AFTER UPDATE OF state ON visit_tasks "
    f"WHEN (OLD.state IN {OPEN}) IS NOT (NEW.state IN {OPEN}) BEGIN UPDATE recipients "
    f"SET visiting = {VISIT_OPEN.format(r='recipients')} WHERE id = NEW.recipient_id; END",
)
# (trigger, its table) of the flags, on either backend
FLAG_TRIGGERS = (
    ('deliveries_flag_insert', 'deliveries'),
    ('deliveries_flag_update', 'deliveries'),
    ('visit_tasks_flag_insert', 'visit_tasks'),
    ('visit_tasks_flag_update', 'visit_tasks'),
    ('recipients_round_warned', 'recipients'),
)


def _create_table() -> None:
    op.create_table(
        'alert_tallies',
        sa.Column('alert_id', sa.Integer(), nullable=False),
        sa.Column('subject', sa.String(length=16), nullable=False),
        sa.Column('channel', sa.String(length=64), nullable=False),
        sa.Column('state', sa.String(length=64), nullable=False),
        sa.Column('seq', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('n', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            'alert_id', 'subject', 'channel', 'state', 'seq', name=op.f('pk_alert_tallies')
        ),
    )


def _add_flags() -> None:
    for column, default in FLAG_COLUMNS:
        op.add_column('recipients', sa.Column(column, sa.Boolean(), server_default=sa.text(
            default), nullable=False))
    op.execute(
        "UPDATE recipients SET channelled = EXISTS (SELECT 1 FROM deliveries d "
        "WHERE d.recipient_id = recipients.id), "
        f"warned = {LIVE.format(r='recipients', round='recipients.round')}, "
        f"visiting = {VISIT_OPEN.format(r='recipients')}"
    )
    op.create_index('ix_recipients_unsettled', 'recipients', ['alert_id'],
                    postgresql_where=sa.text(UNSETTLED), sqlite_where=sa.text(UNSETTLED))


def _backfill() -> None:
    for table, subject, key in TALLIED:
        op.execute(
            f"INSERT INTO alert_tallies (alert_id, subject, channel, state, seq, n) "
            f"SELECT alert_id, '{subject}', {key.format(r='')}, state, 0, count(*) "
            f"FROM {table} GROUP BY 1, 2, 3, 4"  # noqa: S608 (constant names)
        )


def _pg_triggers() -> None:
    op.execute('CREATE SEQUENCE alert_tallies_seq')
    op.execute(PG_TALLY)
    op.execute(PG_FLAGS)
    for table, subject, key in TALLIED:
        args = f"'{subject}', '{key.format(r='').replace(chr(39), chr(39) * 2)}'"
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
    for table, function in (('deliveries', 'deliveries_flag_recipients'),
                            ('visit_tasks', 'visits_flag_recipients')):
        op.execute(
            f'CREATE TRIGGER {table}_flag_insert AFTER INSERT ON {table} '
            f'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()'
        )
        op.execute(
            f'CREATE TRIGGER {table}_flag_update AFTER UPDATE ON {table} '
            f'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT '
            f'EXECUTE FUNCTION {function}()'
        )
    op.execute(
        'CREATE TRIGGER recipients_round_warned BEFORE UPDATE OF round ON recipients '
        'FOR EACH ROW WHEN (OLD.round IS DISTINCT FROM NEW.round) '
        'EXECUTE FUNCTION recipients_round_warned()'
    )


def _sqlite_triggers() -> None:
    for table, subject, key in TALLIED:
        add_new = SQLITE_ADD.format(row='NEW', subject=subject, key=key.format(r='NEW.'), n=1)
        take_old = SQLITE_ADD.format(row='OLD', subject=subject, key=key.format(r='OLD.'), n=-1)
        op.execute(
            f'CREATE TRIGGER {table}_tally_insert AFTER INSERT ON {table} BEGIN {add_new} END'
        )
        op.execute(
            f'CREATE TRIGGER {table}_tally_update AFTER UPDATE ON {table} '
            f'WHEN OLD.state IS NOT NEW.state OR OLD.alert_id IS NOT NEW.alert_id '
            f'OR {key.format(r="OLD.")} IS NOT {key.format(r="NEW.")} '
            f'BEGIN {add_new} {take_old} END'
        )
    for statement in SQLITE_FLAGS:
        op.execute(statement)


def upgrade() -> None:
    _create_table()
    _add_flags()
    _backfill()
    if op.get_bind().dialect.name == 'postgresql':
        _pg_triggers()
    else:
        _sqlite_triggers()


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    triggers = [(f'{table}_tally_{event}', table) for table, _s, _k in TALLIED
                for event in ('insert', 'update')]
    for name, table in [*triggers, *FLAG_TRIGGERS]:
        op.execute(f'DROP TRIGGER {name} ON {table}' if postgres else f'DROP TRIGGER {name}')
    if postgres:
        op.execute('DROP FUNCTION tally_rows(); DROP FUNCTION deliveries_flag_recipients(); '
                   'DROP FUNCTION visits_flag_recipients(); '
                   'DROP FUNCTION recipients_round_warned(); DROP SEQUENCE alert_tallies_seq')
    op.drop_index('ix_recipients_unsettled', table_name='recipients')
    for column, _default in FLAG_COLUMNS:
        op.drop_column('recipients', column)
    op.drop_table('alert_tallies')
