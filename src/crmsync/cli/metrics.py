"""``crmsync metrics …`` and ``crmsync demo``."""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.padding import Padding

from crmsync import api
from crmsync.api import DemoResult
from crmsync.cli import as_of as as_of_cli
from crmsync.cli import render
from crmsync.cli.compute_notes import print_anomalies as _print_anomalies
from crmsync.cli.compute_notes import warn_findings as _warn_findings
from crmsync.cli.names import check_metric
from crmsync.cli.progress import Meter, meter, mode_for, sync_progress
from crmsync.cli.state import State, emit_json, pass_state, say
from crmsync.core.config import PERIODS, Config
from crmsync.core.errors import CrmsyncError
from crmsync.core.formatting import format_value, period_label
from crmsync.core.periods import is_period
from crmsync.metrics import DIMENSIONS
from crmsync.metrics.engine import MetricValue
from crmsync.plugin.context import is_dimension
from crmsync.plugin.dimensions import Dimension, custom_key, offered_dimensions
from crmsync.plugin.registry import Registry

__all__ = ["metrics", "demo", "print_demo", "PERIOD", "DIMENSION"]

if TYPE_CHECKING:
    _StrParam = click.ParamType[str, str]
else:  # click < 8.2's ParamType is not generic at run time
    _StrParam = click.ParamType


class _Period(_StrParam):
    name = "|".join(PERIODS) + "|last_<N>d"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None
                ) -> str:
        if not is_period(value):
            self.fail(f"{value!r} is not a period ({', '.join(PERIODS)} or last_<N>d)",
                      param, ctx)
        return value


class _Dimension(_StrParam):
    name = "|".join(sorted(DIMENSIONS)) + "|<declared>|custom.<field>"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None
                ) -> str:
        try:
            if value in DIMENSIONS or custom_key(value) is not None:
                return value
            # a declared name: ask the plugins (a conflict between them is the error to show)
            state = ctx.find_object(State) if ctx is not None else None
            declared = state.registry.dimensions() if state is not None else {}
        except CrmsyncError as exc:
            self.fail(str(exc), param, ctx)
        if not is_dimension(value, declared):
            known = ", ".join([*sorted(DIMENSIONS), *sorted(declared)])
            self.fail(f"{value!r} is not a dimension ({known} or custom.<field>)", param, ctx)
        return value


_PERIOD = _Period()
#: The ``--period`` type (``scorecard`` shares it).
PERIOD = _PERIOD
_DIMENSION = _Dimension()
#: The ``--by`` type (``metrics trends`` and ``metrics why`` share it).
DIMENSION = _DIMENSION


@click.group()
def metrics() -> None:
    """List, compute and show KPIs."""


@metrics.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def metrics_list(state: State, as_json: bool) -> None:
    """Every registered metric: name, title, unit, description."""
    declared: dict[str, Dimension] = {}
    with contextlib.suppress(CrmsyncError):  # conflicting dimensions: `metrics compute` says
        declared = state.registry.dimensions()
    rows = [{"name": m.NAME, "title": m.title, "unit": m.unit, "direction": m.direction,
             "dimensions": offered_dimensions(m, declared), "description": m.description,
             "version": m.version, "docs": m.docs or None}
            for m in state.registry.metrics().values()]
    if as_json:
        emit_json(rows)
    else:
        render.records(render.console(), rows, ("name", "title", "unit", "description"),
                       key=("name",))


@metrics.command("compute")
@click.option("--metric", "names", multiple=True, help="Only these metrics (repeatable).")
@click.option("--period", type=_PERIOD, help="Default: [metrics] period.")
@click.option("--by", "dimensions", multiple=True, type=_DIMENSION,
              help="Also break down by this dimension (repeatable).")
@click.option("--pipeline", "pipelines", multiple=True,
              help="Only deals of this pipeline (remote id; repeatable).")
@click.option("--deal-type", "deal_types", multiple=True,
              help="Only deals of this type (repeatable).")
@as_of_cli.as_of_option("Compute as the store stood at the end of DATE ([metrics] timezone) "
                        "into metric_snapshots (docs/as-of.md).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def metrics_compute(state: State, names: Sequence[str], period: str | None,
                    dimensions: Sequence[str], pipelines: Sequence[str],
                    deal_types: Sequence[str], as_of: str | None, as_json: bool) -> None:
    """Compute metrics over the store and save the values.

    Without --metric, --by, --pipeline or --deal-type: everything the other commands read —
    every metric for the period, for the organisation and by owner and team, the snapshot
    metrics, and the metrics the [[writeback]] mappings send."""
    for name in names:
        check_metric(state.registry, name)
    if as_of is not None:
        as_of_cli.compute_as_of(state, as_of_cli.instant(state, as_of), names, period,
                                dimensions, pipelines, deal_types, as_json, _queries)
        return
    shown_period = period or state.config.metrics.period
    if not (names or dimensions or pipelines or deal_types):
        if not as_json:
            say(f"computing every metric by {shown_period} for the organisation, by owner "
                "and team, the snapshots and the write-back mappings…")
        _compute_standard(state, period, as_json)
        return
    if not as_json:
        say(f"computing {len(names) or len(state.registry.metrics())} metric(s) by "
            f"{shown_period}" + "".join(f", by {d}" for d in dimensions) + "…")
    with meter(mode_for(as_json)) as m:
        result = api.compute_metrics(state.config, state.registry, names, period=period,
                                     dimensions=(None, *dimensions), pipelines=pipelines,
                                     deal_types=deal_types, keep_values=False,
                                     progress=_queries(m))
    if as_json:
        emit_json({"run_id": result.run_id, "values": result.stored,
                   "skipped": result.skipped,
                   "findings": [f.__dict__ for f in result.findings]})
    else:
        click.echo(f"computed {result.stored:,} values (run {result.run_id})")
        for s in result.skipped:
            click.echo(f"skipped {s}")
        _warn_findings(result.findings)


@metrics.command("snapshot")
@click.option("--metric", "names", multiple=True, help="These metrics instead of the headline "
                                                        "KPIs (repeatable).")
@click.option("--period", type=_PERIOD, help="Default: [metrics] period.")
@as_of_cli.as_of_option("As of the end of DATE instead of now.")
@click.option("--backfill", metavar="Nw", help="As of the end of each of the last N weeks.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def metrics_snapshot(state: State, names: Sequence[str], period: str | None,
                     as_of: str | None, backfill: str | None, as_json: bool) -> None:
    """Record the headline KPIs as they stand (or stood) in metric_snapshots, for trend
    lines: pipeline value as it stood each week."""
    for name in names:
        check_metric(state.registry, name)
    at = as_of_cli.instant(state, as_of) if as_of else None
    as_of_cli.snapshot(state, at, backfill, names, period, as_json)


def _queries(m: Meter, unit: str = "queries") -> Callable[[int, int], None]:
    """``progress(done, total)`` of a metrics computation, shown on ``m``."""
    return lambda done, total: m.update("compute", "metrics compute", done, total, unit)


def _compute_standard(state: State, period: str | None, as_json: bool) -> None:
    with meter(mode_for(as_json)) as m:
        result = api.compute_standard_metrics(state.config, state.registry, period=period,
                                              progress=_queries(m, "runs"))
    if as_json:
        emit_json({"values": result.stored, "skipped": result.skipped,
                   "runs": [{"purpose": purpose, "period": p, "dimensions": list(dims),
                             "connection": connection, "run_id": run_id, "values": n}
                            for purpose, p, dims, connection, run_id, n in result.runs],
                   "findings": [f.__dict__ for f in result.findings]})
        return
    click.echo(f"computed {result.stored:,} values (run ids: --json)")
    for purpose, p, dims, connection, _run_id, n in result.runs:
        by = ", ".join("organisation" if d is None else f"by {d}" for d in dims)
        where = f", connection {connection}" if connection else ""
        click.echo(f"  {purpose}: period {p}, {by}{where}: {n:,} values")
    for s in result.skipped:
        click.echo(f"skipped {s}")
    _print_anomalies(state, period or state.config.metrics.period)
    _warn_findings(result.findings)


#: The legend under ``metrics show``.
SHOW_LEGEND = ("* period not ended · vs prev: change against the previous period (pts: "
               "percentage points) · att.: attainment of the target · ▼ below target · "
               "! anomaly (metrics trends) · n: population")


@metrics.command("show")
@click.option("--metric", help="Only this metric.")
@click.option("--period", type=_PERIOD, help="Default: [metrics] period.")
@click.option("--by", "dimension", type=_DIMENSION, help="A dimension computed with --by.")
@click.option("--below-target", is_flag=True, help="Only values that miss their [targets].")
@click.option("--explain", is_flag=True,
              help="Also print each shown metric's definition and where it is documented.")
@as_of_cli.as_of_option("The values computed as of DATE (metrics compute --as-of, metrics "
                        "snapshot).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def metrics_show(state: State, metric: str | None, period: str | None, dimension: str | None,
                 below_target: bool, explain: bool, as_of: str | None, as_json: bool) -> None:
    """Show the latest computed values with the change against the previous period and the
    target, if one is set."""
    cfg = state.config
    if metric is not None:
        check_metric(state.registry, metric)
    period = period or cfg.metrics.period
    if not as_json:
        say(f"reading the {'latest ' if as_of is None else ''}{metric or 'metric'} values "
            + (f"as of {as_of} " if as_of else "") + f"by {period}"
            + (f" by {dimension}" if dimension else "") + "…")
    if as_of is None:
        rows = api.metric_report(cfg, state.registry, metric=metric, period=period,
                                 dimension=dimension, below_target=below_target)
    else:
        rows = api.snapshot_report(cfg, state.registry, as_of_cli.instant(state, as_of),
                                   metric=metric, period=period, dimension=dimension,
                                   below_target=below_target)
    if as_json:
        emit_json(rows)
    elif not rows:
        click.echo("nothing below target" if below_target
                   else f"no values as of {as_of}: run `crmsync metrics compute --as-of "
                        f"{as_of}`" if as_of else "no values yet: run `crmsync metrics "
                        "compute` first")
    else:
        _print_report(state, rows, period, explain)


def _print_report(state: State, rows: Sequence[dict[str, Any]], period: str,
                  explain: bool) -> None:
    """One section per metric (its name and title), then the legend and definitions."""
    definitions = state.registry.metrics()
    units = {m.NAME: m.unit for m in definitions.values()}
    out = render.console()
    shown = render.report_rows(rows, units, period, currency=state.config.metrics.base_currency)
    for name, values in shown.items():
        title = definitions[name].title if name in definitions else name
        render.records(out, values, render.SHOW_COLUMNS, title=f"{name}: {title}",
                       key=("who", "period"))
    out.print(render.cell(SHOW_LEGEND + ("" if explain else " · definitions: --explain")),
              style="dim")
    if explain:
        metrics_shown = [definitions[n] for n in shown if n in definitions]
        for line in render.explain(metrics_shown).splitlines():
            indent = len(line) - len(line.lstrip())
            out.print(Padding(render.cell(line.strip()), (0, 0, 0, indent)))


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
            _serve_demo(config, registry, as_of, port)
            return None
        from crmsync.dashboard.report import write_report  # imported on use: web stack

        return write_report(config, registry, report_path, period=table_period,
                               as_of=as_of.date())

    if not as_json:
        say(f"syncing the demo CRM ({size}), computing every KPI by {period}, then "
            + ("serving the dashboard…" if serve else "writing the HTML report…"))
    with meter(mode_for(as_json)) as m:
        pairs = [("demo", e) for e in registry.connector("demo").ENTITIES]
        result = api.demo(registry, store_url=store_url, size=size, period=period,
                          progress=sync_progress(m, pairs), then=then)
    if serve:
        return
    if as_json:
        written = result.then_result
        emit_json({"store": result.store_url if result.kept else None,
                   "report": str(written.path) if written is not None else None,
                   "sync": result.sync.as_dict(),
                   "values": [v.as_dict() for v in result.metrics.values + result.by_team.values]})
        return
    print_demo(render.console(), result, registry)


def print_demo(out: Console, result: DemoResult, registry: Registry) -> None:
    """``crmsync demo``'s summary: the sync, the KPIs by period, by team, the snapshot."""
    defs = registry.metrics()
    units = {n: m.unit for n, m in defs.items()}
    titles = {n: m.title for n, m in defs.items()}
    details = result.sync.details
    out.print(f"Synced {sum(d.rows_upserted for d in details):,} demo records "
              f"({len(details)} entities, {sum(d.rejects for d in details)} rejected).")
    today = result.as_of.date()
    out.print(render.fitting(out, lambda last: render.kpi_table(
        f"KPIs by {result.period} (whole organisation, as of {today})", result.metrics.values,
        units, titles, until=today, definitions=defs, last=last), (4, 3, 2, 1)))
    _print_by_team(out, result, units, titles)
    _print_snapshot(out, result, units, titles)
    # paths on lines of their own, echoed as they are: rich would cut a long one
    if result.kept:
        click.echo(f"Store kept at\n  {result.store_url}")
    written = result.then_result
    if written is not None:
        click.echo(f"HTML report ({written.size / 1e6:.1f} MB, opens offline):\n"
                   f"  {written.path}")


def _latest_by_team(result: DemoResult) -> tuple[dt.date | None, list[MetricValue]]:
    """The latest period started by the demo's "today" and its per-team values."""
    today = result.as_of.date()
    team_values = [v for v in result.by_team.values if v.subject_id is None]
    latest = max((v.period_start for v in team_values
                  if v.period_start and v.period_start <= today), default=None)
    return latest, [v for v in team_values if v.period_start == latest]


def _ended(values: Sequence[MetricValue], today: dt.date) -> bool:
    return all(v.period_end is not None and v.period_end <= today for v in values)


def _print_by_team(out: Console, result: DemoResult, units: dict[str, str],
                   titles: dict[str, str]) -> None:
    """The latest period's KPIs per team: as many teams side by side as fit."""
    today = result.as_of.date()
    latest, team_rows = _latest_by_team(result)
    if not team_rows or latest is None:
        return
    teams = sorted({v.dimension_value or "(none)" for v in team_rows})
    by = {(v.metric, v.dimension_value or "(none)"): v.value for v in team_rows}
    names = [n for n in units if any(m == n for m, _ in by)]
    columns = [(team, [format_value(by.get((n, team)), units[n], "") for n in names])
               for team in teams]
    render.matrix(out, f"By team, {period_label(result.period, latest)}"
                  + ("" if _ended(team_rows, today) else f" (not ended: as of {today})"),
                  "KPI", [titles[n] for n in names], columns,
                  caption="amounts in USD")


def _print_snapshot(out: Console, result: DemoResult, units: dict[str, str],
                    titles: dict[str, str]) -> None:
    """The snapshot metrics ("now") with their population."""
    snapshot = [v for v in result.snapshot.values if v.subject_id is None]
    if not snapshot:
        return
    rows = [{"Snapshot": titles[v.metric],
             "value": format_value(v.value, units[v.metric]),
             "of": f"{v.denominator:,.0f}" if v.denominator is not None else ""}
            for v in snapshot]
    render.records(out, rows, ("Snapshot", "value", "of"), title=f"Now ({result.as_of.date()})",
                   key=("Snapshot",))


def _serve_demo(config: Config, registry: Registry, as_of: dt.datetime, port: int) -> None:
    """Serve the demo store's dashboard on 127.0.0.1 until Ctrl+C."""
    with contextlib.suppress(KeyboardInterrupt):
        from crmsync.dashboard.serve import serve  # imported on use: web stack

        serve(config, registry, port=port, as_of=as_of.date())
