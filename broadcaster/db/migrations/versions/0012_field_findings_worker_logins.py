"""field findings and worker logins

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 20:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import broadcaster.db.base


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('visit_reports', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('received_at', broadcaster.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column('moved_on', sa.String(length=32), nullable=True))
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workers_user_id'), ['user_id'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workers_user_id'))
    with op.batch_alter_table('visit_reports', schema=None) as batch_op:
        batch_op.drop_column('moved_on')
        batch_op.drop_column('received_at')
