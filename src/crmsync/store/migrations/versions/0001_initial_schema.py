"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('accounts',
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
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('domain', sa.String(length=255), nullable=True),
    sa.Column('industry', sa.String(length=255), nullable=True),
    sa.Column('segment', sa.String(length=255), nullable=True),
    sa.Column('region', sa.String(length=255), nullable=True),
    sa.Column('territory', sa.String(length=255), nullable=True),
    sa.Column('employee_count', sa.Integer(), nullable=True),
    sa.Column('annual_revenue', sa.Float(), nullable=True),
    sa.Column('owner_id', sa.String(length=255), nullable=True),
    sa.Column('parent_id', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('connection', 'remote_id', name=op.f('uq_accounts_connection_remote_id'))
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_accounts_connection_owner_id'), ['connection', 'owner_id'], unique=False)

    op.create_table('activities',
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
    sa.Column('type', sa.String(length=16), nullable=True),
    sa.Column('direction', sa.String(length=16), nullable=True),
    sa.Column('subject', sa.Text(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(), nullable=True),
    sa.Column('status', sa.String(length=64), nullable=True),
    sa.Column('outcome', sa.String(length=255), nullable=True),
    sa.Column('duration_seconds', sa.Integer(), nullable=True),
    sa.Column('is_automated', sa.Boolean(), nullable=True),
    sa.Column('owner_id', sa.String(length=255), nullable=True),
    sa.Column('contact_id', sa.String(length=255), nullable=True),
    sa.Column('lead_id', sa.String(length=255), nullable=True),
    sa.Column('account_id', sa.String(length=255), nullable=True),
    sa.Column('opportunity_id', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activities')),
    sa.UniqueConstraint('connection', 'remote_id', name=op.f('uq_activities_connection_remote_id'))
    )
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activities_connection_lead_id'), ['connection', 'lead_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_activities_connection_opportunity_id'), ['connection', 'opportunity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_activities_connection_owner_id_occurred_at'), ['connection', 'owner_id', 'occurred_at'], unique=False)

    op.create_table('contacts',
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
    sa.Column('first_name', sa.String(length=255), nullable=True),
    sa.Column('last_name', sa.String(length=255), nullable=True),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('phone', sa.String(length=64), nullable=True),
    sa.Column('title', sa.String(length=255), nullable=True),
    sa.Column('account_id', sa.String(length=255), nullable=True),
    sa.Column('owner_id', sa.String(length=255), nullable=True),
    sa.Column('lifecycle_stage', sa.String(length=64), nullable=True),
    sa.Column('lead_source', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts')),
    sa.UniqueConstraint('connection', 'remote_id', name=op.f('uq_contacts_connection_remote_id'))
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contacts_connection_account_id'), ['connection', 'account_id'], unique=False)

    op.create_table('currency_rates',
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
    sa.Column('currency', sa.String(length=8), nullable=True),
    sa.Column('base_currency', sa.String(length=8), nullable=True),
    sa.Column('rate_to_base', sa.Float(), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_currency_rates')),
    sa.UniqueConstraint('connection', 'remote_id', name=op.f('uq_currency_rates_connection_remote_id'))
    )
    with op.batch_alter_table('currency_rates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_currency_rates_connection_currency_valid_from'), ['connection', 'currency', 'valid_from'], unique=False)

    op.create_table('feedback',
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
    sa.Column('type', sa.String(length=8), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('contact_id', sa.String(length=255), nullable=True),
    sa.Column('account_id', sa.String(length=255), nullable=True),
    sa.Column('owner_id', sa.String(length=255), nullable=True),
    sa.Column('responded_at', sa.DateTime(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback')),
    sa.UniqueConstraint('connection', 'remote_id', name=op.f('uq_feedback_connection_remote_id'))
    )
    op.create_table('leads',
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
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('company', sa.String(length=255), nullable=True),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=64), nullable=True),
    sa.Column('lead_source', sa.String(length=255), nullable=True),
    sa.Column('owner_id', sa.String(length=255), nullable=True),
    sa.Column('converted_at', sa.DateTime(), nullable=True),
    sa.Column('converted_contact_id', sa.String(length=255), nullable=True),
    sa.Column('converted_account_id', sa.String(length=255), nullable=True),
    sa.Column('converted_opportunity_id', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leads')),
    sa.UniqueConstraint('connection', 'remote_id', name=op.f('uq_leads_connection_remote_id'))
    )
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_leads_connection_remote_created_at'), ['connection', 'remote_created_at'], unique=False)

    op.create_table('metric_values',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=False),
    sa.Column('metric', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('dimension', sa.String(length=64), nullable=True),
    sa.Column('dimension_value', sa.String(length=255), nullable=True),
    sa.Column('subject_id', sa.String(length=255), nullable=True),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('numerator', sa.Float(), nullable=True),
    sa.Column('denominator', sa.Float(), nullable=True),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_metric_values'))
    )
    with op.batch_alter_table('metric_values', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_metric_values_metric_period_dimension_period_start'), ['metric', 'period', 'dimension', 'period_start'], unique=False)
        batch_op.create_index(batch_op.f('ix_metric_values_run_id'), ['run_id'], unique=False)

    op.create_table('opportunities',
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
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('type', sa.String(length=255), nullable=True),
    sa.Column('pipeline_id', sa.String(length=255), nullable=True),
    sa.Column('stage_id', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=8), nullable=True),
    sa.Column('amount', sa.Float(), nullable=True),
    sa.Column('currency', sa.String(length=8), nullable=True),
    sa.Column('amount_base', sa.Float(), nullable=True),
    sa.Column('probability', sa.Float(), nullable=True),
    sa.Column('expected_close_date', sa.Date(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('owner_id', sa.String(length=255), nullable=True),
    sa.Column('account_id', sa.String(length=255), nullable=True),
    sa.Column('lead_source', sa.String(length=255), nullable=True),
    sa.Column('won_reason', sa.Text(), nullable=True),
    sa.Column('lost_reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opportunities')),
    sa.UniqueConstraint('connection', 'remote_id', name=op.f('uq_opportunities_connection_remote_id'))
    )
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_opportunities_connection_account_id'), ['connection', 'account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_opportunities_connection_closed_at'), ['connection', 'closed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_opportunities_connection_owner_id'), ['connection', 'owner_id'], unique=False)

    op.create_table('opportunity_contacts',
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
    sa.Column('opportunity_id', sa.String(length=255), nullable=True),
    sa.Column('contact_id', sa.String(length=255), nullable=True),
    sa.Column('role', sa.String(length=255), nullable=True),
    sa.Column('is_primary', sa.Boolean(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opportunity_contacts')),
    sa.UniqueConstraint('connection', 'remote_id', name=op.f('uq_opportunity_contacts_connection_remote_id'))
    )
    op.create_table('opportunity_stage_history',
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
    sa.Column('opportunity_id', sa.String(length=255), nullable=True),
    sa.Column('stage_id', sa.String(length=255), nullable=True),
    sa.Column('entered_at', sa.DateTime(), nullable=True),
    sa.Column('exited_at', sa.DateTime(), nullable=True),
    sa.Column('amount', sa.Float(), nullable=True),
    sa.Column('changed_by', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opportunity_stage_history')),
    sa.UniqueConstraint('connection', 'remote_id', name=op.f('uq_opportunity_stage_history_connection_remote_id'))
    )
    with op.batch_alter_table('opportunity_stage_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_opportunity_stage_history_connection_opportunity_id'), ['connection', 'opportunity_id'], unique=False)

    op.create_table('pipelines',
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
    sa.Column('label', sa.String(length=255), nullable=True),
    sa.Column('display_order', sa.Integer(), nullable=True),
    sa.Column('is_default', sa.Boolean(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pipelines')),
    sa.UniqueConstraint('connection', 'remote_id', name=op.f('uq_pipelines_connection_remote_id'))
    )
    op.create_table('quotas',
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
    sa.Column('owner_id', sa.String(length=255), nullable=True),
    sa.Column('team', sa.String(length=255), nullable=True),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('amount', sa.Float(), nullable=True),
    sa.Column('currency', sa.String(length=8), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quotas')),
    sa.UniqueConstraint('connection', 'remote_id', name=op.f('uq_quotas_connection_remote_id'))
    )
    op.create_table('spend',
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
    sa.Column('category', sa.String(length=64), nullable=True),
    sa.Column('channel', sa.String(length=255), nullable=True),
    sa.Column('segment', sa.String(length=255), nullable=True),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('amount', sa.Float(), nullable=True),
    sa.Column('currency', sa.String(length=8), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spend')),
    sa.UniqueConstraint('connection', 'remote_id', name=op.f('uq_spend_connection_remote_id'))
    )
    op.create_table('stages',
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
    sa.Column('pipeline_id', sa.String(length=255), nullable=True),
    sa.Column('label', sa.String(length=255), nullable=True),
    sa.Column('display_order', sa.Integer(), nullable=True),
    sa.Column('probability', sa.Float(), nullable=True),
    sa.Column('is_closed', sa.Boolean(), nullable=True),
    sa.Column('is_won', sa.Boolean(), nullable=True),
    sa.Column('forecast_category', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stages')),
    sa.UniqueConstraint('connection', 'remote_id', name=op.f('uq_stages_connection_remote_id'))
    )
    op.create_table('sync_rejects',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.BigInteger(), nullable=False),
    sa.Column('connection', sa.String(length=255), nullable=False),
    sa.Column('entity', sa.String(length=64), nullable=False),
    sa.Column('remote_id', sa.String(length=255), nullable=True),
    sa.Column('source', sa.String(length=255), nullable=True),
    sa.Column('field', sa.String(length=255), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('payload', sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_rejects'))
    )
    with op.batch_alter_table('sync_rejects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_rejects_connection_entity_remote_id'), ['connection', 'entity', 'remote_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sync_rejects_run_id'), ['run_id'], unique=False)

    op.create_table('sync_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('connection', sa.String(length=255), nullable=False),
    sa.Column('entity', sa.String(length=64), nullable=False),
    sa.Column('full_refresh', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('rows_read', sa.Integer(), server_default='0', nullable=False),
    sa.Column('rows_upserted', sa.Integer(), server_default='0', nullable=False),
    sa.Column('rows_deleted', sa.Integer(), server_default='0', nullable=False),
    sa.Column('rejects', sa.Integer(), server_default='0', nullable=False),
    sa.Column('batches', sa.Integer(), server_default='0', nullable=False),
    sa.Column('api_calls', sa.Integer(), server_default='0', nullable=False),
    sa.Column('api_calls_by_endpoint', sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_runs'))
    )
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_runs_connection_entity_started_at'), ['connection', 'entity', 'started_at'], unique=False)

    op.create_table('sync_state',
    sa.Column('connection', sa.String(length=255), nullable=False),
    sa.Column('entity', sa.String(length=64), nullable=False),
    sa.Column('cursor', sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('last_run_id', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('connection', 'entity', name=op.f('pk_sync_state'))
    )
    op.create_table('users',
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
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=True),
    sa.Column('team', sa.String(length=255), nullable=True),
    sa.Column('role', sa.String(length=255), nullable=True),
    sa.Column('manager_id', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('connection', 'remote_id', name=op.f('uq_users_connection_remote_id'))
    )



def downgrade() -> None:

    op.drop_table('users')
    op.drop_table('sync_state')
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_runs_connection_entity_started_at'))

    op.drop_table('sync_runs')
    with op.batch_alter_table('sync_rejects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_rejects_run_id'))
        batch_op.drop_index(batch_op.f('ix_sync_rejects_connection_entity_remote_id'))

    op.drop_table('sync_rejects')
    op.drop_table('stages')
    op.drop_table('spend')
    op.drop_table('quotas')
    op.drop_table('pipelines')
    with op.batch_alter_table('opportunity_stage_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_opportunity_stage_history_connection_opportunity_id'))

    op.drop_table('opportunity_stage_history')
    op.drop_table('opportunity_contacts')
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_opportunities_connection_owner_id'))
        batch_op.drop_index(batch_op.f('ix_opportunities_connection_closed_at'))
        batch_op.drop_index(batch_op.f('ix_opportunities_connection_account_id'))

    op.drop_table('opportunities')
    with op.batch_alter_table('metric_values', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_metric_values_run_id'))
        batch_op.drop_index(batch_op.f('ix_metric_values_metric_period_dimension_period_start'))

    op.drop_table('metric_values')
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_leads_connection_remote_created_at'))

    op.drop_table('leads')
    op.drop_table('feedback')
    with op.batch_alter_table('currency_rates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_currency_rates_connection_currency_valid_from'))

    op.drop_table('currency_rates')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_connection_account_id'))

    op.drop_table('contacts')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activities_connection_owner_id_occurred_at'))
        batch_op.drop_index(batch_op.f('ix_activities_connection_opportunity_id'))
        batch_op.drop_index(batch_op.f('ix_activities_connection_lead_id'))

    op.drop_table('activities')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accounts_connection_owner_id'))

    op.drop_table('accounts')

