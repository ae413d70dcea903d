"""Client-side pacing: one rolling window per HubSpot budget (general and search).

HubSpot enforces two limits (docs/connectors/hubspot.md): a rolling window of ``rate_limit``
requests per 10 s for most endpoints (100 on Free/Starter private apps, 190 on
Professional/Enterprise) and a much lower one for the search API (``search_rate_limit`` per
second; 4 per the 2020 changelog, 5 documented today).

**Why the throttle waits instead of raising RateLimited.** crmsync's rule is that connectors never
sleep *to retry* (``crmsync.core.retry`` owns retries). A throttle is not a retry: it spaces out
calls that have not failed, never waits longer than one window, and keeps HubSpot
from answering 429 at all. Raising ``RateLimited`` from a full window would not fit the
engine: the engine retries by calling ``read()`` again from the last *committed* cursor, so
every call already spent on the uncommitted batch (a search page, its associations, its stage
history) would be thrown away and spent again, in a loop, exactly when calls are scarce. When
HubSpot itself answers 429, :mod:`crmsync_hubspot.errors` raises ``RateLimited(retry_after)``
and the engine's retry module waits, as the rule says.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable

__all__ = ["RollingWindow", "Throttle"]


class RollingWindow:
    """At most ``limit`` calls in any ``period`` seconds: HubSpot's own rule.

    HubSpot's limits are *rolling* windows ("100 per rolling 10 seconds"). A token bucket of
    ``limit`` tokens refilled over ``period`` would let up to twice ``limit`` calls into one
    window (a full bucket spent at once, then the refill), which the portal refuses; this
    keeps the times of the last ``limit`` calls and waits until the oldest leaves the window.

    :param clock: monotonic seconds (injectable for tests).
    :param sleep: how to wait (injectable for tests).
    """

    def __init__(self, limit: int, period: float, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("a rate limit needs at least one call per positive period")
        self.limit = int(limit)
        self.period = float(period)
        self.clock = clock
        self.sleep = sleep
        self.calls: collections.deque[float] = collections.deque(maxlen=self.limit)
        #: No call before this time (see :meth:`hold`).
        self.not_before = float("-inf")
        #: Seconds spent waiting (reported by benchmarks).
        self.waited = 0.0

    def delay(self) -> float:
        """Seconds until one more call fits in the window (0 when it fits now)."""
        now = self.clock()
        held = max(self.not_before - now, 0.0)
        if len(self.calls) < self.limit:
            return held
        return max(self.calls[0] + self.period - now, held)

    def take(self) -> float:
        """Record one call, first waiting until it fits; return the seconds waited."""
        wait = self.delay()
        if wait > 0:
            self.sleep(wait)
            self.waited += wait
        self.calls.append(self.clock())
        return wait

    def hold(self, seconds: float) -> None:
        """Make no call for ``seconds`` from now (HubSpot said the window is spent)."""
        self.not_before = max(self.not_before, self.clock() + seconds)


class Throttle:
    """The two windows a HubSpot connection spends from.

    :param rate_limit: requests per 10 seconds for everything but search.
    :param search_rate_limit: search requests per second. A search call also spends from the
        general window: HubSpot counts it in both.
    """

    def __init__(self, rate_limit: int, search_rate_limit: int, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.general = RollingWindow(int(rate_limit), 10.0, clock=clock, sleep=sleep)
        self.search = RollingWindow(int(search_rate_limit), 1.0, clock=clock, sleep=sleep)

    def acquire(self, *, search: bool = False) -> float:
        """Wait (at most one window) for the right budget(s); return the seconds waited."""
        waited = self.search.take() if search else 0.0
        return waited + self.general.take()

    @property
    def waited(self) -> float:
        """Total seconds spent pacing."""
        return self.general.waited + self.search.waited
