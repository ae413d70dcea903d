"""Client-side pacing: one token bucket per HubSpot budget (general and search).

HubSpot enforces two separate limits (vendor-notes §2.6): a rolling window of ``rate_limit``
requests per 10 s for most endpoints (100 on Free/Starter private apps, 190 on
Professional/Enterprise) and a much lower one for the search API (``search_rate_limit`` per
second; 4 per the 2020 changelog, 5 documented today).

**Why the bucket waits instead of raising RateLimited.** crmsync's rule is that connectors never
sleep *to retry* (``crmsync.retry`` owns retries). A throttle is not a retry: it spaces out
calls that have not failed, never waits longer than one token's refill time, and keeps HubSpot
from answering 429 at all. Raising ``RateLimited`` from an empty bucket would not fit the
engine: the engine retries by calling ``read()`` again from the last *committed* cursor, so
every call already spent on the uncommitted batch (a search page, its associations, its stage
history) would be thrown away and spent again, in a loop, exactly when calls are scarce. When
HubSpot itself answers 429, :mod:`crmsync_hubspot.errors` raises ``RateLimited(retry_after)``
and the engine's retry module waits, as the rule says.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["TokenBucket", "Throttle"]


class TokenBucket:
    """``capacity`` tokens refilled evenly over ``period`` seconds.

    :param clock: monotonic seconds (injectable for tests).
    :param sleep: how to wait for a token (injectable for tests).
    """

    def __init__(self, capacity: float, period: float, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if capacity <= 0 or period <= 0:
            raise ValueError("a token bucket needs a positive capacity and period")
        self.capacity = float(capacity)
        self.rate = capacity / period  # tokens per second
        self.clock = clock
        self.sleep = sleep
        self.tokens = float(capacity)
        self.updated = clock()
        #: Seconds spent waiting for tokens (reported by benchmarks).
        self.waited = 0.0

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def delay(self) -> float:
        """Seconds until one token is available (0 when one is there now)."""
        self._refill()
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> float:
        """Take one token, first waiting for it when the bucket is empty.

        :return: the seconds waited.
        """
        wait = self.delay()
        if wait > 0:
            self.sleep(wait)
            self.waited += wait
            self._refill()
        self.tokens -= 1
        return wait

    def drain(self) -> None:
        """Empty the bucket (HubSpot said 429: whatever we thought we had, we have not)."""
        self._refill()
        self.tokens = min(self.tokens, 0.0)


class Throttle:
    """The two buckets a HubSpot connection spends from.

    :param rate_limit: requests per 10 seconds for everything but search.
    :param search_rate_limit: search requests per second. A search call also spends from the
        general bucket: HubSpot counts it in both.
    """

    def __init__(self, rate_limit: float, search_rate_limit: float, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.general = TokenBucket(rate_limit, 10.0, clock=clock, sleep=sleep)
        self.search = TokenBucket(search_rate_limit, 1.0, clock=clock, sleep=sleep)

    def acquire(self, *, search: bool = False) -> float:
        """Wait (briefly) for the right budget(s); return the seconds waited."""
        waited = self.search.take() if search else 0.0
        return waited + self.general.take()

    @property
    def waited(self) -> float:
        """Total seconds spent pacing."""
        return self.general.waited + self.search.waited
