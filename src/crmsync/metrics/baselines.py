"""Baselines and anomalies of metric values (docs/trends.md).

Pure computation over stored values (:class:`~crmsync.metrics.engine.MetricValue`): for each
value of a metric, period kind, dimension value and subject,

* **last year**: the value of the same period one year earlier (the quarter four quarters
  back, the month twelve back, the week 52 back, the day 364 back: same weekday);
* **trailing 4**: the median of the values of the :data:`WINDOW` periods just before it
  (those present: a period without a stored value is missing, never zero);
* **anomaly**: a value outside ``median ± k × scale`` of that trailing window, where ``scale``
  is the median absolute deviation × 1.4826 (the MAD of a normal sample, so ``k`` reads as
  standard deviations). When the MAD is 0 (more than half the window equal) the scale falls
  back to the mean absolute deviation × 1.2533 (Iglewicz & Hoaglin). Four values estimate
  a spread poorly, so the scale is at least ``min_spread`` × |median| (10 %: with the
  default ``k`` of 3.5, a value within 35 % of its median is never an anomaly); when the
  scale is still 0 (a flat window of zeros) the value is not judged. Values are not judged
  either with fewer than ``min_history`` values in the window, for metrics whose
  denominator is their ``n`` with ``n`` below ``min_n``, or when the period has not ended
  (a quarter half-way through is not comparable with whole ones).

Rolling windows (``last_<N>d``) and ``all`` have one period: no baseline.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from crmsync.core.config import Section, SectionContext
from crmsync.core.errors import ConfigError
from crmsync.core.periods import previous_period_start

if TYPE_CHECKING:
    from crmsync.metrics.engine import MetricValue
    from crmsync.plugin.metric import Metric

__all__ = ["WINDOW", "MAD_SCALE", "MEAN_AD_SCALE", "AnomalyRule", "Baseline", "TRENDS",
           "baselines", "history_starts", "last_year_start", "judge", "parse_trends"]

#: Periods in the trailing window.
WINDOW = 4
#: MAD → standard deviation of a normal distribution (1 / Φ⁻¹(3/4)).
MAD_SCALE = 1.4826
#: Mean absolute deviation → standard deviation of a normal distribution (√(π/2)).
MEAN_AD_SCALE = 1.2533


@dataclass(frozen=True)
class AnomalyRule:
    """``[trends]``: how far from its trailing median a value may stray."""

    #: Half-width of the band in robust standard deviations.
    k: float = 3.5
    #: Fewest values of the trailing window needed to judge a value.
    min_history: int = 3
    #: Smallest ``n`` judged (metrics whose denominator is their n).
    min_n: float = 5.0
    #: The scale is at least this share of |median|.
    min_spread: float = 0.1


@dataclass(frozen=True, slots=True)
class Baseline:
    """A value's baselines and whether it is an anomaly (module docstring)."""

    last_year: float | None = None
    trailing: float | None = None
    #: Values present in the trailing window.
    history: int = 0
    #: The robust standard deviation of the window (``None`` without history).
    scale: float | None = None
    low: float | None = None
    high: float | None = None
    #: True outside the band, False inside, None when not judged (``reason`` says why).
    anomaly: bool | None = None
    #: ``history``, ``n``, ``flat``, ``partial`` or ``no value`` when not judged; "" when
    #: judged.
    reason: str = ""

    def as_row(self) -> dict[str, Any]:
        """The fields a report row carries."""
        return {"baseline_last_year": self.last_year, "baseline_trailing": self.trailing,
                "baseline_history": self.history, "band_low": self.low,
                "band_high": self.high, "anomaly": self.anomaly,
                "anomaly_reason": self.reason or None}


def last_year_start(period: str, start: dt.date) -> dt.date | None:
    """The start of the same period one year before (``None`` for rolling and ``all``)."""
    if period in ("quarter", "month", "year"):
        return dt.date(start.year - 1, start.month, start.day)
    if period in ("week", "day"):
        return start - dt.timedelta(days=364)
    return None


def history_starts(period: str, starts: Iterable[dt.date]) -> set[dt.date]:
    """``starts`` and the period starts their baselines read (the trailing window and the
    same period last year): what to load to judge the values of ``starts`` alone."""
    out = set(starts)
    for start in list(out):
        at = start
        for _ in range(WINDOW):
            at = previous_period_start(period, at)
            out.add(at)
        ly = last_year_start(period, start)
        if ly is not None:
            out.add(ly)
    return out


def _scale(window: Sequence[float], median: float) -> float:
    mad = statistics.median(abs(v - median) for v in window)
    if mad > 0:
        return MAD_SCALE * mad
    return MEAN_AD_SCALE * statistics.fmean(abs(v - median) for v in window)


def judge(value: float | None, window: Sequence[float], rule: AnomalyRule,
          n: float | None = None, *, last_year: float | None = None,
          partial: bool = False) -> Baseline:
    """The trailing baseline of ``value`` over ``window`` (the values present) and the
    anomaly verdict; ``n`` is checked against ``rule.min_n`` when given; a ``partial``
    period is not judged. ``last_year`` is carried as it is."""
    if not window:
        return Baseline(last_year=last_year, reason="history")
    median = float(statistics.median(window))
    scale = max(_scale(window, median), rule.min_spread * abs(median))
    low, high = median - rule.k * scale, median + rule.k * scale
    reason = ("no value" if value is None else "history" if len(window) < rule.min_history
              else "n" if n is not None and n < rule.min_n else "flat" if scale == 0
              else "partial" if partial else "")
    anomaly = None if reason or value is None else not low <= value <= high
    return Baseline(last_year, median, len(window), scale, low, high, anomaly, reason)


_Series = tuple[str, str, str | None, str | None, str | None]


def _series(v: MetricValue) -> _Series:
    return (v.metric, v.period, v.dimension, v.dimension_value, v.subject_id)


@lru_cache(maxsize=4096)
def _window_starts(period: str, start: dt.date) -> tuple[dt.date, ...]:
    """The starts of the :data:`WINDOW` periods before ``start`` (a run has few distinct
    starts and many values per start)."""
    out, at = [], start
    for _ in range(WINDOW):
        at = previous_period_start(period, at)
        out.append(at)
    return tuple(out)


def _window(period: str, start: dt.date, known: Mapping[dt.date, float | None]) -> list[float]:
    return [v for v in (known.get(at) for at in _window_starts(period, start)) if v is not None]


def baselines(values: Sequence[MetricValue], rule: AnomalyRule | None = None,
              definitions: Mapping[str, Metric] | None = None, today: dt.date | None = None
              ) -> dict[tuple[_Series, dt.date], Baseline]:
    """The baseline of each value with a period start, keyed by ``((metric, period,
    dimension, dimension_value, subject_id), period_start)``. ``definitions`` say which
    metrics' denominators are their ``n`` (checked against ``rule.min_n``); a value of a
    period not ended by ``today`` is not judged."""
    rule = rule or AnomalyRule()
    defs = definitions or {}
    by_series: dict[_Series, dict[dt.date, float | None]] = {}
    for v in values:
        if v.period_start is not None:
            by_series.setdefault(_series(v), {})[v.period_start] = v.value
    out: dict[tuple[_Series, dt.date], Baseline] = {}
    for v in values:
        if v.period_start is None or v.period in ("all",) or v.period.startswith("last_"):
            continue
        series = _series(v)
        known = by_series[series]
        defined = defs.get(v.metric)
        n = v.denominator if defined is None or defined.denominator_is_n else None
        ly = last_year_start(v.period, v.period_start)
        out[(series, v.period_start)] = judge(
            v.value, _window(v.period, v.period_start, known), rule, n,
            last_year=known.get(ly) if ly else None,
            partial=today is not None and v.period_end is not None and v.period_end > today)
    return out


def _number(raw: Mapping[str, Any], key: str, default: float, ctx: SectionContext,
            minimum: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise ConfigError(f"expected a number ≥ {minimum:g}, got {value!r}", file=ctx.file,
                          section="trends", key=key)
    return float(value)


def parse_trends(raw: Any, ctx: SectionContext) -> AnomalyRule:
    """The ``[trends]`` table (``k``, ``min_history``, ``min_n``, ``min_spread``); errors
    name the key."""
    table = ctx.expect(raw, dict, "trends", "trends")
    for key in table:
        if key not in ("k", "min_history", "min_n", "min_spread"):
            raise ConfigError("unknown key (known: k, min_history, min_n, min_spread)",
                              file=ctx.file,
                              section="trends", key=key)
    history = _number(table, "min_history", 3, ctx, 1)
    if history > WINDOW or not history.is_integer():
        raise ConfigError(f"expected a whole number from 1 to {WINDOW}, got {history:g}",
                          file=ctx.file, section="trends", key="min_history")
    return AnomalyRule(k=_number(table, "k", 3.5, ctx, 0.5), min_history=int(history),
                       min_n=_number(table, "min_n", 5.0, ctx, 0),
                       min_spread=_number(table, "min_spread", 0.1, ctx, 0))


#: ``[trends]`` (docs/configuration.md#trends): ``TRENDS.get(config)``.
TRENDS: Section[AnomalyRule] = Section("trends", parse_trends, default=AnomalyRule)
