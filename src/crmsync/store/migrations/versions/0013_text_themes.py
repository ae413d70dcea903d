"""text_themes table: themes and sentiment of survey comments, won/lost reasons and call
outcomes (docs/themes.md)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TABLE = 'text_themes'


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('connection', sa.String(length=255), nullable=False),
        sa.Column('entity', sa.String(length=64), nullable=False),
        sa.Column('remote_id', sa.String(length=255), nullable=False),
        sa.Column('field', sa.String(length=64), nullable=False),
        sa.Column('theme', sa.String(length=64), nullable=True),
        sa.Column('sentiment', sa.Float(), nullable=True),
        sa.Column('matched', sa.String(length=255), nullable=True),
        sa.Column('occurred_at', sa.DateTime(), nullable=True),
        sa.Column('owner_id', sa.String(length=255), nullable=True),
        sa.Column('account_id', sa.String(length=255), nullable=True),
        sa.Column('nps_score', sa.Float(), nullable=True),
        sa.Column('analyser', sa.String(length=64), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('analysed_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_text_themes')),
    )
    op.create_index(op.f('ix_text_themes_connection_entity_remote_id_field'), TABLE,
                    ['connection', 'entity', 'remote_id', 'field'], unique=False)
    op.create_index(op.f('ix_text_themes_theme_occurred_at'), TABLE,
                    ['theme', 'occurred_at'], unique=False)
    op.create_index(op.f('ix_text_themes_owner_id_occurred_at'), TABLE,
                    ['owner_id', 'occurred_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_text_themes_owner_id_occurred_at'), table_name=TABLE)
    op.drop_index(op.f('ix_text_themes_theme_occurred_at'), table_name=TABLE)
    op.drop_index(op.f('ix_text_themes_connection_entity_remote_id_field'), table_name=TABLE)
    op.drop_table(TABLE)
