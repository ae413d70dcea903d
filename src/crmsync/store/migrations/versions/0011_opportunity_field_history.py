"""opportunity_field_history table and opportunities.forecast_category (docs/history.md)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), 'postgresql')
ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TABLE = 'opportunity_field_history'


def upgrade() -> None:
    op.create_table(
        TABLE,
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
        sa.Column('opportunity_id', sa.String(length=255), nullable=True),
        sa.Column('field', sa.String(length=64), nullable=True),
        sa.Column('changed_at', sa.DateTime(), nullable=True),
        sa.Column('old_value', sa.Text(), nullable=True),
        sa.Column('new_value', sa.Text(), nullable=True),
        sa.Column('changed_by', sa.String(length=255), nullable=True),
        sa.Column('source', sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_opportunity_field_history')),
        sa.UniqueConstraint('connection', 'remote_id',
                            name=op.f('uq_opportunity_field_history_connection_remote_id')),
    )
    op.create_index(op.f('ix_opportunity_field_history_connection_opportunity_id_field_changed_at'),
                    TABLE, ['connection', 'opportunity_id', 'field', 'changed_at'], unique=False)
    op.create_index(op.f('ix_opportunity_field_history_connection_changed_at'),
                    TABLE, ['connection', 'changed_at'], unique=False)
    with op.batch_alter_table('opportunities') as batch_op:
        batch_op.add_column(sa.Column('forecast_category', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('opportunities') as batch_op:
        batch_op.drop_column('forecast_category')
    op.drop_index(op.f('ix_opportunity_field_history_connection_changed_at'), table_name=TABLE)
    op.drop_index(op.f('ix_opportunity_field_history_connection_opportunity_id_field_changed_at'),
                  table_name=TABLE)
    op.drop_table(TABLE)
