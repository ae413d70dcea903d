"""Human output for the CLI (values are formatted by :mod:`crmsync.core.formatting`).

Everything fits the console's width (80 columns when piped) without cutting a word: a table
that does not fit is printed as stacked ``key value`` blocks instead (:func:`records`), or
split (:func:`matrix`). Text from the CRM (names of people, teams, accounts) is never read as
rich markup (:func:`cell`). See docs/cli.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from crmsync.core.formatting import format_change, format_value, period_label
from crmsync.metrics.baselines import baselines
from crmsync.metrics.engine import MetricValue
from crmsync.plugin.metric import Metric

__all__ = ["kpi_table", "fitting", "matrix", "records", "report_rows", "explain", "console",
           "cell", "table", "fits", "format_value", "period_label"]


def console(stderr: bool = False) -> Console:
    """A console for human output (80 columns when not a terminal, unless ``COLUMNS``)."""
    return Console(stderr=stderr, highlight=False)


def cell(value: Any) -> Text:
    """A cell or line shown literally: CRM text is never rich markup."""
    return Text("" if value is None else str(value))


def table(title: str | None = None, caption: str | None = None) -> Table:
    """The house table: a rule under the header, no outer frame (narrow)."""
    return Table(title=cell(title) if title else None, title_justify="left",
                 caption=cell(caption) if caption else None, caption_justify="left",
                 box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0),
                 title_style="bold",
                 caption_style="dim")


def fits(grid: Table, out: Console) -> bool:
    """True when ``grid`` prints within ``out``'s width without cutting a word or a
    ``no_wrap`` cell: each column needs its longest word (its longest cell if ``no_wrap``),
    plus two spaces between columns (:func:`table`'s layout)."""
    widths = []
    for column in grid.columns:
        texts = [column.header, *column.cells]
        plain = [t.plain if isinstance(t, Text) else str(t) for t in texts]
        if column.no_wrap:
            need = max(cell_len(p) for p in plain)
        else:
            need = max((cell_len(w) for p in plain for w in p.split()), default=0)
        widths.append(max(need, column.min_width or 0))
    return sum(widths) + 2 * (len(widths) - 1) <= out.width


def fitting(out: Console, build: Callable[[int], Table], sizes: Sequence[int]) -> Table:
    """``build(size)`` for the first of ``sizes`` that fits (the last one otherwise)."""
    for size in sizes:
        candidate = build(size)
        if fits(candidate, out):
            break
    return candidate


# -- rows of records -----------------------------------------------------------------------

#: Columns of prose, which may wrap (at spaces) in a table.
_FREE_TEXT = frozenset({"error", "reason", "message", "description", "title", "registers",
                        "Snapshot"})


def records(out: Console, rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *,
            title: str | None = None, key: Sequence[str] = (),
            headers: Mapping[str, str] | None = None) -> None:
    """Rows as a table when it fits ``out``, else one stacked block per row: the ``key``
    columns as its heading, then ``column value`` pairs. ``headers`` abbreviates column
    names in the table; a legend line explains them. Columns empty in every row are left
    out."""
    headers = headers or {}
    columns = [c for c in columns if c in key or _filled(rows, c)]
    grid = table(title)
    for c in columns:
        grid.add_column(cell(headers.get(c, c)), no_wrap=c not in _FREE_TEXT)
    for r in rows:
        grid.add_row(*(cell(r.get(c)) for c in columns))
    if fits(grid, out):
        out.print(grid)
        _legend(out, columns, headers)
        return
    if title:
        out.print(cell(title), style="bold")
    for r in rows:
        out.print(_stacked(r, columns, key, out.width))


def _filled(rows: Sequence[Mapping[str, Any]], column: str) -> bool:
    return any(r.get(column) not in (None, "") for r in rows)


def _legend(out: Console, columns: Sequence[str], headers: Mapping[str, str]) -> None:
    """``conn: connection · read: rows_read``: the abbreviated headers."""
    used = {c: headers[c] for c in columns if c in headers and c not in headers[c]}
    if used:
        out.print(cell(" · ".join(f"{short}: {c}" for c, short in used.items())), style="dim")


def _stacked(row: Mapping[str, Any], columns: Sequence[str], key: Sequence[str],
             width: int) -> RenderableType:
    """One row as a heading and ``column value`` pairs, packed into lines of ``width``."""
    heading = "/".join(str(row.get(k)) for k in key if row.get(k) not in (None, ""))
    pairs = [f"{c} {row.get(c)}" for c in columns
             if c not in key and row.get(c) not in (None, "")]
    lines: list[str] = []
    for pair in pairs:
        if lines and len(lines[-1]) + 3 + len(pair) <= width - 2:
            lines[-1] += " · " + pair
        else:
            lines.append(pair)
    body = Padding(cell("\n".join(lines)), (0, 0, 0, 2))
    return Group(cell(heading), body) if heading else body


# -- a matrix split by columns ------------------------------------------------------------


def matrix(out: Console, title: str, corner: str, labels: Sequence[str],
           columns: Sequence[tuple[str, Sequence[str]]], caption: str | None = None) -> None:
    """Rows ``labels`` × ``columns`` (header, cells): as many columns per table as fit
    ``out``'s width; the others follow in further tables under the same row labels."""
    start = 0
    while start < len(columns):
        count = len(columns) - start
        while count > 1 and not fits(_matrix(title, corner, labels,
                                             columns[start:start + count]), out):
            count -= 1
        out.print(_matrix(title if start == 0 else None, corner, labels,
                          columns[start:start + count]))
        start += count
    if caption:
        out.print(cell(caption), style="dim")


def _matrix(title: str | None, corner: str, labels: Sequence[str],
            columns: Sequence[tuple[str, Sequence[str]]]) -> Table:
    grid = table(title)
    grid.add_column(cell(corner), min_width=min(20, max(map(len, labels), default=1)))
    for header, _ in columns:
        grid.add_column(cell(header), justify="right", no_wrap=True)
    for i, label in enumerate(labels):
        grid.add_row(cell(label), *(cell(cells[i]) for _, cells in columns))
    return grid


# -- KPIs ------------------------------------------------------------------------------------


def kpi_table(title: str, values: Sequence[MetricValue], units: dict[str, str],
              titles: dict[str, str], *, currency: str = "USD", last: int = 4,
              until: dt.date | None = None,
              definitions: Mapping[str, Metric] | None = None) -> Table:
    """Organisation-level metrics as rows, the last ``last`` periods (starting on or before
    ``until``) as columns; per-record and per-stage values are left out. A period that has not
    ended by ``until`` is marked ``*``; the last column is the latest period's ``n`` (the
    population, for metrics whose denominator counts one — see ``definitions``). Amounts show
    without their currency, which the caption names."""
    values = [v for v in values if v.subject_id is None]
    starts = _last_starts(values, until, last)
    flagged = {(key[0][0], start) for (key, start), b in
               baselines(values, definitions=definitions, today=until).items() if b.anomaly}
    grid = table(title, caption=f"* period not ended · ! anomaly (crmsync metrics trends) · "
                                f"n: population of the latest period · amounts in {currency}")
    grid.add_column("KPI", min_width=16)
    for label in _period_headers(values, starts, until):
        grid.add_column(label, justify="right", no_wrap=True)
    grid.add_column("n", justify="right", no_wrap=True)
    by_key = {(v.metric, v.period_start): v for v in values}
    for name in _shown(values, starts, units):
        cells = [format_value(by_key[(name, s)].value if (name, s) in by_key else None,
                              units.get(name, "count"), "")
                 + (" !" if (name, s) in flagged else "") for s in starts]
        latest = by_key.get((name, starts[-1])) if starts else None
        grid.add_row(cell(titles.get(name, name)), *cells,
                     _n(latest, (definitions or {}).get(name)))
    return grid


def _last_starts(values: Sequence[MetricValue], until: dt.date | None, last: int
                 ) -> list[dt.date]:
    """The last ``last`` period starts on or before ``until``, oldest first."""
    starts = sorted({v.period_start for v in values if v.period_start
                     and (until is None or v.period_start <= until)}, reverse=True)[:last]
    return starts[::-1]


def _period_headers(values: Sequence[MetricValue], starts: Sequence[dt.date],
                    until: dt.date | None) -> list[str]:
    """``2026-Q3``, with `` *`` for a period not ended by ``until``."""
    period = values[0].period if values else "quarter"
    ends = {v.period_start: v.period_end for v in values}
    return [period_label(period, s)
            + (" *" if until is not None and (ends.get(s) or dt.date.max) > until else "")
            for s in starts]


def _shown(values: Sequence[MetricValue], starts: Sequence[dt.date], units: dict[str, str]
           ) -> list[str]:
    """The metrics with a value in ``starts``, in the order of ``units`` when it knows all."""
    shown = {v.metric for v in values if v.period_start in starts or v.period_start is None}
    if set(units) >= shown:
        order = list(units)
        return sorted(shown, key=order.index)
    return sorted(shown)


def _n(latest: MetricValue | None, definition: Metric | None) -> str:
    """The population of the latest period, for metrics whose denominator counts one."""
    counts = definition is None or definition.denominator_is_n
    if latest is None or not counts or latest.denominator is None:
        return ""
    return f"{latest.denominator:,.0f}"


# -- metrics show ----------------------------------------------------------------------------

#: ``metrics show`` columns and their short headers (the legend explains them).
SHOW_COLUMNS = ("who", "period", "value", "vs prev", "target", "att.", "n")


def report_rows(rows: Sequence[dict[str, Any]], units: dict[str, str], period: str, *,
                currency: str = "USD") -> dict[str, list[dict[str, str]]]:
    """``metrics show``: per metric, one row per value with the change against the previous
    period, the target, direction-aware attainment (▼ below target) and the population.
    People, pipelines and records show by name; a period not ended is marked ``*``."""
    shown: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        unit = units.get(r["metric"], r.get("unit", "count"))
        start = dt.date.fromisoformat(r["period_start"]) if r["period_start"] else None
        target = r["target"]
        shown.setdefault(r["metric"], []).append({
            "who": _who(r),
            "period": period_label(period, start) + (" *" if r.get("partial") else ""),
            "value": format_value(r["value"], unit, currency)
                     + (" ▼" if r["below_target"] else "") + (" !" if r.get("anomaly") else ""),
            "vs prev": format_change(r["change_vs_previous"],
                                     r.get("change_kind", "relative")),
            "target": format_value(target, unit, currency) if target is not None else "–",
            "att.": f"{r['attainment']:.0%}" if r.get("attainment") is not None else "–",
            "n": f"{r['n']:,.0f}" if r.get("n") is not None else "–",
        })
    return shown


def _who(r: Mapping[str, Any]) -> str:
    """The organisation, a dimension's value (by name) and/or the subject (by name)."""
    who = str(r.get("label") or r["dimension_value"]) if r["dimension"] else "(all)"
    if r["subject_id"]:
        subject = str(r.get("subject") or r["subject_id"])
        who = f"{who} {subject}" if r["dimension"] else subject
    return who


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
