"""shelters, evacuations on visit reports, the duty roster and shift handovers

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-06 21:42:17

0014 is taken by another branch; this revision follows 0013 until the merge re-chains it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import broadcaster.db.base


revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('duty_shifts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('post', sa.Enum('leader', 'officer', name='duty_post', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('starts_at', broadcaster.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', broadcaster.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', broadcaster.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('cancelled_at', broadcaster.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_duty_shifts_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duty_shifts'))
    )
    with op.batch_alter_table('duty_shifts', schema=None) as batch_op:
        batch_op.create_index('ix_duty_shifts_span', ['starts_at', 'ends_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_duty_shifts_user_id'), ['user_id'], unique=False)

    op.create_table('shelters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=300), server_default='', nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', broadcaster.db.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', broadcaster.db.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['zone_id'], ['zones.id'], name=op.f('fk_shelters_zone_id_zones')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shelters')),
    sa.UniqueConstraint('code', name=op.f('uq_shelters_code'))
    )
    with op.batch_alter_table('shelters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shelters_zone_id'), ['zone_id'], unique=False)

    op.create_table('handovers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('from_user_id', sa.Integer(), nullable=False),
    sa.Column('to_user_id', sa.Integer(), nullable=True),
    sa.Column('shift_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('created_at', broadcaster.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', broadcaster.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.Integer(), nullable=True),
    sa.Column('ack_note', sa.Text(), nullable=False),
    sa.Column('ack_counts', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['acknowledged_by'], ['users.id'], name=op.f('fk_handovers_acknowledged_by_users')),
    sa.ForeignKeyConstraint(['from_user_id'], ['users.id'], name=op.f('fk_handovers_from_user_id_users')),
    sa.ForeignKeyConstraint(['shift_id'], ['duty_shifts.id'], name=op.f('fk_handovers_shift_id_duty_shifts')),
    sa.ForeignKeyConstraint(['to_user_id'], ['users.id'], name=op.f('fk_handovers_to_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handovers'))
    )
    with op.batch_alter_table('handovers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handovers_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_handovers_from_user_id'), ['from_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_handovers_to_user_id'), ['to_user_id'], unique=False)

    with op.batch_alter_table('visit_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('people_moved', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('placement', sa.Enum('shelter', 'relatives', 'other', name='placement', native_enum=False, create_constraint=True, length=32), nullable=True))
        batch_op.add_column(sa.Column('shelter_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('destination', sa.String(length=200), server_default='', nullable=False))
        batch_op.create_index(batch_op.f('ix_visit_reports_shelter_id'), ['shelter_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_visit_reports_shelter_id_shelters'), 'shelters', ['shelter_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('visit_reports', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_visit_reports_shelter_id_shelters'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('ck_visit_reports_placement'), type_='check')
        batch_op.drop_index(batch_op.f('ix_visit_reports_shelter_id'))
        batch_op.drop_column('destination')
        batch_op.drop_column('shelter_id')
        batch_op.drop_column('placement')
        batch_op.drop_column('people_moved')

    with op.batch_alter_table('handovers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handovers_to_user_id'))
        batch_op.drop_index(batch_op.f('ix_handovers_from_user_id'))
        batch_op.drop_index(batch_op.f('ix_handovers_created_at'))

    op.drop_table('handovers')
    with op.batch_alter_table('shelters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shelters_zone_id'))

    op.drop_table('shelters')
    with op.batch_alter_table('duty_shifts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_duty_shifts_user_id'))
        batch_op.drop_index('ix_duty_shifts_span')

    op.drop_table('duty_shifts')
