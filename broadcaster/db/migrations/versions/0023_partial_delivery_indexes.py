"""The lease and provider-id indexes of deliveries leave out the rows without one

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 19:00:00

Planning writes millions of deliveries that have neither a lease nor a provider's id yet;
each got an entry in both indexes all the same (NULL keys), and an answered delivery's lease
is cleared, so the lease index held every delivery ever made where the reconciler looks for
the few requests out now. The queries on these columns compare them (`<`, `IN`), which on
PostgreSQL and SQLite implies the indexes' `IS NOT NULL`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEASED = 'lease_expires_at IS NOT NULL'
ANSWERED = 'provider_id IS NOT NULL'


def upgrade() -> None:
    op.drop_index('ix_deliveries_lease', table_name='deliveries')
    op.create_index('ix_deliveries_lease', 'deliveries', ['state', 'lease_expires_at'],
                    postgresql_where=sa.text(LEASED), sqlite_where=sa.text(LEASED))
    op.drop_index('ix_deliveries_provider_id', table_name='deliveries')
    op.create_index('ix_deliveries_provider_id', 'deliveries', ['provider_id'],
                    postgresql_where=sa.text(ANSWERED), sqlite_where=sa.text(ANSWERED))


def downgrade() -> None:
    op.drop_index('ix_deliveries_provider_id', table_name='deliveries')
    op.create_index('ix_deliveries_provider_id', 'deliveries', ['provider_id'])
    op.drop_index('ix_deliveries_lease', table_name='deliveries')
    op.create_index('ix_deliveries_lease', 'deliveries', ['state', 'lease_expires_at'])
