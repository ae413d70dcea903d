"""metric_snapshots table: metric values as of a past instant (docs/as-of.md)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'metric_snapshots',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('run_id', sa.String(length=36), nullable=False),
        sa.Column('snapshot_at', sa.DateTime(), nullable=False),
        sa.Column('metric', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), server_default='1', nullable=False),
        sa.Column('variant', sa.String(length=64), nullable=True),
        sa.Column('period', sa.String(length=16), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=True),
        sa.Column('period_end', sa.Date(), nullable=True),
        sa.Column('dimension', sa.String(length=64), nullable=True),
        sa.Column('dimension_value', sa.String(length=255), nullable=True),
        sa.Column('subject_id', sa.String(length=255), nullable=True),
        sa.Column('value', sa.Float(), nullable=True),
        sa.Column('numerator', sa.Float(), nullable=True),
        sa.Column('denominator', sa.Float(), nullable=True),
        sa.Column('computed_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_metric_snapshots')),
    )
    op.create_index(op.f('ix_metric_snapshots_metric_period_dimension_snapshot_at'),
                    'metric_snapshots', ['metric', 'period', 'dimension', 'snapshot_at'],
                    unique=False)
    op.create_index(op.f('ix_metric_snapshots_run_id'), 'metric_snapshots', ['run_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_metric_snapshots_run_id'), table_name='metric_snapshots')
    op.drop_index(op.f('ix_metric_snapshots_metric_period_dimension_snapshot_at'),
                  table_name='metric_snapshots')
    op.drop_table('metric_snapshots')
