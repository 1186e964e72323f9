"""alert_final_times: when 50, 90 and 100 % of a round's households were final

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 13:00:00

An alert's progress sorted its final households for each share on every read (1.2 s at a
million on SQLite); the follow-up tick now keeps each moment once it is reached, for the
round and the number of households it was reached for.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from broadcaster.db.base import UTCDateTime

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'alert_final_times',
        sa.Column('alert_id', sa.Integer(), nullable=False),
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('share', sa.Integer(), nullable=False),
        sa.Column('households', sa.Integer(), nullable=False),
        sa.Column('at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            'alert_id', 'round', 'share', 'households', name=op.f('pk_alert_final_times')
        ),
    )


def downgrade() -> None:
    op.drop_table('alert_final_times')
