"""Token buckets pacing HubSpot calls (crmsync_hubspot.throttle)."""

from __future__ import annotations

import pytest

from crmsync_hubspot.throttle import Throttle, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_full_bucket_does_not_wait(clock: Clock) -> None:
    bucket = TokenBucket(100, 10, clock=clock, sleep=clock.sleep)
    for _ in range(100):
        bucket.take()
    assert clock.slept == []


def test_an_empty_bucket_waits_one_token_refill(clock: Clock) -> None:
    bucket = TokenBucket(100, 10, clock=clock, sleep=clock.sleep)
    for _ in range(101):
        bucket.take()
    assert clock.slept == [pytest.approx(0.1)]


def test_tokens_refill_with_time(clock: Clock) -> None:
    bucket = TokenBucket(4, 1, clock=clock, sleep=clock.sleep)
    for _ in range(4):
        bucket.take()
    clock.now += 1.0
    for _ in range(4):
        bucket.take()
    assert clock.slept == []


def test_search_spends_from_both_budgets(clock: Clock) -> None:
    throttle = Throttle(100, 4, clock=clock, sleep=clock.sleep)
    throttle.acquire(search=True)
    assert throttle.search.tokens == 3 and throttle.general.tokens == 99


def test_search_is_paced_at_its_own_rate(clock: Clock) -> None:
    throttle = Throttle(100, 4, clock=clock, sleep=clock.sleep)
    for _ in range(8):
        throttle.acquire(search=True)
    assert sum(clock.slept) == pytest.approx(1.0)


def test_drain_empties_the_bucket_after_a_429(clock: Clock) -> None:
    bucket = TokenBucket(10, 10, clock=clock, sleep=clock.sleep)
    bucket.drain()
    bucket.take()
    assert clock.slept == [pytest.approx(1.0)]
