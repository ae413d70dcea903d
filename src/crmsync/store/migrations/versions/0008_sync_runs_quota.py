"""sync_runs.quota_used / quota_limit: the CRM's API quota as the connector last saw it

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quota_used', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('quota_limit', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.drop_column('quota_limit')
        batch_op.drop_column('quota_used')
