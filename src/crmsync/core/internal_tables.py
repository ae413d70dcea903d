"""crmsync's own tables in the store (docs/concepts.md, "Runs" and "Rejects"): sync state and
runs, run locks, rejects, metric values and write-back state. :mod:`crmsync.core.schema`
re-exports them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
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

from crmsync.core.schema_types import CODE, ID, NAME, Id, Json, metadata

__all__ = ["sync_state", "sync_runs", "run_locks", "sync_rejects", "metric_values",
           "writeback_state", "coaching_findings", "notifications_sent", "text_themes",
           "metric_snapshots"]

sync_state = Table(
    "sync_state",
    metadata,
    Column("connection", String(NAME), primary_key=True),
    Column("entity", String(CODE), primary_key=True),
    Column("cursor", Json),
    Column("updated_at", DateTime(), nullable=False),
    Column("last_run_id", BigInteger()),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("connection", String(NAME), nullable=False),
    Column("entity", String(CODE), nullable=False),
    Column("full_refresh", Boolean(), nullable=False, server_default=false()),
    Column("started_at", DateTime(), nullable=False),
    Column("ended_at", DateTime()),
    Column("status", String(32), nullable=False),
    Column("rows_read", Integer(), nullable=False, server_default="0"),
    Column("rows_upserted", Integer(), nullable=False, server_default="0"),
    Column("rows_deleted", Integer(), nullable=False, server_default="0"),
    Column("rejects", Integer(), nullable=False, server_default="0"),
    Column("batches", Integer(), nullable=False, server_default="0"),
    Column("api_calls", Integer(), nullable=False, server_default="0"),
    Column("api_calls_by_endpoint", Json),
    Column("quota_used", BigInteger()),
    Column("quota_limit", BigInteger()),
    Column("error", Text()),
    Index(None, "connection", "entity", "started_at"),
)

#: One row per held run lock on SQLite (PostgreSQL uses advisory locks instead): ``name`` is
#: the locked target (e.g. ``sync:CONNECTION:ENTITY``); a holder refreshes ``heartbeat_at`` and
#: ``expires_at``; a lock whose ``expires_at`` has passed belongs to a crashed holder and may be
#: taken over.
run_locks = Table(
    "run_locks",
    metadata,
    Column("name", String(ID), primary_key=True),
    Column("owner", String(ID), nullable=False),
    Column("acquired_at", DateTime(), nullable=False),
    Column("heartbeat_at", DateTime(), nullable=False),
    Column("expires_at", DateTime(), nullable=False),
)

sync_rejects = Table(
    "sync_rejects",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", BigInteger(), nullable=False),
    Column("connection", String(NAME), nullable=False),
    Column("entity", String(CODE), nullable=False),
    Column("remote_id", String(ID)),
    Column("source", String(NAME)),
    Column("field", String(NAME)),
    Column("reason", Text(), nullable=False),
    Column("payload", Json),
    Column("created_at", DateTime(), nullable=False),
    Column("resolved_at", DateTime()),
    Index(None, "connection", "entity", "remote_id"),
    Index(None, "run_id"),
)

metric_values = Table(
    "metric_values",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", String(36), nullable=False),
    Column("metric", String(CODE), nullable=False),
    Column("version", Integer(), nullable=False, server_default="1"),
    Column("variant", String(CODE)),
    Column("period", String(16), nullable=False),
    Column("period_start", Date()),
    Column("period_end", Date()),
    Column("dimension", String(CODE)),
    Column("dimension_value", String(NAME)),
    Column("subject_id", String(ID)),
    Column("value", Float()),
    Column("numerator", Float()),
    Column("denominator", Float()),
    Column("computed_at", DateTime(), nullable=False),
    Index(None, "metric", "period", "dimension", "period_start"),
    Index(None, "run_id"),
)

#: Write-back bookkeeping: one row per CRM record and field crmsync has tried to write. The last
#: value a write succeeded with (``sent_value``/``sent_hash``) decides what is unchanged; a
#: failed attempt keeps its value in ``pending_value``/``pending_hash`` with the vendor's error
#: and the time of the next attempt.
writeback_state = Table(
    "writeback_state",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("connection", String(NAME), nullable=False),
    Column("object", String(CODE), nullable=False),
    Column("field", String(NAME), nullable=False),
    Column("remote_id", String(ID), nullable=False),
    Column("metric", String(CODE), nullable=False),
    Column("sent_value", Json),
    Column("sent_hash", String(64)),
    Column("pending_value", Json),
    Column("pending_hash", String(64)),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer(), nullable=False, server_default="0"),
    Column("error_code", String(NAME)),
    Column("error", Text()),
    Column("next_attempt_at", DateTime()),
    Column("sent_at", DateTime()),
    Column("updated_at", DateTime(), nullable=False),
    UniqueConstraint("connection", "object", "field", "remote_id"),
    Index(None, "status", "updated_at"),
)

#: Coaching findings (docs/coaching.md): one row per rule and rep, kept across runs. ``status``
#: is ``open`` or ``resolved``; a finding that fires again after it was resolved is reopened
#: (``reopened`` counts how often). ``evidence`` holds the latest evaluation's KPI values.
coaching_findings = Table(
    "coaching_findings",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("rule_id", String(CODE), nullable=False),
    Column("rep_id", String(ID), nullable=False),
    Column("rep_name", String(NAME)),
    Column("team", String(NAME)),
    Column("title", String(NAME), nullable=False),
    Column("area", String(NAME), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("gap", Float()),
    Column("period", String(16), nullable=False),
    Column("period_start", Date()),
    Column("period_end", Date()),
    Column("evidence", Json),
    Column("status", String(16), nullable=False),
    Column("opened_at", DateTime(), nullable=False),
    Column("last_seen_at", DateTime(), nullable=False),
    Column("resolved_at", DateTime()),
    Column("reopened", Integer(), nullable=False, server_default="0"),
    Column("last_run_at", DateTime(), nullable=False),
    UniqueConstraint("rule_id", "rep_id"),
    Index(None, "status", "rep_id"),
)


#: What the notifier last sent per alert (docs/trends.md, "Notifications"): an alert of the
#: same kind, metric, period and dimension value is sent again only when its value or
#: target changed.
notifications_sent = Table(
    "notifications_sent",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(512), nullable=False, unique=True),
    Column("kind", String(CODE), nullable=False),
    Column("metric", String(CODE), nullable=False),
    Column("period", String(16), nullable=False),
    Column("period_start", Date()),
    Column("dimension", String(CODE)),
    Column("dimension_value", String(NAME)),
    Column("value", Float()),
    Column("target", Float()),
    Column("sent_at", DateTime(), nullable=False),
)


#: Themes of the texts customers and deals leave (docs/themes.md): per analysed text one row
#: with ``theme`` NULL (the text: its sentiment, time and attribution), plus one row per theme
#: it is in. ``fingerprint`` hashes the text, its time and attribution with the analyser, its
#: version, options and taxonomy: a text is analysed again only when one of them changes.
text_themes = Table(
    "text_themes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("connection", String(NAME), nullable=False),
    Column("entity", String(CODE), nullable=False),
    Column("remote_id", String(ID), nullable=False),
    Column("field", String(CODE), nullable=False),
    Column("theme", String(CODE)),
    Column("sentiment", Float()),
    Column("matched", String(NAME)),
    Column("occurred_at", DateTime()),
    Column("owner_id", String(ID)),
    Column("account_id", String(ID)),
    Column("nps_score", Float()),
    Column("analyser", String(CODE), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("analysed_at", DateTime(), nullable=False),
    Index(None, "connection", "entity", "remote_id", "field"),
    Index(None, "theme", "occurred_at"),
    Index(None, "owner_id", "occurred_at"),
)


#: Metric values *as of* a past instant (``crmsync metrics compute --as-of``, ``crmsync metrics
#: snapshot``): the columns of ``metric_values`` plus the instant they describe. Kept apart so an
#: as-of computation never replaces the current values (docs/as-of.md).
metric_snapshots = Table(
    "metric_snapshots",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", String(36), nullable=False),
    Column("snapshot_at", DateTime(), nullable=False),
    Column("metric", String(CODE), nullable=False),
    Column("version", Integer(), nullable=False, server_default="1"),
    Column("variant", String(CODE)),
    Column("period", String(16), nullable=False),
    Column("period_start", Date()),
    Column("period_end", Date()),
    Column("dimension", String(CODE)),
    Column("dimension_value", String(NAME)),
    Column("subject_id", String(ID)),
    Column("value", Float()),
    Column("numerator", Float()),
    Column("denominator", Float()),
    Column("computed_at", DateTime(), nullable=False),
    Index(None, "metric", "period", "dimension", "snapshot_at"),
    Index(None, "run_id"),
)
