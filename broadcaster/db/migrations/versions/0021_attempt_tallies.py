"""alert_tallies also count the attempts per provider, medium and category

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 13:05:00

An alert's `by_provider` grouped its attempts joined to their deliveries on every read (0.2 s
at a million on SQLite before any was sent). The tallies now keep them too, as
reports/providers.py counts them; PostgreSQL joins a statement's attempts to their
deliveries once, SQLite looks each row's delivery up by key.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Attempts by (provider, medium:category), as reports/providers.py counts them: accepted
# (the provider took the message), and delivered, failed (refused other than by our own
# holds, or reported failed) or unknown. Over attempt rows {a} with their delivery d.
HOLDS = "('rate_limited', 'number_limit', 'circuit_open', 'redis_unavailable')"
ACCEPTED = "({a}provider_message_id IS NOT NULL OR {a}outcome IN ('sent', 'delivered'))"
CATEGORY = (
    "CASE WHEN {a}outcome = 'delivered' THEN 'delivered' WHEN {a}outcome = 'failed' OR "
    f"({{a}}outcome = 'superseded' AND {{a}}error_code NOT IN {HOLDS}) THEN 'failed' "
    "WHEN {a}outcome = 'unknown' THEN 'unknown' END"
)
ATTEMPT_KEYS = (  # one row per key an attempt row counts in; {rows}: its rows, {s}: +1 or -1
    "SELECT d.alert_id, a.provider, d.channel || ':' || 'accepted' AS state, {s} AS s "
    "FROM {rows} a JOIN deliveries d ON d.id = a.delivery_id WHERE " + ACCEPTED.format(a='a.')
    + " UNION ALL SELECT d.alert_id, a.provider, d.channel || ':' || "
    + CATEGORY.format(a='a.') + ", {s} FROM {rows} a JOIN deliveries d ON d.id = a.delivery_id "
    "WHERE " + CATEGORY.format(a='a.') + " IS NOT NULL"
)

PG_FUNCTION = f"""
CREATE FUNCTION tally_attempts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO alert_tallies (alert_id, subject, channel, state, seq, n)
        SELECT alert_id, 'attempt', provider, state, nextval('alert_tallies_seq'), count(*)
        FROM ({ATTEMPT_KEYS.format(rows='new_rows', s=1)}) k GROUP BY 1, 3, 4;
    ELSE
        INSERT INTO alert_tallies (alert_id, subject, channel, state, seq, n)
        SELECT alert_id, 'attempt', provider, state, nextval('alert_tallies_seq'), sum(s)
        FROM ({ATTEMPT_KEYS.format(rows='new_rows', s=1)} UNION ALL
              {ATTEMPT_KEYS.format(rows='old_rows', s=-1)}) k
        GROUP BY 1, 3, 4 HAVING sum(s) <> 0;
    END IF;
    RETURN NULL;
END $$;
"""

SQLITE_ATTEMPT_ADD = (
    "INSERT INTO alert_tallies (alert_id, subject, channel, state, seq, n) "
    "SELECT d.alert_id, 'attempt', {r}.provider, d.channel || ':' || {key}, 0, {n} "
    "FROM deliveries d WHERE d.id = {r}.delivery_id AND {when} "
    "ON CONFLICT (alert_id, subject, channel, state, seq) DO UPDATE SET n = n + excluded.n;"
)


def _sqlite_changes(row: str, n: int, accepted: bool) -> str:
    """The upsert counting one attempt row (`NEW` +1, `OLD` -1) as accepted, or in its
    outcome's category."""
    if accepted:
        return SQLITE_ATTEMPT_ADD.format(
            r=row, key="'accepted'", n=n, when=ACCEPTED.format(a=f'{row}.'))
    category = CATEGORY.format(a=f'{row}.')
    return SQLITE_ATTEMPT_ADD.format(r=row, key=category, n=n, when=f'{category} IS NOT NULL')


def _sqlite_update(name: str, key: str, accepted: bool) -> str:
    """A trigger moving one of an attempt's two keys, only when that key changed: a status
    callback changes the category alone (one upsert, not three)."""
    moved = (f"({key.format(a='OLD.')}) IS NOT ({key.format(a='NEW.')}) "
             "OR OLD.provider IS NOT NEW.provider OR OLD.delivery_id IS NOT NEW.delivery_id")
    return (f"CREATE TRIGGER delivery_attempts_tally_{name} AFTER UPDATE ON delivery_attempts "
            f"WHEN {moved} BEGIN {_sqlite_changes('NEW', 1, accepted)} "
            f"{_sqlite_changes('OLD', -1, accepted)} END")


SQLITE_ATTEMPTS = (
    "CREATE TRIGGER delivery_attempts_tally_insert AFTER INSERT ON delivery_attempts BEGIN "
    f"{_sqlite_changes('NEW', 1, True)} {_sqlite_changes('NEW', 1, False)} END",
    _sqlite_update('accepted', ACCEPTED, True),
    _sqlite_update('category', CATEGORY, False),
)
TRIGGERS = {'postgresql': ('insert', 'update'), 'sqlite': ('insert', 'accepted', 'category')}


def upgrade() -> None:
    op.execute(
        "INSERT INTO alert_tallies (alert_id, subject, channel, state, seq, n) "
        "SELECT alert_id, 'attempt', provider, state, 0, count(*) FROM ("
        f"{ATTEMPT_KEYS.format(rows='delivery_attempts', s=1)}) k GROUP BY 1, 3, 4"
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(PG_FUNCTION)
        for event, rows in (('INSERT', 'NEW TABLE AS new_rows'),
                            ('UPDATE', 'OLD TABLE AS old_rows NEW TABLE AS new_rows')):
            op.execute(
                f'CREATE TRIGGER delivery_attempts_tally_{event.lower()} AFTER {event} '
                f'ON delivery_attempts REFERENCING {rows} FOR EACH STATEMENT '
                f'EXECUTE FUNCTION tally_attempts()'
            )
    else:
        for statement in SQLITE_ATTEMPTS:
            op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    for event in TRIGGERS['postgresql' if postgres else 'sqlite']:
        name = f'delivery_attempts_tally_{event}'
        op.execute(f'DROP TRIGGER {name} ON delivery_attempts' if postgres
                   else f'DROP TRIGGER {name}')
    if postgres:
        op.execute('DROP FUNCTION tally_attempts()')
    op.execute("DELETE FROM alert_tallies WHERE subject = 'attempt'")
