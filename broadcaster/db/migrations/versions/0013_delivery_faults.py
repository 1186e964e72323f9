"""delivery faults: a superseded delivery state, and lease losses counted per alert

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 20:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ('queued', 'sending', 'sent', 'delivered', 'failed', 'unknown', 'cancelled')
NEW = (*OLD, 'superseded')


def _state(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(
        *values, name='delivery_state', native_enum=False, create_constraint=True, length=32
    )


def _check(values: tuple[str, ...]) -> str:
    return 'state IN (' + ', '.join(f"'{v}'" for v in values) + ')'


def _set_states(old: tuple[str, ...], new: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name == 'sqlite':
        with op.batch_alter_table('deliveries', schema=None, recreate='always') as batch_op:
            batch_op.alter_column(
                'state', existing_type=_state(old), type_=_state(new), existing_nullable=False
            )
        return
    op.drop_constraint(op.f('ck_deliveries_delivery_state'), 'deliveries', type_='check')
    op.create_check_constraint('delivery_state', 'deliveries', _check(new))


def upgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('lease_lost', sa.Integer(), server_default='0', nullable=False)
        )
    _set_states(OLD, NEW)


def downgrade() -> None:
    op.execute("UPDATE deliveries SET state = 'failed' WHERE state = 'superseded'")
    _set_states(NEW, OLD)
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_column('lease_lost')
