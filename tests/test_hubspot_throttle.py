"""Rolling-window pacing of HubSpot calls (crmsync_hubspot.throttle)."""

from __future__ import annotations

import pytest

from crmsync_hubspot.throttle import RollingWindow, Throttle


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


def calls_in_any_window(times: list[float], period: float) -> int:
    return max(sum(1 for u in times if t <= u < t + period) for t in times)


def test_calls_within_the_limit_do_not_wait(clock: Clock) -> None:
    window = RollingWindow(100, 10, clock=clock, sleep=clock.sleep)
    for _ in range(100):
        window.take()
    assert clock.slept == []


def test_the_call_past_the_limit_waits_for_the_oldest_to_leave(clock: Clock) -> None:
    window = RollingWindow(100, 10, clock=clock, sleep=clock.sleep)
    for _ in range(100):
        window.take()
    clock.now = 4.0
    window.take()
    assert clock.slept == [pytest.approx(6.0)]


def test_no_rolling_window_ever_holds_more_than_the_limit(clock: Clock) -> None:
    window = RollingWindow(5, 1, clock=clock, sleep=clock.sleep)
    times = []
    for i in range(40):
        clock.now += 0.07 * (i % 3)
        window.take()
        times.append(clock.now)
    assert calls_in_any_window(times, 1.0) == 5


def test_search_spends_from_both_budgets(clock: Clock) -> None:
    throttle = Throttle(100, 4, clock=clock, sleep=clock.sleep)
    throttle.acquire(search=True)
    assert (len(throttle.search.calls), len(throttle.general.calls)) == (1, 1)


def test_other_calls_do_not_spend_the_search_budget(clock: Clock) -> None:
    throttle = Throttle(100, 4, clock=clock, sleep=clock.sleep)
    throttle.acquire()
    assert len(throttle.search.calls) == 0


def test_search_is_paced_at_its_own_rate(clock: Clock) -> None:
    throttle = Throttle(100, 4, clock=clock, sleep=clock.sleep)
    for _ in range(8):
        throttle.acquire(search=True)
    assert sum(clock.slept) == pytest.approx(1.0)


def test_a_hold_delays_the_next_call(clock: Clock) -> None:
    window = RollingWindow(10, 10, clock=clock, sleep=clock.sleep)
    window.hold(1.5)
    window.take()
    assert clock.slept == [pytest.approx(1.5)]
