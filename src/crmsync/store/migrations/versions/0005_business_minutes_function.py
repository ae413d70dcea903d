"""crmsync_business_minutes() on PostgreSQL (SQLite registers it per connection)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""
from __future__ import annotations

from alembic import op

from crmsync.store.business_hours import SQL_FUNCTION

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(SQL_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS crmsync_business_minutes("
                   "timestamp, timestamp, text, int, int, text)")
