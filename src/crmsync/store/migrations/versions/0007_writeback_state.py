"""writeback_state table: what write-back last sent to each CRM record and field

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), 'postgresql')
ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'writeback_state',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('connection', sa.String(length=255), nullable=False),
        sa.Column('object', sa.String(length=64), nullable=False),
        sa.Column('field', sa.String(length=255), nullable=False),
        sa.Column('remote_id', sa.String(length=255), nullable=False),
        sa.Column('metric', sa.String(length=64), nullable=False),
        sa.Column('sent_value', JSON, nullable=True),
        sa.Column('sent_hash', sa.String(length=64), nullable=True),
        sa.Column('pending_value', JSON, nullable=True),
        sa.Column('pending_hash', sa.String(length=64), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('error_code', sa.String(length=255), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_writeback_state')),
        sa.UniqueConstraint('connection', 'object', 'field', 'remote_id',
                            name=op.f('uq_writeback_state_connection_object_field_remote_id')),
    )
    op.create_index(op.f('ix_writeback_state_status_updated_at'), 'writeback_state',
                    ['status', 'updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_writeback_state_status_updated_at'), table_name='writeback_state')
    op.drop_table('writeback_state')
