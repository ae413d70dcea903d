"""Contract tests on deletes and on the CRM failing: rate limits, server errors and bad
credentials raised as crmsync errors and recovered from (docs/testing-plugins.md,
"Deletes and failures")."""

from __future__ import annotations

import email.utils
import time

import pytest

from crmsync.core.errors import AuthError, RateLimited, TransientError
from crmsync.plugin.connector import Connector
from crmsync.testing.clock import FakeClock
from crmsync.testing.live_base import LiveContractBase, StoreFactory
from crmsync.testing.live_support import raised_by, read_all, snapshot, stored_row
from crmsync.testing.world import World

__all__ = ["FailureContract"]


def _raised_by_read(connector: Connector, entity: str, wanted: type[BaseException],
                    what: str) -> BaseException:
    """What reading ``entity`` raised, which must be a ``wanted``."""
    returned: list[int] = []

    def read() -> None:
        returned.append(len(read_all(connector, entity).records))

    exc = raised_by(read)
    assert exc is not None, (f"{entity}: {what}: read() returned {returned[0]} records instead "
                             f"of raising {wanted.__name__} (never swallow it)")
    assert isinstance(exc, wanted), (f"{entity}: {what}: read() raised {type(exc).__name__}: "
                                     f"{exc}; expected {wanted.__name__}")
    return exc


class FailureContract(LiveContractBase):
    """Deletes reach the store; 429, 5xx and 401 become ``RateLimited``,
    ``TransientError`` and ``AuthError``; the engine recovers from the first two."""

    def _deleted_in_store(self, world: World, connector: Connector, entity: str,
                          new_store: StoreFactory, *, hard: bool) -> None:
        gone, kept = world.create(entity), world.create(entity)
        self.settle(world)
        store = new_store()
        self.sync(store, connector, entity)
        try:
            world.delete(entity, gone, hard=hard)
        except NotImplementedError as exc:
            pytest.skip(f"the world cannot {'hard' if hard else 'soft'}-delete {entity}: {exc}")
        self.settle(world)
        self.sync(store, connector, entity)
        kind = "hard" if hard else "soft"
        assert stored_row(store, entity, connector.name, gone)["is_deleted"], (
            f"{entity}: a record {kind}-deleted in the CRM is not is_deleted in the store; "
            f"yield a Deletion (or the record with is_deleted=True)")
        assert not stored_row(store, entity, connector.name, kept)["is_deleted"], (
            f"{entity}: a record nobody deleted is marked deleted")

    def test_soft_deletes_reach_the_store(self, world: World, connector: Connector,
                                          entities: tuple[str, ...],
                                          new_store: StoreFactory) -> None:
        """A record archived in the CRM ends ``is_deleted`` in the store after the next
        incremental sync."""
        for entity in entities:
            self._deleted_in_store(world, connector, entity, new_store, hard=False)

    def test_hard_deletes_reach_the_store(self, world: World, connector: Connector,
                                          entities: tuple[str, ...],
                                          new_store: StoreFactory) -> None:
        """A record deleted for good (only the CRM's deleted-records feed knows it) ends
        ``is_deleted`` in the store after the next incremental sync."""
        for entity in entities:
            self._deleted_in_store(world, connector, entity, new_store, hard=True)

    def test_rate_limit_is_raised_with_retry_after_seconds(
            self, world: World, connector: Connector, entities: tuple[str, ...]) -> None:
        """HTTP 429 with ``Retry-After: 7`` makes ``read()`` raise ``RateLimited`` with
        ``retry_after == 7`` (catches a swallowed 429: an empty page returned)."""
        entity = self.first(entities)
        world.create(entity)
        self.settle(world)
        world.fail_next(429, retry_after="7")
        exc = _raised_by_read(connector, entity, RateLimited, "HTTP 429")
        assert isinstance(exc, RateLimited) and exc.retry_after == 7, (
            f"{entity}: Retry-After: 7 read as retry_after={getattr(exc, 'retry_after', None)}")

    def test_rate_limit_is_raised_with_retry_after_date(
            self, world: World, connector: Connector, entities: tuple[str, ...]) -> None:
        """HTTP 429 with ``Retry-After`` as an HTTP-date two minutes ahead makes ``read()``
        raise ``RateLimited`` with ``retry_after`` of about 120 seconds."""
        entity = self.first(entities)
        world.create(entity)
        self.settle(world)
        when = email.utils.formatdate(time.time() + 120, usegmt=True)
        world.fail_next(429, retry_after=when)
        exc = _raised_by_read(connector, entity, RateLimited, "HTTP 429")
        wait = getattr(exc, "retry_after", None)
        assert wait is not None and 100 <= wait <= 121, (
            f"{entity}: Retry-After: {when} read as retry_after={wait}; expected ~120 s "
            f"(crmsync.parse_retry_after reads both forms)")

    @pytest.mark.parametrize("status", [500, 503])
    def test_server_error_is_raised_as_transient(self, world: World, connector: Connector,
                                                 entities: tuple[str, ...], status: int
                                                 ) -> None:
        """HTTP 5xx makes ``read()`` raise ``TransientError`` (catches a swallowed 5xx)."""
        entity = self.first(entities)
        world.create(entity)
        self.settle(world)
        world.fail_next(status)
        _raised_by_read(connector, entity, TransientError, f"HTTP {status}")

    def test_rate_limits_and_server_errors_are_recovered_from(
            self, world: World, connector: Connector, entities: tuple[str, ...],
            page_size: int | None, new_store: StoreFactory) -> None:
        """Through the real engine (instant sleeps), a 429 before the first page and a 503
        after it end in the same store as a clean sync, waiting exactly the
        ``Retry-After``."""
        entity = self.first(entities)
        self.create_many(world, entity, 3 * (page_size or 1) + 1, apart=1)
        self.settle(world)
        clean = new_store()
        self.sync(clean, connector, entity)
        world.fail_next(429, retry_after="3")
        failures = 1
        if page_size:  # a failure mid-read, after the first page was committed
            world.on_next_call(lambda: world.fail_next(503), skip=2)
            failures = 2
        clock = FakeClock()
        store = new_store()
        self.sync(store, connector, entity, clock=clock)
        assert len(clock.waits) == failures, (
            f"{entity}: {failures} failures injected, {len(clock.waits)} waits: {clock.waits}")
        assert clock.waits[0] == 3, f"{entity}: waited {clock.waits[0]} s for Retry-After: 3"
        assert snapshot(store, entity, connector.name) == snapshot(clean, entity,
                                                                   connector.name), (
            f"{entity}: the store after recovering differs from a clean sync")

    def test_bad_credentials_raise_auth_error(self, world: World, connector: Connector,
                                              entities: tuple[str, ...]) -> None:
        """HTTP 401 makes ``check()`` and ``read()`` raise ``AuthError`` (so the run stops
        the connection instead of failing every entity the same way)."""
        entity = self.first(entities)
        world.fail_next(401)
        exc = raised_by(connector.check)
        assert exc is not None, "check() did not fail on HTTP 401: it must probe credentials"
        assert isinstance(exc, AuthError), (f"check() raised {type(exc).__name__}: {exc} on "
                                            f"HTTP 401; expected AuthError")
        world.fail_next(401)
        _raised_by_read(connector, entity, AuthError, "HTTP 401")
