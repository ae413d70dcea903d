"""coaching_findings table: coaching findings tracked across runs (docs/coaching.md)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), 'postgresql')
ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'coaching_findings',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('rule_id', sa.String(length=64), nullable=False),
        sa.Column('rep_id', sa.String(length=255), nullable=False),
        sa.Column('rep_name', sa.String(length=255), nullable=True),
        sa.Column('team', sa.String(length=255), nullable=True),
        sa.Column('title', sa.String(length=255), nullable=False),
        sa.Column('area', sa.String(length=255), nullable=False),
        sa.Column('severity', sa.String(length=16), nullable=False),
        sa.Column('gap', sa.Float(), nullable=True),
        sa.Column('period', sa.String(length=16), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=True),
        sa.Column('period_end', sa.Date(), nullable=True),
        sa.Column('evidence', JSON, nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('opened_at', sa.DateTime(), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(), nullable=False),
        sa.Column('resolved_at', sa.DateTime(), nullable=True),
        sa.Column('reopened', sa.Integer(), server_default='0', nullable=False),
        sa.Column('last_run_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_coaching_findings')),
        sa.UniqueConstraint('rule_id', 'rep_id',
                            name=op.f('uq_coaching_findings_rule_id_rep_id')),
    )
    op.create_index(op.f('ix_coaching_findings_status_rep_id'), 'coaching_findings',
                    ['status', 'rep_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_coaching_findings_status_rep_id'), table_name='coaching_findings')
    op.drop_table('coaching_findings')
