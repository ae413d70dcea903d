"""``crmsync metrics …`` and ``crmsync demo``."""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from crmsync import api
from crmsync.cli import render
from crmsync.cli.state import State, emit_json, pass_state, progress_bar
from crmsync.core.config import PERIODS, Config
from crmsync.core.periods import is_period
from crmsync.metrics import DIMENSIONS
from crmsync.plugin.context import is_dimension
from crmsync.plugin.registry import Registry

__all__ = ["metrics", "demo"]

class _Period(click.ParamType):
    name = "|".join(PERIODS) + "|last_<N>d"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None
                ) -> str:
        if not is_period(value):
            self.fail(f"{value!r} is not a period ({', '.join(PERIODS)} or last_<N>d)",
                      param, ctx)
        return value


class _Dimension(click.ParamType):
    name = "|".join(sorted(DIMENSIONS)) + "|custom.<field>"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None
                ) -> str:
        if not is_dimension(value):
            self.fail(f"{value!r} is not a dimension ({', '.join(sorted(DIMENSIONS))} or "
                      "custom.<field>)", param, ctx)
        return value


_PERIOD = _Period()
_DIMENSION = _Dimension()


@click.group()
def metrics() -> None:
    """List, compute and show KPIs."""


@metrics.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def metrics_list(state: State, as_json: bool) -> None:
    """Every registered metric: name, title, unit, description."""
    rows = [{"name": m.NAME, "title": m.title, "unit": m.unit, "direction": m.direction,
             "dimensions": list(m.dimensions), "description": m.description,
             "version": m.version, "docs": m.docs or None}
            for m in state.registry.metrics().values()]
    if as_json:
        emit_json(rows)
    else:
        render.console().print(render.rows_table(rows, ("name", "title", "unit",
                                                        "description")))


@metrics.command("compute")
@click.option("--metric", "names", multiple=True, help="Only these metrics (repeatable).")
@click.option("--period", type=_PERIOD, help="Default: [metrics] period.")
@click.option("--by", "dimensions", multiple=True, type=_DIMENSION,
              help="Also break down by this dimension (repeatable).")
@click.option("--pipeline", "pipelines", multiple=True,
              help="Only deals of this pipeline (remote id; repeatable).")
@click.option("--deal-type", "deal_types", multiple=True,
              help="Only deals of this type (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def metrics_compute(state: State, names: Sequence[str], period: str | None,
                    dimensions: Sequence[str], pipelines: Sequence[str],
                    deal_types: Sequence[str], as_json: bool) -> None:
    """Compute metrics over the store and save the values.

    Without --metric, --by, --pipeline or --deal-type: everything the other commands read —
    every metric for the period, for the organisation and by owner and team, the snapshot
    metrics, and the metrics the [[writeback]] mappings send."""
    if not (names or dimensions or pipelines or deal_types):
        _compute_standard(state, period, as_json)
        return
    result = api.compute_metrics(state.config, state.registry, names, period=period,
                                 dimensions=(None, *dimensions), pipelines=pipelines,
                                 deal_types=deal_types, keep_values=False)
    if as_json:
        emit_json({"run_id": result.run_id, "values": result.stored,
                   "skipped": result.skipped,
                   "findings": [f.__dict__ for f in result.findings]})
    else:
        click.echo(f"computed {result.stored:,} values (run {result.run_id})")
        for s in result.skipped:
            click.echo(f"skipped {s}")
        _warn_findings(result.findings)


def _compute_standard(state: State, period: str | None, as_json: bool) -> None:
    result = api.compute_standard_metrics(state.config, state.registry, period=period)
    if as_json:
        emit_json({"values": result.stored, "skipped": result.skipped,
                   "runs": [{"purpose": purpose, "period": p, "dimensions": list(dims),
                             "connection": connection, "run_id": run_id, "values": n}
                            for purpose, p, dims, connection, run_id, n in result.runs],
                   "findings": [f.__dict__ for f in result.findings]})
        return
    click.echo(f"computed {result.stored:,} values")
    for purpose, p, dims, connection, run_id, n in result.runs:
        by = ", ".join("organisation" if d is None else f"by {d}" for d in dims)
        where = f", connection {connection}" if connection else ""
        click.echo(f"  {purpose}: period {p}, {by}{where}: {n:,} values (run {run_id})")
    for s in result.skipped:
        click.echo(f"skipped {s}")
    _warn_findings(result.findings)


def _warn_findings(findings: Sequence[Any]) -> None:
    for f in findings[:20]:
        click.echo(f"warning: {f}", err=True)
    if len(findings) > 20:
        click.echo(f"warning: … and {len(findings) - 20} more records left out of money "
                   "metrics (see --json)", err=True)


@metrics.command("show")
@click.option("--metric", help="Only this metric.")
@click.option("--period", type=_PERIOD, help="Default: [metrics] period.")
@click.option("--by", "dimension", type=_DIMENSION, help="A dimension computed with --by.")
@click.option("--below-target", is_flag=True, help="Only values that miss their [targets].")
@click.option("--explain", is_flag=True,
              help="Also print each shown metric's definition and where it is documented.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def metrics_show(state: State, metric: str | None, period: str | None, dimension: str | None,
                 below_target: bool, explain: bool, as_json: bool) -> None:
    """Show the latest computed values with the change against the previous period and the
    target, if one is set."""
    cfg = state.config
    if metric is not None:
        state.registry.metric(metric)  # an unknown name fails, suggesting close ones
    rows = api.metric_report(cfg, state.registry, metric=metric,
                             period=period or cfg.metrics.period, dimension=dimension,
                             below_target=below_target)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("nothing below target" if below_target
                   else "no values yet: run `crmsync metrics compute` first")
        return
    definitions = state.registry.metrics()
    units = {m.NAME: m.unit for m in definitions.values()}
    out = render.console()
    out.print(render.report_table(rows, units, period or cfg.metrics.period,
                                  currency=cfg.metrics.base_currency))
    out.print("* period not ended · pts: percentage points · ▼ below target · n: population"
              + ("" if explain else " · definitions: --explain"), style="dim")
    if explain:
        shown = [definitions[n] for n in dict.fromkeys(r["metric"] for r in rows)
                 if n in definitions]
        out.print(render.explain(shown), markup=False, highlight=False, soft_wrap=True)


@click.command()
@click.option("--store", "store_url", help="Keep the demo in this store URL instead of a "
                                           "throw-away SQLite file.")
@click.option("--size", type=click.Choice(["small", "medium", "large"]), default="small",
              show_default=True)
@click.option("--period", type=_PERIOD, default="quarter", show_default=True)
@click.option("--report", "report_path", type=click.Path(dir_okay=False),
              default=str(Path(tempfile.gettempdir()) / "crmsync-demo-report.html"),
              show_default=True, help="Where to write the self-contained HTML report.")
@click.option("--dashboard", "serve", is_flag=True,
              help="Serve the live dashboard over the demo store instead of writing the "
                   "report (Ctrl+C stops it).")
@click.option("--port", type=click.IntRange(0, 65535), default=8050, show_default=True,
              help="The dashboard's port (with --dashboard; it binds 127.0.0.1).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def demo(state: State, store_url: str | None, size: str, period: str, report_path: str,
         serve: bool, port: int, as_json: bool) -> None:
    """Sync a realistic demo CRM, compute every KPI, print them and write the HTML report
    (or, with --dashboard, serve the dashboard)."""
    registry = state.registry
    table_period = period if period in ("day", "week", "month", "quarter", "year") else None

    def then(config: Config, as_of: dt.datetime) -> Any:
        if serve:
            return None  # served after the summary is printed (below)
        return api.report_html(config, registry, report_path, period=table_period,
                               as_of=as_of.date())

    with progress_bar(not as_json and sys.stderr.isatty()) as progress:
        if serve:
            result = api.demo(registry, store_url=store_url, size=size, period=period,
                              progress=progress,
                              then=lambda config, as_of: _serve_demo(config, registry,
                                                                     as_of, port))
            return
        result = api.demo(registry, store_url=store_url, size=size, period=period,
                          progress=progress, then=then)
    written = result.then_result
    if as_json:
        emit_json({"store": result.store_url if result.kept else None,
                   "report": str(written.path) if written is not None else None,
                   "sync": result.sync.as_dict(),
                   "values": [v.as_dict() for v in result.metrics.values + result.by_team.values]})
        return
    defs = registry.metrics()
    units = {n: m.unit for n, m in defs.items()}
    titles = {n: m.title for n, m in defs.items()}
    rows = sum(d.rows_upserted for d in result.sync.details)
    out = render.console()
    out.print(f"Synced {rows:,} demo records "
              f"({len(result.sync.details)} entities, "
              f"{sum(d.rejects for d in result.sync.details)} rejected).")
    today = result.as_of.date()
    out.print(render.kpi_table(f"KPIs by {period} (whole organisation, as of {today})",
                               result.metrics.values, units, titles, until=today,
                               definitions=defs))
    team_values = [v for v in result.by_team.values if v.subject_id is None]
    latest = max((v.period_start for v in team_values
                  if v.period_start and v.period_start <= today), default=None)
    team_rows = [v for v in team_values if v.period_start == latest]
    if team_rows and latest is not None:
        teams = sorted({v.dimension_value or "(none)" for v in team_rows})
        ended = all(v.period_end is not None and v.period_end <= today for v in team_rows)
        table = render.rows_table([], ["KPI"], title=(
            f"By team, {render.period_label(period, latest)}"
            + ("" if ended else f" (not ended: as of {today})")))
        for team in teams:
            table.add_column(team, justify="right")
        by = {(v.metric, v.dimension_value or "(none)"): v for v in team_rows}
        for name in [n for n in defs if any(m == n for m, _ in by)]:
            table.add_row(titles[name], *(render.format_value(
                by[(name, t)].value if (name, t) in by else None, units[name]) for t in teams))
        out.print(table)
    snapshot = [v for v in result.snapshot.values if v.subject_id is None]
    if snapshot:
        table = render.rows_table([], ["Snapshot", "value", "of"], title=f"Now ({today})")
        for v in snapshot:
            table.add_row(titles[v.metric], render.format_value(v.value, units[v.metric]),
                          f"{v.denominator:,.0f}" if v.denominator is not None else "")
        out.print(table)
    if result.kept:
        out.print(f"Store kept at {result.store_url}")
    if written is not None:  # plain echo: rich would wrap a long path at the terminal width
        click.echo(f"HTML report ({written.size / 1e6:.1f} MB, opens offline): {written.path}")


def _serve_demo(config: Config, registry: Registry, as_of: dt.datetime, port: int) -> None:
    """Serve the demo store's dashboard on 127.0.0.1 until Ctrl+C."""
    try:
        api.serve_dashboard(config, registry, port=port, as_of=as_of.date())
    except KeyboardInterrupt:
        pass
