"""pytest fixtures for crmsync plugin authors (registered through the ``pytest11`` entry point).

pytest loads this module before ``pytest --cov`` starts measuring. It is a top-level package of
its own — loading it does not run ``crmsync/__init__`` — and it imports nothing of crmsync at
module level: the fixtures import what they use when they run, so coverage sees every module's
top-level code (docs/contributing.md#coverage).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from crmsync.core.reports import EntityResult
    from crmsync.plugin.connector import Connector
    from crmsync.store import Store

__all__ = ["crmsync_store", "crmsync_sync"]


@pytest.fixture
def crmsync_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated SQLite store in the test's temporary directory."""
    from crmsync.store import Store

    store = Store(f"sqlite:///{tmp_path / 'crmsync-test.db'}")
    yield store
    store.dispose()


@pytest.fixture
def crmsync_sync(crmsync_store: Store
                 ) -> Callable[..., list[EntityResult]]:
    """``crmsync_sync(connector, entities=None, full=False)`` runs the real engine into
    ``crmsync_store`` and returns the per-entity results."""
    from crmsync.sync import SyncEngine

    def run(connector: Connector, entities: Sequence[str] | None = None,
            full: bool = False) -> list[EntityResult]:
        return SyncEngine(crmsync_store, connector).run(entities, full=full)

    return run
