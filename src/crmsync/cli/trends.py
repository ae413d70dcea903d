"""``crmsync metrics trends`` and ``crmsync metrics why`` (docs/trends.md, docs/cli.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import click

from crmsync import api
from crmsync.cli import render
from crmsync.cli.metrics import DIMENSION, PERIOD, metrics
from crmsync.cli.names import check_metric
from crmsync.cli.state import State, emit_json, pass_state, say
from crmsync.core.formatting import format_value, period_label

__all__ = ["metrics_trends", "metrics_why", "TRENDS_COLUMNS", "TRENDS_LEGEND", "WHY_LEGEND"]

#: ``metrics trends`` columns.
TRENDS_COLUMNS = ("who", "period", "value", "last year", "trail. 4", "flag", "n")
#: The legend under ``metrics trends``.
TRENDS_LEGEND = ("* period not ended · last year: the same period a year before · trail. 4: "
                 "median of the 4 periods before · flag: ! outside median ± k·MAD×1.4826 "
                 "(anomaly), ok inside, or why it was not judged · n: population · "
                 "docs/trends.md")
#: The legend under ``metrics why``.
WHY_LEGEND = ("volume: more or fewer deals closed · mix: their split between segments · "
              "win rate: share won · deal size: revenue per won deal · Shapley split, "
              "components add up to the change (docs/trends.md)")
_FACTOR_TITLES = {"volume": "volume", "mix": "mix", "win_rate": "win rate",
                  "deal_size": "deal size"}


def _flag(r: Mapping[str, Any]) -> str:
    if r.get("anomaly") is None:
        return str(r.get("anomaly_reason") or "–")
    return "!" if r["anomaly"] else "ok"


def trend_rows(rows: Sequence[Mapping[str, Any]], period: str, currency: str
               ) -> dict[str, list[dict[str, str]]]:
    """Per metric, one line per value: value, baselines, anomaly flag and ``n``."""
    shown: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        unit = r.get("unit", "count")
        start = dt.date.fromisoformat(r["period_start"]) if r["period_start"] else None
        who = str(r.get("label") or r["dimension_value"]) if r["dimension"] else "(all)"
        shown.setdefault(r["metric"], []).append({
            "who": who,
            "period": period_label(period, start) + (" *" if r.get("partial") else ""),
            "value": format_value(r["value"], unit, currency),
            "last year": format_value(r.get("baseline_last_year"), unit, currency),
            "trail. 4": format_value(r.get("baseline_trailing"), unit, currency),
            "flag": _flag(r),
            "n": f"{r['n']:,.0f}" if r.get("n") is not None else "–",
        })
    return shown


@metrics.command("trends")
@click.option("--metric", help="Only this metric.")
@click.option("--period", type=PERIOD, help="Default: [metrics] period.")
@click.option("--by", "dimension", type=DIMENSION,
              help="A dimension computed with --by (owner, team…).")
@click.option("--anomalies", is_flag=True, help="Only values outside their baseline band.")
@click.option("--last", default=1, show_default=True, type=click.IntRange(1, 100),
              help="Show the last N periods of each value.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def metrics_trends(state: State, metric: str | None, period: str | None,
                   dimension: str | None, anomalies: bool, last: int, as_json: bool) -> None:
    """Each value with its baselines (same period last year, trailing-4 median) and
    whether it is an anomaly."""
    cfg = state.config
    if metric is not None:
        check_metric(state.registry, metric)
    period = period or cfg.metrics.period
    if not as_json:
        say(f"reading the latest {metric or 'metric'} values by {period} and their "
            "baselines…")
    rows = api.metric_trends(cfg, state.registry, metric=metric, period=period,
                             dimension=dimension, anomalies=anomalies)
    starts = sorted({r["period_start"] for r in rows if r["period_start"]})[-last:]
    rows = [r for r in rows if r["period_start"] in starts]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("no anomalies" if anomalies
                   else "no values yet: run `crmsync metrics compute` first")
        return
    out = render.console()
    for name, lines in trend_rows(rows, period, cfg.metrics.base_currency).items():
        title = next(r["title"] for r in rows if r["metric"] == name)
        render.records(out, lines, TRENDS_COLUMNS, title=f"{name}: {title}",
                       key=("who", "period"))
    out.print(render.cell(TRENDS_LEGEND), style="dim")


def _amount(v: float | None, currency: str) -> str:
    return "–" if v is None else f"{v:+,.2f} {currency}"


def _whole(v: float | None) -> str:
    return "–" if v is None else f"{v:+,.0f}"


@metrics.command("why")
@click.option("--metric", default="revenue", show_default=True,
              help="The metric to explain (revenue).")
@click.option("--from", "start", required=True,
              help="The first period: 2026-Q1, 2026-03, 2026-W05, 2026 or a date in it.")
@click.option("--to", "end", required=True, help="The second period, written the same way.")
@click.option("--by", "dimension", type=DIMENSION,
              help="Split the mix by this dimension (team, segment…).")
@click.option("--period", type=PERIOD, help="Default: the labels', else [metrics] period.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def metrics_why(state: State, metric: str, start: str, end: str, dimension: str | None,
                period: str | None, as_json: bool) -> None:
    """Why revenue changed between two periods: the change split exactly into volume
    (deals closed), mix, win rate and deal size."""
    cfg = state.config
    check_metric(state.registry, metric)
    if not as_json:
        say(f"splitting the change of {metric} from {start} to {end}"
            + (f" by {dimension}" if dimension else "") + "…")
    result = api.why_changed(cfg, state.registry, metric=metric, start=start, end=end,
                             by=dimension, period=period)
    if as_json:
        emit_json(result)
        return
    cur = cfg.metrics.base_currency
    out = render.console()
    n0, n1 = result["closed"]
    click.echo(f"{result['title']}: {result['from']} {result['before']:,.2f} → "
               f"{result['to']} {result['after']:,.2f} {cur}")
    click.echo(f"change {_amount(result['change'], cur)} (deals closed: n {n0:,.0f} → "
               f"{n1:,.0f})")
    lines = [{"component": _FACTOR_TITLES[f], "amount": _amount(result["components"][f], cur)}
             for f in result["factors"]]
    render.records(out, lines, ("component", "amount"), title="components",
                   key=("component",))
    if result["segments"]:
        seg_lines = [{"who": s["label"], "change": _whole(s["change"]),
                      **{_FACTOR_TITLES[f]: _whole(s["components"][f])
                         for f in result["factors"]},
                      "n": f"{s['closed'][0]:,.0f}→{s['closed'][1]:,.0f}"}
                     for s in result["segments"]]
        render.records(out, seg_lines, ("who", "change", *_FACTOR_TITLES.values(), "n"),
                       title=f"by {result['by']} ({cur}, rounded; --json: to the cent)",
                       key=("who",))
    out.print(render.cell(WHY_LEGEND), style="dim")
