"""The CRM behind a connector under test, which the contract suite changes between reads
(docs/testing-plugins.md).

A plugin's test implements :class:`World` for the fake server, cassette-free stub or sandbox
its connector talks to; :class:`~crmsync.testing.LiveConnectorContract` then creates, updates
and deletes records, moves the CRM's clock and injects failures, and checks what the connector
reads. Connectors built on the connector toolkit get a ready implementation from
:mod:`crmsync.testing.server`.

Every value crosses in schema terms: entities are schema table names (``accounts``,
``opportunities``…) and fields are schema column names; translating them to the CRM's own
names and shapes is the world's job.

Optional members the suite uses where a world has them (docs/testing-plugins.md, "The World
protocol"): ``now`` (the CRM's clock, a datetime or a method returning one), ``calls`` (a
list with one entry per API call answered, describing the request in full, so two equal
entries in one read are a page read twice) and ``open_connections()`` (the connections the
connector holds open).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

__all__ = ["World"]


@runtime_checkable
class World(Protocol):
    """What the contract suite needs to change the world behind a connector.

    The world's clock stamps every change (``remote_updated_at``) at one-second resolution,
    like most CRMs; it moves only when :meth:`advance` is called, so two changes without an
    ``advance`` between them land in the same second.
    """

    #: Schema tables :meth:`create`, :meth:`update` and :meth:`delete` support (a subset of
    #: the connector's ``ENTITIES``).
    ENTITIES: tuple[str, ...]

    def create(self, entity: str, **fields: Any) -> str:
        """Create a record (fields the caller leaves out get valid defaults); return its
        remote id."""

    def update(self, entity: str, remote_id: str, **fields: Any) -> Mapping[str, Any]:
        """Change a record; with no ``fields``, change something the connector reads.

        :return: the schema columns changed and their new values, as the connector should
            normalise them (the suite compares them with what it reads, coerced as the engine
            stores them); it may include ``remote_updated_at``, the world's clock at the
            change, as an aware datetime.
        """

    def delete(self, entity: str, remote_id: str, *, hard: bool = False) -> None:
        """Delete a record: archived (soft, still listed as deleted) or gone for good
        (``hard``, reported only by the CRM's deleted-records feed).

        :raises NotImplementedError: for a kind of delete the CRM does not have (the tests
            that need it skip).
        """

    def advance(self, seconds: float) -> None:
        """Move the CRM's clock forward."""

    def fail_next(self, status: int, *, retry_after: str | None = None,
                  times: int = 1) -> None:
        """Answer the next ``times`` API calls with HTTP ``status`` (429, 5xx, 401…), with a
        ``Retry-After`` header when given."""

    def on_next_call(self, action: Callable[[], None], *, skip: int = 0) -> None:
        """Run ``action`` (e.g. an update) just before the API answers the call after the
        next ``skip`` calls: the way to change records while a read is between pages.

        Every call counts, failed ones included; due actions run before a ``fail_next``
        answer is given.
        """

    def value(self, entity: str, remote_id: str, field: str) -> Any:
        """The CRM's current value of ``field`` (a CRM field name, as write-back uses) on a
        record; write-back contract tests read what was written through it."""
