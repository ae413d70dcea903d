"""The fixtures and steps every part of :class:`~crmsync.testing.LiveConnectorContract`
shares (docs/testing-plugins.md).

A subclass provides ``world`` (a :class:`~crmsync.testing.World`) and ``connector`` (a
connector pointed at that world); the rest has defaults a subclass may override.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from crmsync.core.errors import ConnectorError
from crmsync.core.reports import EntityResult
from crmsync.core.retry import RetryPolicy
from crmsync.plugin.connector import Connector
from crmsync.store import Store
from crmsync.sync import SyncEngine
from crmsync.testing.clock import FakeClock
from crmsync.testing.live_support import ReadResult, read_all
from crmsync.testing.world import World

__all__ = ["LiveContractBase", "StoreFactory"]

_WORLD_METHODS = ("create", "update", "delete", "advance", "fail_next", "on_next_call", "value")

#: ``new_store()`` opens another empty, migrated store for the test.
StoreFactory = Callable[[], Store]


class LiveContractBase:
    """Fixtures and helpers of the live contract suite."""

    #: How far the suite moves the world's clock after a change before it reads: raise it to
    #: your connector's settle horizon when it holds back records changed in the last
    #: seconds.
    SETTLE_SECONDS: ClassVar[float] = 1.0

    @pytest.fixture
    def world(self) -> World:  # pragma: no cover - provided by the subclass
        """The CRM behind ``connector``; provided by the subclass."""
        raise NotImplementedError("provide a `world` fixture (a crmsync.testing.World)")

    @pytest.fixture
    def connector(self) -> Connector:  # pragma: no cover - provided by the subclass
        """The connector under test, pointed at ``world``; provided by the subclass."""
        raise NotImplementedError("provide a `connector` fixture pointed at `world`")

    @pytest.fixture
    def page_size(self, connector: Connector) -> int | None:
        """Records per API page the connector asks for (its ``page_size`` setting by
        default); ``None`` skips the tests that need several pages. Set it small (2–5)."""
        value = connector.settings.get("page_size")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @pytest.fixture
    def entities(self, world: World, connector: Connector) -> tuple[str, ...]:
        """The entities the suite changes: those both the world and the connector have."""
        missing = [m for m in ("ENTITIES", *_WORLD_METHODS) if not hasattr(world, m)]
        assert not missing, (f"the `world` fixture gave a {type(world).__name__}, which lacks "
                             f"{', '.join(missing)} of crmsync.testing.World")
        both = tuple(e for e in world.ENTITIES if e in connector.ENTITIES)
        if not both:
            pytest.skip("the world changes none of the entities the connector reads")
        return both

    @pytest.fixture
    def new_store(self, tmp_path: Path) -> Iterator[StoreFactory]:
        """``new_store()``: another empty, migrated SQLite store (override it to run the
        suite on PostgreSQL, e.g. with ``crmsync_pg_store``)."""
        opened: list[Store] = []

        def make() -> Store:
            store = Store(f"sqlite:///{tmp_path / f'contract-{len(opened)}.db'}")
            opened.append(store)
            return store

        yield make
        for store in opened:
            store.dispose()

    # -- steps ---------------------------------------------------------------------------------

    def settle(self, world: World) -> None:
        """Let changes settle: move the world's clock by :attr:`SETTLE_SECONDS`."""
        world.advance(self.SETTLE_SECONDS)

    def read(self, connector: Connector, entity: str, cursor: Any = None) -> ReadResult:
        """Read ``entity`` from ``cursor`` to the end."""
        return read_all(connector, entity, cursor)

    def sync(self, store: Store, connector: Connector, entity: str, *,
             clock: FakeClock | None = None, attempts: int = 5) -> EntityResult:
        """Sync ``entity`` through the real engine into ``store`` (instant sleeps on
        ``clock``); the result must be a success."""
        result = self.run_engine(store, connector, entity, clock=clock, attempts=attempts)
        assert result.status == "success", f"{entity}: the sync {result.status}: {result.error}"
        return result

    def run_engine(self, store: Store, connector: Connector, entity: str, *,
                   clock: FakeClock | None = None, attempts: int = 5) -> EntityResult:
        """Sync ``entity`` through the real engine and return its result, whatever it is."""
        engine = SyncEngine(store, connector, sleep=(clock or FakeClock()).sleep,
                            retry=RetryPolicy(attempts=attempts))
        try:
            return engine.run([entity])[0]
        except ConnectorError:
            return engine.results[0]

    def create_many(self, world: World, entity: str, count: int, *, apart: float = 0
                    ) -> list[str]:
        """Create ``count`` records, ``apart`` seconds apart on the world's clock."""
        ids = []
        for _ in range(count):
            ids.append(world.create(entity))
            if apart:
                world.advance(apart)
        return ids

    @staticmethod
    def require_pages(page_size: int | None) -> int:
        """``page_size``, or skip: the test needs reads of several pages."""
        if not page_size:
            pytest.skip("needs several pages: give the connector a small `page_size` "
                        "setting or override the `page_size` fixture")
        return page_size

    @staticmethod
    def first(entities: Sequence[str]) -> str:
        """The entity tests about the connection as a whole use."""
        return entities[0]
