"""notifications_sent table: alerts the notifier sent, so they are not re-sent (docs/trends.md)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'notifications_sent',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('key', sa.String(length=512), nullable=False),
        sa.Column('kind', sa.String(length=64), nullable=False),
        sa.Column('metric', sa.String(length=64), nullable=False),
        sa.Column('period', sa.String(length=16), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=True),
        sa.Column('dimension', sa.String(length=64), nullable=True),
        sa.Column('dimension_value', sa.String(length=255), nullable=True),
        sa.Column('value', sa.Float(), nullable=True),
        sa.Column('target', sa.Float(), nullable=True),
        sa.Column('sent_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications_sent')),
        sa.UniqueConstraint('key', name=op.f('uq_notifications_sent_key')),
    )


def downgrade() -> None:
    op.drop_table('notifications_sent')
