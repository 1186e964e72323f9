"""alerts.issuer: authority follows the issuer; Idempotency-Key scoped per issuer

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 20:20:00
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = re.compile(r"^user:.*/key:(\d+)$")


def _issuer(created_by: str, users: dict[str, int]) -> str | None:
    """The issuer of an existing alert, read from its creator ("user:NAME/key:ID", "feed:X")."""
    if match := _KEY.match(created_by):
        return f"key:{match.group(1)}"
    if created_by.startswith("feed:"):
        return "poll:" + created_by[len("feed:"):]
    if created_by.startswith("user:") and created_by[len("user:"):] in users:
        return f"user:{users[created_by[len('user:'):]]}"
    return None


def upgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('issuer', sa.String(length=200), nullable=True))
        batch_op.drop_constraint('uq_alerts_idempotency_key', type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_alerts_issuer'), ['issuer', 'idempotency_key']
        )
    connection = op.get_bind()
    users = {name: uid for uid, name in connection.execute(sa.text("SELECT id, username FROM users"))}
    rows = connection.execute(sa.text("SELECT id, created_by FROM alerts")).all()
    for alert_id, created_by in rows:
        issuer = _issuer(created_by or "", users)
        if issuer is not None:
            connection.execute(
                sa.text("UPDATE alerts SET issuer = :issuer WHERE id = :id"),
                {"issuer": issuer[:200], "id": alert_id},
            )


def downgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_alerts_issuer'), type_='unique')
        batch_op.create_unique_constraint('uq_alerts_idempotency_key', ['idempotency_key'])
        batch_op.drop_column('issuer')
