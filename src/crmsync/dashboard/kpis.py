"""A metric report row in display form (:class:`Kpi`) and the family a metric belongs to."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from crmsync.core.formatting import format_change, format_value, period_label
from crmsync.plugin.metric import Metric

__all__ = ["Kpi", "kpi", "family_of", "raw_value"]


def raw_value(value: float | None) -> str:
    """A stored number as ``data-value`` carries it: ``repr`` of the float (what
    ``metrics show --json`` prints), empty for null."""
    return "" if value is None else repr(float(value))


def family_of(metric: Metric) -> str:
    """The family a metric belongs to: its module's last name (``crmsync_kpis.deals`` →
    ``deals``); a plugin's metrics form their own family."""
    return type(metric).__module__.rsplit(".", 1)[-1]


@dataclass
class Kpi:
    """One displayed figure: a report row plus its formatted texts."""

    row: dict[str, Any]
    text: str
    target_text: str
    attainment_text: str
    change_text: str
    arrow: str
    change_class: str
    period_text: str
    #: The trailing-4 median (docs/trends.md), formatted; ``–`` without one.
    baseline_text: str = "–"
    #: ``low – high`` of the baseline band, formatted; empty without one.
    band_text: str = ""

    def __getattr__(self, name: str) -> Any:
        try:
            return self.row[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def data(self) -> dict[str, str]:
        """The ``data-*`` attributes every KPI figure carries (docs/dashboard.md), plus
        ``data-subject`` (the stage or record id) on per-stage and record-level values."""
        r = self.row
        out = {"data-metric": r["metric"], "data-period-start": r["period_start"] or "",
               "data-dimension": r["dimension"] or "",
               "data-dimension-value": r["dimension_value"] or "",
               "data-value": raw_value(r["value"])}
        if r.get("subject_id") is not None:  # per-stage and record-level values
            out["data-subject"] = r["subject_id"]
        return out


def _better(row: dict[str, Any]) -> bool | None:
    change = row.get("change_vs_previous")
    if change is None or change == 0:
        return None
    return bool((change > 0) == (row.get("direction") != "lower_is_better"))


def kpi(row: dict[str, Any], currency: str = "USD") -> Kpi:
    """Format one report row for display (value, target, attainment, change with ▲▼)."""
    unit = row.get("unit", "count")
    change = row.get("change_vs_previous")
    better = _better(row)
    start = dt.date.fromisoformat(row["period_start"]) if row.get("period_start") else None
    change_text = format_change(change, row.get("change_kind", "relative"))
    if unit == "ratio" and row["metric"].endswith("coverage"):  # a multiple, not a share
        text = "–" if row["value"] is None else f"{row['value']:.1f}×"
        target = "–" if row["target"] is None else f"{row['target']:.1f}×"
        change_text = "–" if change is None else f"{change:+.1f}×"
    else:
        text = format_value(row["value"], unit, currency)
        target = format_value(row["target"], unit, currency) if row["target"] is not None \
            else "–"
    band = (f"{format_value(row['band_low'], unit, currency)} – "
            f"{format_value(row['band_high'], unit, currency)}"
            if row.get("band_low") is not None and row.get("band_high") is not None else "")
    return Kpi(
        baseline_text=format_value(row.get("baseline_trailing"), unit, currency),
        band_text=band,
        row=row, text=text, target_text=target,
        attainment_text=(f"{row['attainment']:.0%}" if row.get("attainment") is not None
                         else "–"),
        change_text=change_text,
        arrow="" if change is None or change == 0 else ("▲" if change > 0 else "▼"),
        change_class="flat" if better is None else ("better" if better else "worse"),
        period_text=period_label(row["period"], start) + (" (partial)" if row.get("partial")
                                                          else ""))
