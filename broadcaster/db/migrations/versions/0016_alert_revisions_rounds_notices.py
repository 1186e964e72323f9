"""alert revisions: kept revisions, rounds of confirmation, notices, released households

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-05 10:00:00

Chained on 0013 for now: 0014 and 0015 are taken on other branches; whoever merges last
re-chains (down_revision) onto the newest.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import broadcaster.db.base

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = ('pending', 'reached', 'confirmed', 'needs_help', 'unreachable', 'visited')
NEW_STATES = (*OLD_STATES, 'released')
UTC = broadcaster.db.base.UTCDateTime(timezone=True)


def _enum(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _set_recipient_states(old: tuple[str, ...], new: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name == 'sqlite':
        with op.batch_alter_table('recipients', schema=None, recreate='always') as batch_op:
            batch_op.alter_column(
                'state',
                existing_type=_enum('recipient_state', old),
                type_=_enum('recipient_state', new),
                existing_nullable=False,
            )
        return
    op.drop_constraint(op.f('ck_recipients_recipient_state'), 'recipients', type_='check')
    values = ', '.join(f"'{v}'" for v in new)
    op.create_check_constraint('recipient_state', 'recipients', f'state IN ({values})')


def _counter(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.Integer(), server_default='1', nullable=False)


def upgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(_counter('revision'))
        batch_op.add_column(_counter('text_revision'))
        batch_op.add_column(_counter('round'))
        batch_op.add_column(sa.Column('round_at', UTC, nullable=True))
        batch_op.add_column(
            sa.Column('evacuate', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table('recipients', schema=None) as batch_op:
        batch_op.add_column(_counter('round'))
    _set_recipient_states(OLD_STATES, NEW_STATES)
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(_counter('revision'))
        batch_op.add_column(sa.Column('notice', sa.String(length=16), nullable=True))
    with op.batch_alter_table('confirmations', schema=None) as batch_op:
        batch_op.add_column(_counter('round'))
    with op.batch_alter_table('loudspeaker_tasks', schema=None) as batch_op:
        batch_op.add_column(_counter('revision'))
        batch_op.drop_index('ix_loudspeaker_tasks_alert')
        batch_op.create_index(
            'ix_loudspeaker_tasks_alert', ['alert_id', 'loudspeaker_id', 'revision'], unique=True
        )
    with op.batch_alter_table('visit_tasks', schema=None) as batch_op:
        batch_op.add_column(_counter('round'))
        batch_op.drop_constraint('uq_visit_tasks_recipient_id', type_='unique')
        batch_op.create_unique_constraint(
            'uq_visit_tasks_recipient_round', ['recipient_id', 'round']
        )
    op.create_table(
        'alert_revisions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('alert_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('kind', _enum('revision_kind', ('alert', 'update', 'all_clear', 'cancel')),
                  nullable=False),
        sa.Column('level', _enum('level', ('blue', 'yellow', 'orange', 'red')), nullable=False),
        sa.Column('hazard', _enum('hazard', ('rain', 'water_level', 'flood', 'drought',
                                             'geohazard', 'other')), nullable=False),
        sa.Column('headline', sa.String(length=200), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('instruction', sa.Text(), nullable=False),
        sa.Column('zone_codes', sa.JSON(), nullable=False),
        sa.Column('expires_at', UTC, nullable=True),
        sa.Column('evacuate', sa.Boolean(), nullable=False),
        sa.Column('asks_again', sa.Boolean(), nullable=False),
        sa.Column('identifier', sa.String(length=120), nullable=True),
        sa.Column('created_at', UTC, nullable=False),
        sa.Column('created_by', sa.String(length=100), nullable=False),
        sa.Column('households_added', sa.Integer(), nullable=False),
        sa.Column('households_released', sa.Integer(), nullable=False),
        sa.Column('deliveries', sa.JSON(), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'],
                                name=op.f('fk_alert_revisions_alert_id_alerts')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_revisions')),
        sa.UniqueConstraint('alert_id', 'number', name='uq_alert_revisions_number'),
    )
    op.create_table(
        'recipient_rounds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('alert_id', sa.Integer(), nullable=False),
        sa.Column('recipient_id', sa.Integer(), nullable=False),
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('state', _enum('recipient_state', NEW_STATES), nullable=False),
        sa.Column('stage', sa.Integer(), nullable=False),
        sa.Column('reached_at', UTC, nullable=True),
        sa.Column('final_at', UTC, nullable=True),
        sa.Column('ended_at', UTC, nullable=False),
        sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'],
                                name=op.f('fk_recipient_rounds_alert_id_alerts')),
        sa.ForeignKeyConstraint(['recipient_id'], ['recipients.id'],
                                name=op.f('fk_recipient_rounds_recipient_id_recipients')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recipient_rounds')),
        sa.UniqueConstraint('recipient_id', 'round', name='uq_recipient_rounds_round'),
    )
    with op.batch_alter_table('recipient_rounds', schema=None) as batch_op:
        batch_op.create_index(
            'ix_recipient_rounds_alert_round', ['alert_id', 'round', 'state'], unique=False
        )


def downgrade() -> None:
    op.drop_table('recipient_rounds')
    op.drop_table('alert_revisions')
    with op.batch_alter_table('visit_tasks', schema=None) as batch_op:
        batch_op.drop_constraint('uq_visit_tasks_recipient_round', type_='unique')
    op.execute('DELETE FROM visit_reports WHERE task_id IN (SELECT id FROM visit_tasks WHERE round > 1)')
    op.execute('DELETE FROM visit_tasks WHERE round > 1')
    with op.batch_alter_table('visit_tasks', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_visit_tasks_recipient_id', ['recipient_id'])
        batch_op.drop_column('round')
    op.execute('DELETE FROM loudspeaker_tasks WHERE revision > 1')
    with op.batch_alter_table('loudspeaker_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_loudspeaker_tasks_alert')
        batch_op.create_index(
            'ix_loudspeaker_tasks_alert', ['alert_id', 'loudspeaker_id'], unique=True
        )
        batch_op.drop_column('revision')
    with op.batch_alter_table('confirmations', schema=None) as batch_op:
        batch_op.drop_column('round')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('notice')
        batch_op.drop_column('revision')
    op.execute("UPDATE recipients SET state = 'unreachable' WHERE state = 'released'")
    _set_recipient_states(NEW_STATES, OLD_STATES)
    with op.batch_alter_table('recipients', schema=None) as batch_op:
        batch_op.drop_column('round')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_column('evacuate')
        batch_op.drop_column('round_at')
        batch_op.drop_column('round')
        batch_op.drop_column('text_revision')
        batch_op.drop_column('revision')
