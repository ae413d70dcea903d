"""Alembic, driven from Python: the migrations ship inside the package.

Several processes may open a fresh store at once (cron, a scheduler and workers starting
together): schema set-up is serialised so exactly one of them migrates and the others find the
store at head (docs/deploying.md, "Several processes, one fresh store").
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

__all__ = ["alembic_config", "upgrade", "current", "head", "advisory_key"]

MIGRATIONS = Path(__file__).with_name("migrations")


def advisory_key(scope: str, name: str) -> int:
    """A stable signed 64-bit key for ``pg_try_advisory_lock`` (blake2b of scope and name)."""
    digest = hashlib.blake2b(f"{scope}\0{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def alembic_config() -> Config:
    """An Alembic config pointing at crmsync's migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head() -> str:
    """The newest migration revision."""
    rev = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert rev is not None
    return rev


def current(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


#: Name of the PostgreSQL advisory lock held while migrating (hashed with the schema).
MIGRATION_LOCK = "crmsync:migrate"


def _serialise(conn: Connection) -> None:
    """Take the store's migration lock inside ``conn``'s transaction, until it ends.

    PostgreSQL: a transaction-level advisory lock (``pg_advisory_xact_lock``) keyed on the
    schema, so stores in other schemas of the database do not wait. SQLite: ``BEGIN
    IMMEDIATE`` takes the database's write lock before the first read, so the revision read
    and the DDL that follows are one step (a waiting process blocks up to ``busy_timeout``).
    """
    if conn.dialect.name == "postgresql":

        schema = conn.execute(sa.text("select current_schema()")).scalar() or ""
        conn.execute(sa.text("select pg_advisory_xact_lock(:k)"),
                     {"k": advisory_key(schema, MIGRATION_LOCK)})
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade(engine: Engine, revision: str = "head") -> list[str]:
    """Upgrade the database to ``revision``; a no-op (one cheap query) when current.

    Safe to call from several processes at once on a fresh store: the first migrates under
    the migration lock, the others wait for it and then find nothing to do.
    """
    target = head() if revision == "head" else revision
    if current(engine) == target:
        return []
    cfg = alembic_config()
    with engine.begin() as conn:
        _serialise(conn)
        before = MigrationContext.configure(conn).get_current_revision()
        if before == target:
            return []
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    script = ScriptDirectory.from_config(cfg)
    applied = [s.revision for s in script.iterate_revisions(target, before)]
    return list(reversed(applied))
