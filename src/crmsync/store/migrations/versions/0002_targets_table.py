"""targets table

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('targets',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('connection', sa.String(length=255), nullable=False),
    sa.Column('remote_id', sa.String(length=255), nullable=False),
    sa.Column('remote_created_at', sa.DateTime(), nullable=True),
    sa.Column('remote_updated_at', sa.DateTime(), nullable=True),
    sa.Column('is_deleted', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.Column('custom', sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('synced_at', sa.DateTime(), nullable=False),
    sa.Column('raw', sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('metric', sa.String(length=64), nullable=True),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('direction', sa.String(length=32), nullable=True),
    sa.Column('period', sa.String(length=16), nullable=True),
    sa.Column('dimension', sa.String(length=64), nullable=True),
    sa.Column('dimension_value', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_targets')),
    sa.UniqueConstraint('connection', 'remote_id', name=op.f('uq_targets_connection_remote_id'))
    )



def downgrade() -> None:

    op.drop_table('targets')

