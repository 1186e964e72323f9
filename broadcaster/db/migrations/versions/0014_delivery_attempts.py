"""delivery attempts: one row per attempt at sending a delivery, filled from today's deliveries

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import broadcaster.db.base

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTCOMES = (
    'queued', 'sending', 'sent', 'delivered', 'failed', 'unknown', 'cancelled', 'superseded'
)

# A delivery leased at least once gets its latest attempt back: the one whose answer the row
# holds. One that went back to the queue (or was withdrawn from it) after a refusal held an
# attempt the provider never got. Earlier attempts left no trace to rebuild them from.
BACKFILL = """
INSERT INTO delivery_attempts
    (delivery_id, number, provider, requested_at, outcome, error_code, provider_message_id,
     finished_at)
SELECT id, attempts, channel, COALESCE(sent_at, final_at, queued_at, CURRENT_TIMESTAMP),
       CASE WHEN state IN ('queued', 'cancelled') THEN 'superseded' ELSE state END,
       error_code, provider_id, final_at
FROM deliveries
WHERE attempts > 0
"""


def upgrade() -> None:
    op.create_table('delivery_attempts',
    sa.Column('delivery_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('number', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('provider', sa.String(length=64), nullable=False),
    sa.Column('requested_at', broadcaster.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.Enum(*OUTCOMES, name='attempt_outcome', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('error_code', sa.String(length=32), nullable=True),
    sa.Column('provider_message_id', sa.String(length=64), nullable=True),
    sa.Column('finished_at', broadcaster.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], name=op.f('fk_delivery_attempts_delivery_id_deliveries')),
    sa.PrimaryKeyConstraint('delivery_id', 'number', name=op.f('pk_delivery_attempts')),
    sqlite_with_rowid=False,
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_table('delivery_attempts')
