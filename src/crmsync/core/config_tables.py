"""The ``[metrics]`` and ``[sync]`` tables (docs/configuration.md)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crmsync.core.config_values import expect as _expect
from crmsync.core.errors import ConfigError
from crmsync.core.hours import parse_hours
from crmsync.core.periods import is_period

__all__ = ["PERIODS", "METRIC_OPTIONS", "MetricsConfig", "SyncConfig", "parse_metrics",
           "parse_sync"]

PERIODS = ("day", "week", "month", "quarter", "year", "all")

#: ``[metrics]`` keys individual metrics read, with their defaults
#: (:meth:`crmsync.MetricContext.option`).
METRIC_OPTIONS: dict[str, Any] = {
    "response_sla_minutes": 60,
    "follow_up_touches": 2,
    "follow_up_days": 7,
    "stale_days": 30,
    "velocity_window_days": 90,
    "margin": None,
    "retention_window_months": 12,
    "business_hours": None,
    "business_days": (1, 2, 3, 4, 5),
    "closed_deal_owner": "current",
}
#: The values of ``[metrics] closed_deal_owner`` (docs/as-of.md, "Owner at close").
CLOSED_DEAL_OWNERS = ("current", "at_close")

@dataclass
class MetricsConfig:
    """The ``[metrics]`` table."""

    period: str = "month"
    timezone: str = "UTC"
    base_currency: str = "USD"
    fiscal_year_start_month: int = 1
    definitions: dict[str, str] = field(default_factory=dict)
    #: Settings individual metrics read (``crmsync.plugin.context.METRIC_OPTIONS``).
    options: dict[str, Any] = field(default_factory=dict)

@dataclass
class SyncConfig:
    """The ``[sync]`` table (``docs/configuration.md#sync``)."""

    #: An entity whose rejected share of the records read passes this ends ``failed``.
    max_reject_ratio: float = 0.1

def _sync(raw: Mapping[str, Any], file: str | None) -> SyncConfig:
    out = SyncConfig()
    for key, value in raw.items():
        if key != "max_reject_ratio":
            raise ConfigError("unknown key (known: max_reject_ratio)", file=file,
                              section="sync", key=key)
        ratio = float(_expect(value, (int, float), file=file, section="sync", key=key))
        if not 0 <= ratio <= 1:
            raise ConfigError(f"expected a share from 0 to 1 (e.g. 0.1 for 10%), got {value!r}",
                              file=file, section="sync", key=key)
        out.max_reject_ratio = ratio
    return out


def _period(m: MetricsConfig, value: Any, file: str | None, key: str) -> None:
    m.period = _expect(value, str, file=file, section="metrics", key=key)
    if not is_period(m.period):
        raise ConfigError(f"expected one of {', '.join(PERIODS)} or last_<N>d, got {value!r}",
                          file=file, section="metrics", key=key)


def _timezone(m: MetricsConfig, value: Any, file: str | None, key: str) -> None:
    m.timezone = _expect(value, str, file=file, section="metrics", key=key)
    try:
        ZoneInfo(m.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {value!r}", file=file, section="metrics",
                          key=key) from None


def _currency(m: MetricsConfig, value: Any, file: str | None, key: str) -> None:
    m.base_currency = _expect(value, str, file=file, section="metrics", key=key).upper()
    if not re.fullmatch(r"[A-Z]{3}", m.base_currency):
        raise ConfigError(f"expected an ISO 4217 code such as USD, got {value!r}",
                          file=file, section="metrics", key=key)


def _fiscal_start(m: MetricsConfig, value: Any, file: str | None, key: str) -> None:
    m.fiscal_year_start_month = _expect(value, int, file=file, section="metrics", key=key)
    if not 1 <= m.fiscal_year_start_month <= 12:
        raise ConfigError(f"expected a month 1–12, got {value!r}", file=file,
                          section="metrics", key=key)


def _definitions(m: MetricsConfig, value: Any, file: str | None, key: str) -> None:
    defs = _expect(value, dict, file=file, section="metrics", key=key)
    for name, variant in defs.items():
        _expect(variant, str, file=file, section="metrics.definitions", key=name)
    m.definitions = dict(defs)


def _business_hours(m: MetricsConfig, value: Any, file: str | None, key: str) -> None:
    _expect(value, str, file=file, section="metrics", key=key)
    try:
        parse_hours(value)
    except ValueError as exc:
        raise ConfigError(str(exc), file=file, section="metrics", key=key) from None
    m.options[key] = value


def _business_days(m: MetricsConfig, value: Any, file: str | None, key: str) -> None:
    days = _expect(value, list, file=file, section="metrics", key=key)
    if not days or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7
                           for d in days):
        raise ConfigError("expected ISO weekdays 1 (Monday) to 7 (Sunday), e.g. "
                          "[1, 2, 3, 4, 5]", file=file, section="metrics", key=key)
    m.options[key] = tuple(sorted(set(days)))


def _closed_deal_owner(m: MetricsConfig, value: Any, file: str | None, key: str) -> None:
    if value not in CLOSED_DEAL_OWNERS:
        raise ConfigError(f"expected one of {', '.join(CLOSED_DEAL_OWNERS)}, got {value!r}",
                          file=file, section="metrics", key=key)
    m.options[key] = value


def _option(m: MetricsConfig, value: Any, file: str | None, key: str) -> None:
    expected = (int, float) if key == "margin" else int
    m.options[key] = _expect(value, expected, file=file, section="metrics", key=key)


_METRICS_KEYS: dict[str, Callable[[MetricsConfig, Any, str | None, str], None]] = {
    "period": _period, "timezone": _timezone, "base_currency": _currency,
    "fiscal_year_start_month": _fiscal_start, "definitions": _definitions,
    "business_hours": _business_hours, "business_days": _business_days,
    "closed_deal_owner": _closed_deal_owner,
}


def _metrics(raw: Mapping[str, Any], file: str | None) -> MetricsConfig:
    m = MetricsConfig()
    for key, value in raw.items():
        check = _METRICS_KEYS.get(key) or (_option if key in METRIC_OPTIONS else None)
        if check is None:
            known = ", ".join(dict.fromkeys([*_METRICS_KEYS, *METRIC_OPTIONS]))
            raise ConfigError(f"unknown key (known: {known})", file=file,
                              section="metrics", key=key)
        check(m, value, file, key)
    return m

parse_metrics = _metrics
parse_sync = _sync
