"""Per-record random number generators.

Every generated record draws from its own :class:`random.Random`, keyed by the dataset seed, a
record family and the record's index. Any record can therefore be regenerated on its own, in
any order and in any process, and always comes out the same: no generator state is shared
between records, and nothing depends on ``hash()`` (salted per process) or on set ordering.

Draws go through :meth:`random.Random.random` only (see :func:`below` and :func:`uniform`):
it is the one method whose output Python promises to keep across versions, where
``randrange``, ``sample`` or ``gauss`` may change.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

__all__ = [
    "ACCOUNT",
    "CONTACT",
    "LEAD",
    "LEAD_BLOCK",
    "LEAD_ACTIVITY",
    "DEAL",
    "DEAL_ACTIVITY",
    "FEEDBACK",
    "TEAM",
    "FX",
    "SPEND",
    "rng_for",
    "Weighted",
    "approx_normal",
    "below",
    "uniform",
]

T = TypeVar("T")

# Record families: each index space draws from its own family so that, say, account 7 and
# lead 7 get unrelated streams.
ACCOUNT = 1
CONTACT = 2
LEAD = 3
LEAD_BLOCK = 4
LEAD_ACTIVITY = 5
DEAL = 6
DEAL_ACTIVITY = 7
FEEDBACK = 8
TEAM = 9
FX = 10
SPEND = 11

_MASK64 = (1 << 64) - 1


def rng_for(seed: int, family: int, index: int) -> random.Random:
    """The generator of record ``index`` of ``family`` in the dataset seeded with ``seed``.

    The key packs the three numbers into one non-negative integer, so distinct triples get
    distinct streams (``index`` below 2**48, which every dataset size respects).
    """
    return random.Random(((seed & _MASK64) << 64) | (family << 48) | index)


class Weighted(Generic[T]):
    """A weighted choice among fixed values, drawn with one ``random()`` call.

    :param pairs: ``(value, weight)`` pairs; weights are relative.
    """

    def __init__(self, pairs: Iterable[tuple[T, float]]) -> None:
        values, weights = zip(*pairs, strict=False)
        self.values: tuple[T, ...] = values
        self._cumulative = list(itertools.accumulate(weights))
        self._total = self._cumulative[-1]

    def pick(self, rng: random.Random) -> T:
        """One value, drawn from ``rng``."""
        return self.values[bisect.bisect(self._cumulative, rng.random() * self._total)]


def approx_normal(random: Callable[[], float]) -> float:
    """An approximately standard normal draw: four uniforms, centred and scaled.

    Cheaper than :meth:`random.Random.gauss` and bounded at ±3.46, which keeps deal sizes and
    cycle lengths free of absurd outliers.
    """
    return (random() + random() + random() + random() - 2.0) * 1.7320508075688772


def below(rng: random.Random, n: int) -> int:
    """An integer in ``[0, n)``."""
    return int(rng.random() * n)


def uniform(rng: random.Random, low: float, high: float) -> float:
    """A float in ``[low, high)``."""
    return low + (high - low) * rng.random()
