"""The store: the unified schema in SQLite (default) or PostgreSQL, migrated by Alembic."""

from __future__ import annotations

from crmsync.store.database import DEFAULT_URL, Store, open_store
from crmsync.store.upsert import mark_deleted, upsert_prepared, upsert_rows

__all__ = ["DEFAULT_URL", "Store", "open_store", "upsert_rows", "upsert_prepared", "mark_deleted"]
