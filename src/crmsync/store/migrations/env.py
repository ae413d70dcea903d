"""Alembic environment: runs on the connection crmsync hands over."""

from __future__ import annotations

from alembic import context

from crmsync.core.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - crmsync always passes its connection
    raise RuntimeError("crmsync migrations run through crmsync.store.migrate.upgrade()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
