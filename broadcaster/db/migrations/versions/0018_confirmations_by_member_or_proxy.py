"""confirmations record who answered: a member or a proxy, and whether it was final

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 00:30:00

A reply from a number shared by several households confirms each of them; a proxy's
(代联系人) answer is recorded as such, and may leave a visit due (not final).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('confirmations', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'confirmed_by',
                sa.Enum('member', 'proxy', name='confirmed_by', native_enum=False,
                        create_constraint=True, length=32),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column('proxy_id', sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column('final', sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.create_foreign_key(
            batch_op.f('fk_confirmations_proxy_id_household_proxies'),
            'household_proxies',
            ['proxy_id'],
            ['id'],
            ondelete='SET NULL',
        )


def downgrade() -> None:
    with op.batch_alter_table('confirmations', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_confirmations_proxy_id_household_proxies'), type_='foreignkey'
        )
        batch_op.drop_constraint(batch_op.f('ck_confirmations_confirmed_by'), type_='check')
        batch_op.drop_column('final')
        batch_op.drop_column('proxy_id')
        batch_op.drop_column('confirmed_by')
