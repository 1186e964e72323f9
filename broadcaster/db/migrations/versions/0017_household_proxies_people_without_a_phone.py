"""household proxies, people without a phone

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 00:02:05

A household may have no phone at all (its people are listed without one) and may list proxy
contacts (代联系人) who reach it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import broadcaster.db.base


revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('household_proxies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('phone_kind', sa.Enum('mobile', 'landline', name='phone_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('relation', sa.String(length=50), nullable=False),
    sa.Column('may_confirm', sa.Boolean(), nullable=False),
    sa.Column('created_at', broadcaster.db.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', broadcaster.db.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_household_proxies_household_id_households'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household_proxies'))
    )
    with op.batch_alter_table('household_proxies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_household_proxies_household_id'), ['household_id'], unique=False)
        batch_op.create_index('ix_household_proxies_phone', ['phone'], unique=False)

    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.alter_column('phone',
               existing_type=sa.VARCHAR(length=20),
               nullable=True)
        batch_op.alter_column('phone_kind',
               existing_type=sa.VARCHAR(length=32),
               nullable=True)



def downgrade() -> None:
    op.execute("DELETE FROM people WHERE phone IS NULL")
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.alter_column('phone_kind',
               existing_type=sa.VARCHAR(length=32),
               nullable=False)
        batch_op.alter_column('phone',
               existing_type=sa.VARCHAR(length=20),
               nullable=False)

    with op.batch_alter_table('household_proxies', schema=None) as batch_op:
        batch_op.drop_index('ix_household_proxies_phone')
        batch_op.drop_index(batch_op.f('ix_household_proxies_household_id'))

    op.drop_table('household_proxies')
