"""pytest fixtures for crmsync plugin authors (registered through the ``pytest11`` entry point).

pytest loads this module before ``pytest --cov`` starts measuring. It is a top-level package of
its own — loading it does not run ``crmsync/__init__`` — and it imports nothing of crmsync at
module level: the fixtures import what they use when they run, so coverage sees every module's
top-level code (docs/contributing.md#coverage).

The fixtures are documented in docs/testing-plugins.md ("Fixtures").
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from crmsync.core.reports import EntityResult
    from crmsync.plugin.connector import Connector
    from crmsync.store import Store
    from crmsync.testing.clock import FakeClock

__all__ = ["crmsync_store", "crmsync_pg_server", "crmsync_pg_store", "crmsync_clock",
           "crmsync_sync"]


@pytest.fixture
def crmsync_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated SQLite store in the test's temporary directory."""
    from crmsync.store import Store

    store = Store(f"sqlite:///{tmp_path / 'crmsync-test.db'}")
    yield store
    store.dispose()


@pytest.fixture(scope="session")
def crmsync_pg_server() -> str:
    """The URL of a reachable PostgreSQL: ``$CRMSYNC_TEST_PG``, by default database ``test``
    on ``127.0.0.1:5432``, started when it is down and ``pg_ctlcluster`` is installed.

    Skips the test when none can be reached — or fails it when ``$CI`` is set, so a CI run
    never passes without PostgreSQL.
    """
    from crmsync.testing.postgres import reachable_server, server_url

    url = server_url()
    error = reachable_server(url)
    if error is not None:
        message = f"PostgreSQL at {url} is not reachable: {error}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI never skips PostgreSQL)")
        pytest.skip(message)
    return url


@pytest.fixture
def crmsync_pg_store(crmsync_pg_server: str) -> Iterator[Store]:
    """A migrated PostgreSQL store in a fresh schema of ``crmsync_pg_server``'s database,
    dropped after the test."""
    from crmsync.store import Store
    from crmsync.testing.postgres import fresh_schema

    with fresh_schema(crmsync_pg_server) as url:
        store = Store(url)
        try:
            yield store
        finally:
            store.dispose()


@pytest.fixture
def crmsync_clock() -> FakeClock:
    """A :class:`crmsync.testing.FakeClock`: ``sleep`` returns at once and records the
    wait in ``waits``. ``crmsync_sync`` sleeps on it, so a retried rate limit costs no time
    and the test asserts the wait equals the ``Retry-After``."""
    from crmsync.testing.clock import FakeClock

    return FakeClock()


@pytest.fixture
def crmsync_sync(crmsync_store: Store, crmsync_clock: FakeClock
                 ) -> Callable[..., list[EntityResult]]:
    """``crmsync_sync(connector, entities=None, full=False, sleep=None, store=None)`` runs
    the real engine into ``crmsync_store`` (or ``store``) and returns the per-entity
    results; the engine's retries wait on ``sleep``, by default ``crmsync_clock.sleep``
    (instant, recorded)."""
    from crmsync.sync import SyncEngine

    def run(connector: Connector, entities: Sequence[str] | None = None,
            full: bool = False, sleep: Callable[[float], None] | None = None,
            store: Store | None = None) -> list[EntityResult]:
        engine = SyncEngine(store or crmsync_store, connector,
                            sleep=sleep or crmsync_clock.sleep)
        return engine.run(entities, full=full)

    return run
