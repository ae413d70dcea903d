"""indexes for lead and account metrics

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activities_connection_account_id'), ['connection', 'account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_activities_connection_contact_id'), ['connection', 'contact_id'], unique=False)

    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_leads_connection_converted_contact_id'), ['connection', 'converted_contact_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_leads_connection_converted_contact_id'))

    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activities_connection_contact_id'))
        batch_op.drop_index(batch_op.f('ix_activities_connection_account_id'))


