"""Human output for the CLI: rich tables (values are formatted by
:mod:`crmsync.metrics.formatting`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from crmsync.metrics.engine import MetricValue
from crmsync.metrics.formatting import format_change, format_value, period_label
from crmsync.plugin.metric import Metric

__all__ = ["kpi_table", "report_table", "rows_table", "explain", "console"]


def kpi_table(title: str, values: Sequence[MetricValue], units: dict[str, str],
              titles: dict[str, str], *, currency: str = "USD", last: int = 4,
              until: dt.date | None = None,
              definitions: Mapping[str, Metric] | None = None) -> Table:
    """Organisation-level metrics as rows, the last ``last`` periods (starting on or before
    ``until``) as columns; per-record and per-stage values are left out. A period that has not
    ended by ``until`` is marked ``*``; the last column is the latest period's ``n`` (the
    population, for metrics whose denominator counts one — see ``definitions``)."""
    values = [v for v in values if v.subject_id is None]
    starts = sorted({v.period_start for v in values if v.period_start
                     and (until is None or v.period_start <= until)}, reverse=True)[:last]
    starts.reverse()
    period = values[0].period if values else "quarter"
    ends = {v.period_start: v.period_end for v in values}
    table = Table(title=title, title_justify="left",
                  caption="* period not ended · n: population of the latest period",
                  caption_justify="left")
    table.add_column("KPI")
    for s in starts:
        partial = until is not None and (ends.get(s) or dt.date.max) > until
        table.add_column(period_label(period, s) + (" *" if partial else ""), justify="right")
    table.add_column("n", justify="right")
    by_key = {(v.metric, v.period_start): v for v in values}
    shown = {v.metric for v in values if v.period_start in starts or v.period_start is None}
    for name in sorted(shown, key=list(units).index if set(units) >= shown else None):
        cells = [format_value(by_key[(name, s)].value if (name, s) in by_key else None,
                              units.get(name, "count"), currency) for s in starts]
        latest = by_key.get((name, starts[-1])) if starts else None
        defined = (definitions or {}).get(name)
        counts = defined is None or defined.denominator_is_n
        n = latest.denominator if latest is not None and counts else None
        table.add_row(titles.get(name, name), *cells, f"{n:,.0f}" if n is not None else "")
    return table


def report_table(rows: Sequence[dict[str, Any]], units: dict[str, str], period: str, *,
                 currency: str = "USD") -> Table:
    """``metrics show``: one row per value, with the change against the previous period, the
    target, direction-aware attainment and a flag for values below target. People, pipelines
    and records show by name; a period that has not ended is marked ``*``."""
    table = Table()
    for col in ("metric", "period", "dimension", "value", "vs previous", "target", "attainment",
                "n"):
        table.add_column(col, justify="left" if col in ("metric", "period", "dimension")
                         else "right")
    for r in rows:
        start = dt.date.fromisoformat(r["period_start"]) if r["period_start"] else None
        unit = units.get(r["metric"], r.get("unit", "count"))
        target = r["target"]
        attainment = f"{r['attainment']:.0%}" if r.get("attainment") is not None else "–"
        flag = " ▼" if r["below_target"] else ""
        who = (r.get("label") or r["dimension_value"]) if r["dimension"] else "(all)"
        if r["subject_id"]:
            subject = r.get("subject") or r["subject_id"]
            who = f"{who} {subject}" if r["dimension"] else subject
        label = period_label(period, start) + (" *" if r.get("partial") else "")
        table.add_row(r["metric"], label, who,
                      format_value(r["value"], unit, currency) + flag,
                      format_change(r["change_vs_previous"], r.get("change_kind", "relative")),
                      format_value(target, unit, currency) if target is not None else "–",
                      attainment,
                      f"{r['n']:,.0f}" if r.get("n") is not None else "–")
    return table


def explain(metrics: Sequence[Metric]) -> str:
    """``metrics show --explain``: each metric's name, title, unit and direction, its
    description (formula and population) and where its definition is documented."""
    blocks = []
    for m in metrics:
        lines = [f"{m.NAME}: {m.title} ({m.unit}, {m.direction.replace('_', ' ')}, "
                 f"version {m.version})", f"  {m.description}"]
        if m.docs:
            lines.append(f"  definition: {m.docs}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def rows_table(rows: Sequence[dict[str, Any]], columns: Sequence[str],
               title: str | None = None) -> Table:
    """A plain table of dict rows."""
    table = Table(title=title, title_justify="left")
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*("" if r.get(c) is None else str(r.get(c)) for c in columns))
    return table


def console(stderr: bool = False) -> Console:
    """A console for human output."""
    return Console(stderr=stderr, highlight=False)
