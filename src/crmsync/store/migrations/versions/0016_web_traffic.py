"""web_traffic table (docs/schema.md)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), 'postgresql')
ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'web_traffic',
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
        sa.Column('date', sa.Date(), nullable=True),
        sa.Column('channel', sa.String(length=255), nullable=True),
        sa.Column('sessions', sa.Integer(), nullable=True),
        sa.Column('page_views', sa.Integer(), nullable=True),
        sa.Column('new_contacts', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_web_traffic')),
        sa.UniqueConstraint('connection', 'remote_id',
                            name=op.f('uq_web_traffic_connection_remote_id')),
    )
    op.create_index(op.f('ix_web_traffic_connection_date'), 'web_traffic',
                    ['connection', 'date'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_web_traffic_connection_date'), table_name='web_traffic')
    op.drop_table('web_traffic')
