"""products and opportunity_line_items tables (docs/schema.md)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), 'postgresql')
ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def _common() -> list[sa.Column[Any]]:
    return [
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('connection', sa.String(length=255), nullable=False),
        sa.Column('remote_id', sa.String(length=255), nullable=False),
        sa.Column('remote_created_at', sa.DateTime(), nullable=True),
        sa.Column('remote_updated_at', sa.DateTime(), nullable=True),
        sa.Column('is_deleted', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('deleted_at', sa.DateTime(), nullable=True),
        sa.Column('custom', JSON, nullable=True),
        sa.Column('synced_at', sa.DateTime(), nullable=False),
        sa.Column('raw', JSON, nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        'products',
        *_common(),
        sa.Column('name', sa.String(length=255), nullable=True),
        sa.Column('code', sa.String(length=255), nullable=True),
        sa.Column('family', sa.String(length=255), nullable=True),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('is_active', sa.Boolean(), nullable=True),
        sa.Column('unit_price', sa.Float(), nullable=True),
        sa.Column('currency', sa.String(length=8), nullable=True),
        sa.Column('billing_frequency', sa.String(length=16), nullable=True),
        sa.Column('term_months', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_products')),
        sa.UniqueConstraint('connection', 'remote_id',
                            name=op.f('uq_products_connection_remote_id')),
    )
    op.create_table(
        'opportunity_line_items',
        *_common(),
        sa.Column('opportunity_id', sa.String(length=255), nullable=True),
        sa.Column('product_id', sa.String(length=255), nullable=True),
        sa.Column('name', sa.String(length=255), nullable=True),
        sa.Column('quantity', sa.Float(), nullable=True),
        sa.Column('unit_price', sa.Float(), nullable=True),
        sa.Column('discount', sa.Float(), nullable=True),
        sa.Column('amount', sa.Float(), nullable=True),
        sa.Column('currency', sa.String(length=8), nullable=True),
        sa.Column('amount_base', sa.Float(), nullable=True),
        sa.Column('billing_frequency', sa.String(length=16), nullable=True),
        sa.Column('term_months', sa.Integer(), nullable=True),
        sa.Column('billing_start_date', sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_opportunity_line_items')),
        sa.UniqueConstraint('connection', 'remote_id',
                            name=op.f('uq_opportunity_line_items_connection_remote_id')),
    )
    op.create_index(op.f('ix_opportunity_line_items_connection_opportunity_id'),
                    'opportunity_line_items', ['connection', 'opportunity_id'], unique=False)
    op.create_index(op.f('ix_opportunity_line_items_connection_product_id'),
                    'opportunity_line_items', ['connection', 'product_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_opportunity_line_items_connection_product_id'),
                  table_name='opportunity_line_items')
    op.drop_index(op.f('ix_opportunity_line_items_connection_opportunity_id'),
                  table_name='opportunity_line_items')
    op.drop_table('opportunity_line_items')
    op.drop_table('products')
