"""Alert lines (docs/trends.md, "Notifications"): the values below target and the anomalies of
the metric runs a report covers, as the host's ``results.alerts(run_ids)`` gives them (only
the run just computed, only what was not sent before), one line each naming the metric, the
period, the rep or team by name, the value, the target or band, and ``n``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from crmsync import RunResults, format_value

__all__ = ["ALERT_EVENTS", "LIMIT", "run_ids_of", "gather", "alert_lines"]

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


def _line(a: Mapping[str, Any]) -> str:
    """``• Win rate, 2026-Q2, Grace Hopper (owner): 18.2% vs target 25.0% (n 22)``."""
    unit, currency = str(a.get("unit") or "count"), a.get("currency")
    who = (f"{a.get('label') or a.get('dimension_value')} ({a['dimension']})"
           if a.get("dimension") else "whole organisation")
    head = f"• {a.get('title') or a.get('metric')}, {a.get('period_label')}, {who}: " \
           f"{format_value(a.get('value'), unit, currency)}"
    if a.get("kind") == "anomaly":
        body = (f" outside {format_value(a.get('band_low'), unit, None)}–"
                f"{format_value(a.get('band_high'), unit, currency)}, trailing median "
                f"{format_value(a.get('baseline_trailing'), unit, currency)}")
    else:
        body = f" vs target {format_value(a.get('target'), unit, currency)}"
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
