"""Test fixtures: every store-backed test runs on SQLite and on a real PostgreSQL.

PostgreSQL: ``$CRMSYNC_TEST_PG`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``).
If the server is down and ``pg_ctlcluster`` is installed, it is started. When PostgreSQL cannot
be reached the tests fail under CI (``CI`` set) and are skipped loudly elsewhere.

``store_url`` and ``store`` are a fresh store *at head*: a copy of a store the session migrated
once (a SQLite file copied; on PostgreSQL, that store's ``pg_dump`` run into a new schema in
one statement: about 90 ms, against 450 ms for Alembic's statements one by one). The
migrations themselves run from nothing in the tests that are about them
(``empty_store_url``; ``pg_url``, an empty schema of its own).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from crmsync.core.config import Config, ConnectionConfig
from crmsync.core.schema import metadata
from crmsync.plugin.manager import get_plugin_manager
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from crmsync.store.migrate import head
from crmsync.testing.postgres import fresh_schema, reachable_server, server_url
from fakes.hubspot_fixtures import fake_hubspot, fake_hubspot_factory  # noqa: F401 - fixtures
from fakes.pytest_fixtures import fake_sf_org, sf_jwt_key  # noqa: F401 - fixtures

PG_URL = server_url()
REPO = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--record-cassettes``: connector tests re-record their vcrpy cassettes against a real
    CRM (credentials from environment variables named in docs/connectors/<type>.md) instead
    of replaying them with ``record_mode="none"``. Shared by every connector's tests."""
    parser.addoption("--record-cassettes", action="store_true", default=False,
                     help="re-record connector cassettes against the real CRM APIs")


@pytest.fixture(scope="session")
def record_cassettes(pytestconfig: pytest.Config) -> bool:
    """True when the run was asked to re-record cassettes (``--record-cassettes``)."""
    return bool(pytestconfig.getoption("--record-cassettes"))


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The URL of a reachable PostgreSQL, starting the local cluster if it is down (the same
    helpers the ``crmsync_pg_store`` fixture of plugin tests uses)."""
    error = reachable_server(PG_URL)
    if error:
        message = f"PostgreSQL at {PG_URL} is not reachable: {error}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI never skips PostgreSQL)")
        pytest.skip(message)
    return PG_URL


#: A PostgreSQL URL whose search_path is a fresh schema, dropped on exit.
fresh_pg_schema = fresh_schema


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    with fresh_pg_schema(pg_server) as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store migrated to head once a session (closed: its WAL checkpointed away)."""
    path = tmp_path_factory.mktemp("template") / "store.db"
    Store(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture(scope="session")
def pg_template(pg_server: str) -> str | None:
    """The DDL of a PostgreSQL store at head, as ``pg_dump --schema-only`` writes it for a
    schema Alembic migrated once a session (per worker), with :data:`TEMPLATE` for its name;
    ``None`` without ``pg_dump`` (each store is then migrated when it opens)."""
    if shutil.which("pg_dump") is None:
        return None
    with fresh_pg_schema(pg_server) as url:
        Store(url).dispose()
        schema = str(sa.make_url(url).query["options"]).removeprefix("-csearch_path=")
        server = sa.make_url(pg_server)
        dump = subprocess.run(
            ["pg_dump", "--schema-only", "--no-owner", "--no-privileges", "-n", schema,
             "-h", server.host or "127.0.0.1", "-p", str(server.port or 5432),
             "-U", server.username or "postgres", "-d", server.database or "test"],
            capture_output=True, text=True, check=True,
            env=dict(os.environ, PGPASSWORD=server.password or "")).stdout
    # psql's own commands (``\restrict``) are not SQL; the schema itself is created per copy
    lines = [line for line in dump.splitlines()
             if not line.startswith("\\") and line != f"CREATE SCHEMA {schema};"]
    rows = f"INSERT INTO {schema}.alembic_version VALUES ('{head()}');"
    return "\n".join([*lines, rows]).replace(schema, TEMPLATE)


#: The template schema's name in :func:`pg_template`'s DDL.
TEMPLATE = "crmsync_template_schema"


@contextlib.contextmanager
def migrated_pg_schema(server: str, ddl: str | None) -> Iterator[str]:
    """A URL of ``server``'s database whose ``search_path`` is a new schema holding a store at
    head (``ddl`` from :func:`pg_template`, run in one statement), dropped on exit."""
    with fresh_pg_schema(server) as url:
        if ddl is None:
            Store(url).dispose()
            yield url
            return
        schema = str(sa.make_url(url).query["options"]).removeprefix("-csearch_path=")
        engine = sa.create_engine(server)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(ddl.replace(TEMPLATE, schema))
        finally:
            engine.dispose()
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store URL at head: once SQLite, once PostgreSQL (see the module docstring)."""
    if request.param == "sqlite":
        path = tmp_path / "store.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    with migrated_pg_schema(request.getfixturevalue("pg_server"),
                            request.getfixturevalue("pg_template")) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store URL (no table yet), for the tests of the migrations themselves."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open, migrated store (SQLite and PostgreSQL)."""
    s = Store(store_url)
    yield s
    s.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """An open, migrated SQLite store, for tests about behaviour no dialect changes."""
    s = Store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.dispose()


@pytest.fixture
def registry() -> Registry:
    """A registry of the installed plugins (built-ins included)."""
    return Registry(get_plugin_manager())


def make_config(store_url: str, **connections: dict) -> Config:
    """A Config with the given connections (``name={"type": ..., ...}``)."""
    return Config(store_url=store_url, connections={
        name: ConnectionConfig(name=name, type=raw["type"], raw=dict(raw))
        for name, raw in connections.items()})


def table_rows(store: Store, table: str, *columns: str) -> list[tuple]:
    """All rows of ``table`` (the given columns, or all but bookkeeping), sorted."""
    tbl = metadata.tables[table]
    cols = [tbl.c[c] for c in columns] if columns else [
        c for c in tbl.c if c.name not in ("id", "synced_at")]
    with store.engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(sa.select(*cols)).all())


class RecordsConnector:
    """Builds a connector class serving fixed records per entity (one batch each)."""

    @staticmethod
    def make(data: dict[str, list[dict]]):
        from crmsync import Batch, Connector

        class Records(Connector):
            NAME = "records"
            ENTITIES = tuple(data)

            def read(self, entity, cursor):
                yield Batch(records=data[entity], cursor={"done": True})

        return Records


def load_records(store: Store, data: dict[str, list[dict]], connection: str = "crm") -> None:
    """Sync ``data`` (entity → records) into ``store`` through the real engine."""
    from crmsync.sync import SyncEngine

    cls = RecordsConnector.make(data)
    results = SyncEngine(store, cls(connection, {})).run()
    bad = [r for r in results if r.status != "success" or r.rejects]
    assert not bad, bad
