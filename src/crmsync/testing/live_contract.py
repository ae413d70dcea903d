"""The live connector contract suite: a connector keeps up with a CRM that changes under it
(docs/testing-plugins.md).

Subclass :class:`LiveConnectorContract` in a test module and provide two fixtures: ``world``,
a :class:`~crmsync.testing.World` over the fake server (or sandbox) the connector talks to,
and ``connector``, a connector instance pointed at it with a small ``page_size``::

    from crmsync.testing import LiveConnectorContract

    class TestMyConnectorLive(LiveConnectorContract):
        @pytest.fixture
        def world(self):
            return MyFakeCrm()

        @pytest.fixture
        def connector(self, world):
            return MyConnector("test", MyConnector.validate_settings(
                {"url": world.url, "api_token": world.token, "page_size": 2}))

The suite creates, updates and deletes records between reads, moves the CRM's clock, injects
429/5xx/401 answers and checks what the connector reads, what the real engine stores and what
write-back reports. Each test skips, saying why, only when the world or the connector lacks
what it needs (no write-back, no hard deletes, no ``page_size``).
"""

from __future__ import annotations

from crmsync.testing.live_failures import FailureContract
from crmsync.testing.live_hygiene import HygieneContract
from crmsync.testing.live_reads import ReadContract
from crmsync.testing.live_writeback import WritebackContract

__all__ = ["LiveConnectorContract"]


class LiveConnectorContract(ReadContract, FailureContract, HygieneContract,
                            WritebackContract):
    """Inherit and provide the ``world`` and ``connector`` fixtures; the tests then run.

    Reads: :meth:`test_updates_are_read_incrementally`,
    :meth:`test_a_change_in_the_cursors_second_is_not_lost`,
    :meth:`test_records_changing_between_pages_are_not_lost`,
    :meth:`test_no_page_is_read_twice`, :meth:`test_timestamps_are_utc`. Deletes and
    failures: :meth:`test_soft_deletes_reach_the_store`,
    :meth:`test_hard_deletes_reach_the_store`, the rate-limit, server-error, recovery and
    bad-credentials tests. Hygiene: secrets and ``close()``. Write-back: ``fields``,
    ``ensure_field``, ``write`` and ``read_values``.
    """
