"""Alembic, driven from Python: the migrations ship inside the package.

Several processes may open a fresh store at once (cron, a scheduler and workers starting
together): schema set-up is serialised so exactly one of them migrates and the others find the
store at head (docs/deploying.md, "Several processes, one fresh store").

Opening a store that is already at head is the common case (every command does it): it costs
one read of ``alembic_version`` and of the migration files' ``revision`` lines, and does not
import Alembic, whose import takes longer than a no-op sync (docs/performance.md, "Start-up").
"""

from __future__ import annotations

import ast
import hashlib
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["alembic_config", "upgrade", "current", "head", "advisory_key"]

MIGRATIONS = Path(__file__).with_name("migrations")
#: The module-level ``revision = …`` / ``down_revision = …`` lines of a migration file.
_IDENTIFIER = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


def advisory_key(scope: str, name: str) -> int:
    """A stable signed 64-bit key for ``pg_try_advisory_lock`` (blake2b of scope and name)."""
    digest = hashlib.blake2b(f"{scope}\0{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def alembic_config() -> Config:
    """An Alembic config pointing at crmsync's migrations."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _read_head() -> str | None:
    """The single head of the migration files, read as text; None when the files are not all
    plain (a literal ``revision`` and ``down_revision`` each) or there is not exactly one head:
    Alembic then decides."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(MIGRATIONS.joinpath("versions").glob("*.py")):
        found = {m[1]: m[2] for m in _IDENTIFIER.finditer(path.read_text("utf-8"))}
        try:
            revision = ast.literal_eval(found["revision"])
            down = ast.literal_eval(found["down_revision"])
        except (KeyError, ValueError, SyntaxError):
            return None
        if not isinstance(revision, str):
            return None
        revisions.add(revision)
        downs = down if isinstance(down, tuple) else (down,)
        if not all(d is None or isinstance(d, str) for d in downs):
            return None
        parents.update(d for d in downs if d is not None)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


@lru_cache(maxsize=1)
def head() -> str:
    """The newest migration revision (the same as Alembic's ``get_current_head``,
    ``tests/test_migrate_fast.py``)."""
    rev = _read_head()
    if rev is None:
        from alembic.script import ScriptDirectory

        rev = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert rev is not None
    return rev


def _stored(conn: Connection) -> list[str]:
    """The rows of the store's ``alembic_version`` table (none for an empty database), found
    the way Alembic's ``MigrationContext`` finds it (the default schema)."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return []
    return [str(r[0]) for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))]


def current(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as conn:
        rows = _stored(conn)
        if len(rows) <= 1:
            return rows[0] if rows else None
        from alembic.runtime.migration import MigrationContext  # raises: several heads

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
    """Upgrade the database to ``revision``; a no-op (one cheap query, no Alembic import)
    when current.

    Safe to call from several processes at once on a fresh store: the first migrates under
    the migration lock, the others wait for it and then find nothing to do.
    """
    target = head() if revision == "head" else revision
    with engine.connect() as conn:
        if _stored(conn) == [target]:
            return []
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

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
