"""Alert lines (docs/trends.md, "Notifications"): the values below target and the anomalies of
the metric runs a report covers, as the host's ``results.alerts(run_ids)`` gives them (only
the run just computed, only what was not sent before), one line each naming the metric, the
period, the rep or team by name, the value, the target or band, and ``n``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from crmsync import RunResults

__all__ = ["ALERT_EVENTS", "LIMIT", "run_ids_of", "gather", "alert_lines", "format_number"]

#: The events that are alerts about values.
ALERT_EVENTS = ("below_target", "anomaly")
#: At most this many alerts of each kind are listed (the rest are counted).
LIMIT = 20
_HEADINGS = {"below_target": "below target", "anomaly": "outside their usual range"}


def run_ids_of(details: Sequence[Any]) -> list[str]:
    """The metric run ids of a report's details (a ``job`` report's details are reports:
    their details are searched too)."""
    out: list[str] = []
    for d in details:
        if not isinstance(d, Mapping):
            continue
        if isinstance(d.get("run_id"), str) and "values" in d:
            out.append(d["run_id"])
        if d.get("kind") == "metrics" and isinstance(d.get("details"), list):
            out.extend(run_ids_of(d["details"]))
    return out


def gather(details: Sequence[Any], results: RunResults | None, wanted: Sequence[str]
           ) -> list[dict[str, Any]]:
    """The alerts of the metric runs in ``details`` of the ``wanted`` kinds not sent yet."""
    kinds = [k for k in ALERT_EVENTS if k in wanted]
    ids = run_ids_of(details)
    if not kinds or not ids or results is None:
        return []
    return results.alerts(ids, kinds)


def format_number(value: float | None, unit: str) -> str:
    """A value for its unit: ``18.2%``, ``1,015,244``, ``38.5 d``, ``1.3×``…"""
    if value is None:
        return "–"
    if unit == "ratio":
        return f"{value:.1%}"
    if unit == "days":
        return f"{value:,.1f} d"
    if unit == "minutes":
        return f"{value:,.0f} min"
    if unit == "multiple":
        return f"{value:,.1f}×"
    if unit == "currency" or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def _line(a: Mapping[str, Any]) -> str:
    """``• Win rate, 2026-Q2, Grace Hopper (owner): 18.2% vs target 25.0% (n 22)``."""
    unit = str(a.get("unit") or "count")
    who = (f"{a.get('label') or a.get('dimension_value')} ({a['dimension']})"
           if a.get("dimension") else "whole organisation")
    head = f"• {a.get('title') or a.get('metric')}, {a.get('period_label')}, {who}: " \
           f"{format_number(a.get('value'), unit)}"
    if a.get("kind") == "anomaly":
        body = (f" outside {format_number(a.get('band_low'), unit)}–"
                f"{format_number(a.get('band_high'), unit)}, trailing median "
                f"{format_number(a.get('baseline_trailing'), unit)}")
    else:
        body = f" vs target {format_number(a.get('target'), unit)}"
    n = f" (n {a['n']:,.0f})" if a.get("n") is not None else ""
    return head + body + n


def alert_lines(alerts: Sequence[Mapping[str, Any]]) -> list[str]:
    """A heading per kind of alert, then one line per alert (at most :data:`LIMIT`)."""
    lines: list[str] = []
    for kind in ALERT_EVENTS:
        mine = [a for a in alerts if a.get("kind") == kind]
        if not mine:
            continue
        lines.append(f"{len(mine)} value(s) {_HEADINGS[kind]}:")
        lines.extend(_line(a) for a in mine[:LIMIT])
        if len(mine) > LIMIT:
            lines.append(f"… and {len(mine) - LIMIT} more (crmsync metrics trends "
                         "--anomalies, crmsync metrics show --below-target)")
    return lines
