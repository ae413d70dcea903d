"""A fake clock with an instant ``sleep`` that records every wait (docs/testing-plugins.md).

The sync engine and the retry policy (:mod:`crmsync.core.retry`) take ``sleep=``; pass
:meth:`FakeClock.sleep` and a retried rate limit costs no time, while :attr:`FakeClock.waits`
says how long crmsync would have waited — so a test asserts that the ``Retry-After`` the CRM
sent is the wait crmsync honoured.
"""

from __future__ import annotations

from crmsync.core.retry import parse_retry_after

__all__ = ["FakeClock"]


class FakeClock:
    """A clock that moves only when something sleeps on it.

    :param start: the clock's first reading, in seconds since the epoch.
    """

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self.now = start
        #: Every wait asked of :meth:`sleep`, in order.
        self.waits: list[float] = []

    def time(self) -> float:
        """The current reading (use it where code takes ``now=time.time``)."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Record ``seconds`` and move the clock by it, without waiting."""
        self.waits.append(float(seconds))
        self.now += max(float(seconds), 0.0)

    def retry_after(self, header: str | None) -> float | None:
        """``Retry-After`` parsed against this clock (an HTTP-date is relative to it)."""
        return parse_retry_after(header, now=self.time)
