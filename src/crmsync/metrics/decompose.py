"""Why won revenue changed between two periods (docs/trends.md, "Why did it change").

Revenue in a period is a product, segment by segment (a team, a segment… or the whole
organisation as one segment)::

    R_g = N × m_g × w_g × s_g
    N   = deals closed (won + lost) in the period, all segments     -> volume
    m_g = N_g ÷ N, the segment's share of the closed deals          -> mix
    w_g = W_g ÷ N_g, the segment's win rate                         -> win rate
    s_g = R_g ÷ W_g, revenue per won deal                           -> deal size

The change ``R_g(after) − R_g(before)`` of each segment is split between the four factors by
their **Shapley values**: each factor's average marginal effect over the 24 orders in which
the factors can switch from the first period's value to the second's. Unlike a sequential
(chain-linked) split the result does not depend on an arbitrary order, and unlike the
log-mean Divisia index it needs no logarithms, so zeros (a segment without deals, a win rate
of zero) are exact, not approximated. The arithmetic is done in exact fractions, so the four
components add up to the change exactly; they are then rounded to the cent so that the
rounded components still add up to the rounded total (largest remainder).

**Undefined factors.** A segment with no closed deals has no win rate; one with no won deals
has no deal size; a period with no closed deals at all has no mix. Such a factor takes its
value in the other period (it multiplies a zero, so the period's revenue is unchanged) — the
change is then attributed to the factor that went from zero (volume, mix or win rate). A
factor undefined in both periods is 0 (the segment has no revenue in either).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from crmsync.core.errors import MetricError

__all__ = ["FACTORS", "Cell", "decompose", "shapley", "round_to_cents"]

#: The components, in the order they are shown.
FACTORS = ("volume", "mix", "win_rate", "deal_size")


@dataclass(frozen=True)
class Cell:
    """One segment in one period: deals closed (won + lost), deals won, revenue won."""

    closed: float
    won: float
    revenue: float


def shapley(before: Sequence[Fraction], after: Sequence[Fraction]) -> list[Fraction]:
    """The Shapley value of each factor of the product ``Π factors`` going from ``before``
    to ``after``; the values add up to ``Π after − Π before`` exactly."""
    k = len(before)
    out = []
    for i in range(k):
        others = [j for j in range(k) if j != i]
        total = Fraction(0)
        for size in range(k):
            weight = Fraction(math.factorial(size) * math.factorial(k - size - 1),
                              math.factorial(k))
            for switched in itertools.combinations(others, size):
                chosen = [after[j] if j in switched else before[j] for j in range(k)]
                without = math.prod(chosen)
                chosen[i] = after[i]
                total += weight * (math.prod(chosen) - without)
        out.append(total)
    return out


def _factors(cell: Cell, total_closed: Fraction) -> list[Fraction | None]:
    """``[N, m_g, w_g, s_g]`` of a segment (``None``: undefined)."""
    closed, won, revenue = Fraction(cell.closed), Fraction(cell.won), Fraction(cell.revenue)
    if revenue and not won:
        raise MetricError("revenue without won deals: the revenue and win_rate values do "
                          "not describe the same deals (recompute both)")
    return [total_closed, closed / total_closed if total_closed else None,
            won / closed if closed else None, revenue / won if won else None]


def _filled(a: list[Fraction | None], b: list[Fraction | None]
            ) -> tuple[list[Fraction], list[Fraction]]:
    """Undefined factors take the other period's value, or 0 (module docstring)."""
    pairs = list(zip(a, b, strict=True))
    left = [x if x is not None else (y if y is not None else Fraction(0)) for x, y in pairs]
    right = [y if y is not None else (x if x is not None else Fraction(0)) for x, y in pairs]
    return left, right


def _cents(amount: Fraction) -> float:
    """``amount`` rounded to the cent (half to even, as :func:`round_to_cents`)."""
    return round(amount * 100) / 100


def round_to_cents(parts: Mapping[str, Fraction], total: Fraction) -> dict[str, float]:
    """``parts`` rounded to the cent so that they add up to ``total`` rounded to the cent
    (largest remainder: the cents lost by truncation go to the largest fractional parts)."""
    cents = {k: math.floor(v * 100) for k, v in parts.items()}
    left = round(total * 100) - sum(cents.values())
    order = sorted(parts, key=lambda k: (parts[k] * 100 - cents[k]), reverse=True)
    for k in itertools.islice(itertools.cycle(order), max(left, 0)):
        cents[k] += 1
    for k in itertools.islice(itertools.cycle(order[::-1]), max(-left, 0)):
        cents[k] -= 1
    return {k: c / 100 for k, c in cents.items()}


def decompose(before: Mapping[str, Cell], after: Mapping[str, Cell]
              ) -> dict[str, Any]:
    """The change of revenue from ``before`` to ``after`` (segment → :class:`Cell`; one
    segment for the whole organisation) split into :data:`FACTORS`, in total and per
    segment: ``{"before", "after", "change", "components": {factor: amount},
    "segments": [{"segment", "before", "after", "change", "components"}]}``, amounts
    rounded to the cent (the components add up to the change)."""
    n0 = Fraction(sum(Fraction(c.closed) for c in before.values()))
    n1 = Fraction(sum(Fraction(c.closed) for c in after.values()))
    empty = Cell(0, 0, 0)
    totals = dict.fromkeys(FACTORS, Fraction(0))
    segments = []
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key, empty), after.get(key, empty)
        left, right = _filled(_factors(b, n0), _factors(a, n1))
        parts = dict(zip(FACTORS, shapley(left, right), strict=True))
        change = Fraction(a.revenue) - Fraction(b.revenue)
        for f in FACTORS:
            totals[f] += parts[f]
        segments.append({"segment": key, "before": _cents(Fraction(b.revenue)),
                         "after": _cents(Fraction(a.revenue)),
                         "change": _cents(change),
                         "closed": [b.closed, a.closed], "won": [b.won, a.won],
                         "components": round_to_cents(parts, change)})
    r0 = sum((Fraction(c.revenue) for c in before.values()), Fraction(0))
    r1 = sum((Fraction(c.revenue) for c in after.values()), Fraction(0))
    return {"before": _cents(r0), "after": _cents(r1), "change": _cents(r1 - r0),
            "closed": [float(n0), float(n1)],
            "components": round_to_cents(totals, r1 - r0), "segments": segments}
