"""sessions, login throttling, audit chain

Server-side console sessions, login failure counters, and the audit log's hash chain.
Existing audit rows are chained in id order (seq 1, 2, …) from the genesis hash 0×64, so
`broadcaster audit verify` vouches for them from this migration on (not for what happened
to them before it).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 20:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import broadcaster.db.base
from broadcaster.auth.chain import GENESIS, row_hash

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = broadcaster.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('web_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UTC, nullable=False),
    sa.Column('last_seen_at', UTC, nullable=False),
    sa.Column('expires_at', UTC, nullable=False),
    sa.Column('revoked_at', UTC, nullable=True),
    sa.Column('source_ip', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_web_sessions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_web_sessions_token_hash'))
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_sessions_user_id'), ['user_id'], unique=False)

    op.create_table('login_throttles',
    sa.Column('scope', sa.String(length=200), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('first_failed_at', UTC, nullable=False),
    sa.Column('locked_until', UTC, nullable=True),
    sa.PrimaryKeyConstraint('scope', name=op.f('pk_login_throttles'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_audit_events_seq'), ['seq'])
    _chain_existing_rows()


def _chain_existing_rows() -> None:
    events = sa.table(
        'audit_events',
        sa.column('id', sa.Integer()), sa.column('at', UTC), sa.column('actor', sa.String()),
        sa.column('action', sa.String()), sa.column('object_type', sa.String()),
        sa.column('object_id', sa.String()), sa.column('source_ip', sa.String()),
        sa.column('detail', sa.JSON()), sa.column('seq', sa.Integer()),
        sa.column('prev_hash', sa.String()), sa.column('hash', sa.String()),
    )
    connection = op.get_bind()
    prev, seq = GENESIS, 0
    rows = connection.execute(sa.select(events).order_by(events.c.id)).mappings().all()
    for row in rows:
        seq += 1
        digest = row_hash(
            seq=seq, prev_hash=prev, at=row['at'], actor=row['actor'], action=row['action'],
            object_type=row['object_type'], object_id=row['object_id'],
            source_ip=row['source_ip'], detail=row['detail'],
        )
        connection.execute(
            events.update().where(events.c.id == row['id'])
            .values(seq=seq, prev_hash=prev, hash=digest)
        )
        prev = digest


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_events_seq'), type_='unique')
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('seq')
    op.drop_table('login_throttles')
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_sessions_user_id'))
    op.drop_table('web_sessions')
