"""The unified schema: a public contract, documented column by column in
``docs/schema.md``.

All timestamps are stored as naive UTC. References between records (``owner_id``,
``account_id``…) hold the referenced record's ``remote_id`` within the same connection, so
records load in any order.

Column ``info`` keys used by the engine's validation:

* ``required``: the engine rejects a record without a value.
* ``choices``: the allowed values (case is ignored).
* ``min`` / ``max``: the least / greatest number the column takes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from crmsync.core.internal_tables import (
    metric_values,
    run_locks,
    sync_rejects,
    sync_runs,
    sync_state,
    writeback_state,
)
from crmsync.core.schema_types import CODE, ID, NAME, Id, Json, metadata

__all__ = [
    "metadata",
    "SYNCED_TABLES",
    "HISTORY_FIELDS",
    "HISTORY_SOURCES",
    "BILLING_FREQUENCIES",
    "BILLING_MONTHS",
    "ENTITIES",
    "SYSTEM_COLUMNS",
    "BOOK_KEEPING_COLUMNS",
    "Json",
    "sync_state",
    "sync_runs",
    "run_locks",
    "sync_rejects",
    "metric_values",
    "writeback_state",
]

#: Columns every synced table has, in order. ``id`` and ``connection`` are set by the engine.
SYSTEM_COLUMNS = ("id", "connection", "remote_id", "remote_created_at", "remote_updated_at",
                  "is_deleted", "deleted_at", "custom", "synced_at", "raw")
#: Columns the engine owns: a connector never sets them.
BOOK_KEEPING_COLUMNS = ("id", "connection", "synced_at")


def ref(name: str, **kw: Any) -> Column[str]:
    """A reference column: the remote id of another record in the same connection."""
    return Column(name, String(ID), nullable=True, **kw)


def synced_table(name: str, *columns: Column[Any],
                 indexes: tuple[tuple[str, ...], ...] = ()) -> Table:
    """A table with the common synced columns followed by ``columns``."""
    table = Table(
        name,
        metadata,
        Column("id", Id, primary_key=True, autoincrement=True),
        Column("connection", String(NAME), nullable=False),
        Column("remote_id", String(ID), nullable=False, info={"required": True}),
        Column("remote_created_at", DateTime()),
        Column("remote_updated_at", DateTime()),
        Column("is_deleted", Boolean(), nullable=False, default=False, server_default=false()),
        Column("deleted_at", DateTime()),
        Column("custom", Json),
        Column("synced_at", DateTime(), nullable=False),
        Column("raw", Json),
        *columns,
        UniqueConstraint("connection", "remote_id"),
    )
    for cols in indexes:
        Index(None, table.c.connection, *(table.c[c] for c in cols))
    return table


users = synced_table(
    "users",
    Column("name", String(NAME)),
    Column("email", String(NAME)),
    Column("is_active", Boolean()),
    Column("team", String(NAME)),
    Column("role", String(NAME)),
    ref("manager_id"),
)

accounts = synced_table(
    "accounts",
    Column("name", String(NAME)),
    Column("domain", String(NAME)),
    Column("industry", String(NAME)),
    Column("segment", String(NAME)),
    Column("region", String(NAME)),
    Column("territory", String(NAME)),
    Column("employee_count", Integer(), info={"min": 0}),
    Column("annual_revenue", Float(), info={"min": 0}),
    ref("owner_id"),
    ref("parent_id"),
    indexes=(("owner_id",),),
)

contacts = synced_table(
    "contacts",
    Column("first_name", String(NAME)),
    Column("last_name", String(NAME)),
    Column("email", String(NAME)),
    Column("phone", String(CODE)),
    Column("title", String(NAME)),
    ref("account_id"),
    ref("owner_id"),
    Column("lifecycle_stage", String(CODE)),
    Column("lead_source", String(NAME)),
    indexes=(("account_id",),),
)

leads = synced_table(
    "leads",
    Column("name", String(NAME)),
    Column("company", String(NAME)),
    Column("email", String(NAME)),
    Column("status", String(CODE)),
    Column("lead_source", String(NAME)),
    ref("owner_id"),
    Column("converted_at", DateTime()),
    ref("converted_contact_id"),
    ref("converted_account_id"),
    ref("converted_opportunity_id"),
    indexes=(("remote_created_at",), ("converted_contact_id",)),
)

pipelines = synced_table(
    "pipelines",
    Column("label", String(NAME), info={"required": True}),
    Column("display_order", Integer()),
    Column("is_default", Boolean()),
)

stages = synced_table(
    "stages",
    ref("pipeline_id", info={"required": True}),
    Column("label", String(NAME), info={"required": True}),
    Column("display_order", Integer()),
    Column("probability", Float(), info={"min": 0, "max": 100}),
    Column("is_closed", Boolean()),
    Column("is_won", Boolean()),
    Column("forecast_category", String(CODE)),
)

opportunities = synced_table(
    "opportunities",
    Column("name", String(NAME)),
    Column("type", String(NAME)),
    ref("pipeline_id"),
    ref("stage_id"),
    Column("status", String(8), info={"required": True, "choices": ("open", "won", "lost")}),
    Column("amount", Float(), info={"min": 0}),
    Column("currency", String(8)),
    Column("amount_base", Float(), info={"min": 0}),
    Column("probability", Float(), info={"min": 0, "max": 100}),
    Column("expected_close_date", Date()),
    Column("closed_at", DateTime()),
    ref("owner_id"),
    ref("account_id"),
    Column("lead_source", String(NAME)),
    Column("won_reason", Text()),
    Column("lost_reason", Text()),
    Column("forecast_category", String(CODE)),
    ref("campaign_id"),
    indexes=(("closed_at",), ("owner_id",), ("account_id",)),
)

opportunity_stage_history = synced_table(
    "opportunity_stage_history",
    ref("opportunity_id", info={"required": True}),
    ref("stage_id", info={"required": True}),
    Column("entered_at", DateTime(), info={"required": True}),
    Column("exited_at", DateTime()),
    Column("amount", Float(), info={"min": 0}),
    ref("changed_by"),
    indexes=(("opportunity_id",),),
)

#: The opportunity fields whose changes ``opportunity_field_history`` records.
HISTORY_FIELDS = ("stage_id", "amount", "currency", "expected_close_date", "owner_id",
                  "probability", "forecast_category")
#: Where a history row comes from: the CRM's own audit trail, or a change crmsync saw
#: between two syncs (``changed_at`` is then the sync's time: docs/history.md).
HISTORY_SOURCES = ("crm", "observed")

opportunity_field_history = synced_table(
    "opportunity_field_history",
    ref("opportunity_id", info={"required": True}),
    Column("field", String(CODE), info={"required": True, "choices": HISTORY_FIELDS}),
    Column("changed_at", DateTime(), info={"required": True}),
    Column("old_value", Text()),
    Column("new_value", Text()),
    ref("changed_by"),
    Column("source", String(16), info={"choices": HISTORY_SOURCES}),
    indexes=(("opportunity_id", "field", "changed_at"), ("changed_at",)),
)

opportunity_contacts = synced_table(
    "opportunity_contacts",
    ref("opportunity_id", info={"required": True}),
    ref("contact_id", info={"required": True}),
    Column("role", String(NAME)),
    Column("is_primary", Boolean()),
)

activities = synced_table(
    "activities",
    Column("type", String(16), info={"required": True,
                                     "choices": ("call", "email", "meeting", "task", "note")}),
    Column("direction", String(16), info={"choices": ("inbound", "outbound")}),
    Column("subject", Text()),
    Column("occurred_at", DateTime(), info={"required": True}),
    Column("status", String(CODE)),
    Column("outcome", String(NAME)),
    Column("duration_seconds", Integer(), info={"min": 0}),
    Column("is_automated", Boolean()),
    ref("owner_id"),
    ref("contact_id"),
    ref("lead_id"),
    ref("account_id"),
    ref("opportunity_id"),
    indexes=(("owner_id", "occurred_at"), ("lead_id",), ("opportunity_id",), ("contact_id",),
             ("account_id",)),
)

currency_rates = synced_table(
    "currency_rates",
    Column("currency", String(8), info={"required": True}),
    Column("base_currency", String(8)),
    Column("rate_to_base", Float(), info={"required": True, "min": 0}),
    Column("valid_from", Date(), info={"required": True}),
    Column("valid_to", Date()),
    indexes=(("currency", "valid_from"),),
)

quotas = synced_table(
    "quotas",
    ref("owner_id"),
    Column("team", String(NAME)),
    Column("period_start", Date(), info={"required": True}),
    Column("period_end", Date(), info={"required": True}),
    Column("amount", Float(), info={"required": True, "min": 0}),
    Column("currency", String(8)),
)

spend = synced_table(
    "spend",
    Column("category", String(CODE), info={"required": True,
                                           "choices": ("marketing", "sales", "other")}),
    Column("channel", String(NAME)),
    Column("segment", String(NAME)),
    Column("period_start", Date(), info={"required": True}),
    Column("period_end", Date(), info={"required": True}),
    Column("amount", Float(), info={"required": True, "min": 0}),
    Column("currency", String(8)),
)

feedback = synced_table(
    "feedback",
    Column("type", String(8), info={"required": True, "choices": ("nps", "csat", "ces")}),
    Column("score", Float(), info={"required": True}),
    ref("contact_id"),
    ref("account_id"),
    ref("owner_id"),
    Column("responded_at", DateTime(), info={"required": True}),
    Column("comment", Text()),
)

targets = synced_table(
    "targets",
    Column("metric", String(CODE), info={"required": True}),
    Column("value", Float(), info={"required": True}),
    Column("direction", String(32), info={"choices": ("higher_is_better", "lower_is_better")}),
    Column("period", String(16)),
    Column("dimension", String(CODE)),
    Column("dimension_value", String(NAME)),
)

#: How often a recurring line item bills (HubSpot's ``recurringbillingfrequency`` values, plus
#: ``one_time``); :data:`BILLING_MONTHS` gives the months each period covers.
BILLING_FREQUENCIES = ("one_time", "weekly", "biweekly", "monthly", "quarterly",
                       "per_six_months", "annually", "per_two_years", "per_three_years",
                       "per_four_years", "per_five_years")
#: Months one billing period covers, for each recurring :data:`BILLING_FREQUENCIES` value
#: (a line item's monthly recurring revenue is its amount ÷ these months).
BILLING_MONTHS: dict[str, float] = {
    "weekly": 12 / 52, "biweekly": 12 / 26, "monthly": 1.0, "quarterly": 3.0,
    "per_six_months": 6.0, "annually": 12.0, "per_two_years": 24.0, "per_three_years": 36.0,
    "per_four_years": 48.0, "per_five_years": 60.0,
}

products = synced_table(
    "products",
    Column("name", String(NAME)),
    Column("code", String(NAME)),
    Column("family", String(NAME)),
    Column("description", Text()),
    Column("is_active", Boolean()),
    Column("unit_price", Float()),
    Column("currency", String(8)),
    Column("billing_frequency", String(16), info={"choices": BILLING_FREQUENCIES}),
    Column("term_months", Integer(), info={"min": 0}),
)

opportunity_line_items = synced_table(
    "opportunity_line_items",
    ref("opportunity_id", info={"required": True}),
    ref("product_id"),
    Column("name", String(NAME)),
    Column("quantity", Float()),
    Column("unit_price", Float()),
    Column("discount", Float()),
    Column("amount", Float()),
    Column("currency", String(8)),
    Column("amount_base", Float()),
    Column("billing_frequency", String(16), info={"choices": BILLING_FREQUENCIES}),
    Column("term_months", Integer(), info={"min": 0}),
    Column("billing_start_date", Date()),
    indexes=(("opportunity_id",), ("product_id",)),
)

web_traffic = synced_table(
    "web_traffic",
    Column("date", Date(), info={"required": True}),
    Column("channel", String(NAME), info={"required": True}),
    Column("sessions", Integer(), info={"min": 0}),
    Column("page_views", Integer(), info={"min": 0}),
    Column("new_contacts", Integer(), info={"min": 0}),
    indexes=(("date",),),
)

#: Synced tables by name, in a natural load order (parents first, though any order works).
SYNCED_TABLES: dict[str, Table] = {
    t.name: t for t in (
        users, accounts, contacts, leads, pipelines, stages, opportunities,
        opportunity_stage_history, opportunity_field_history, opportunity_contacts, activities,
        currency_rates, quotas, spend, feedback, targets,
        products, opportunity_line_items, web_traffic,
    )
}
#: The entity names connectors read: the synced tables' names.
ENTITIES: tuple[str, ...] = tuple(SYNCED_TABLES)
