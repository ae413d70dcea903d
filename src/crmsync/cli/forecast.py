"""``crmsync forecast``: the period's forecast by category against quota, weighted and
history-based, or (``--accuracy``) how a past period's forecast compared with what closed
(docs/cli.md, docs/forecast.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import click
from rich.console import Console

from crmsync import api
from crmsync.cli import render
from crmsync.cli.state import State, emit_json, pass_state, say
from crmsync.metrics.forecast_history import MIN_SAMPLE
from crmsync.orchestration.forecast import FORECAST_BY, FORECAST_PERIODS

__all__ = ["forecast", "print_forecast", "print_accuracy", "money"]

_CATEGORIES = (("closed", "closed"), ("commit", "commit"), ("best_case", "best case"),
               ("pipeline", "pipeline"), ("omitted", "omitted"))
_KINDS = (("commit", "commit"), ("best_case", "best case"), ("weighted", "weighted"),
          ("history", "history"))


def money(value: float | None) -> str:
    """An amount in a few characters: ``980``, ``45.2k``, ``1.25M``."""
    if value is None:
        return "–"
    size = abs(value)
    if size >= 1e6:
        return f"{value / 1e6:,.2f}M"
    if size >= 1e4:
        return f"{value / 1e3:,.1f}k"
    return f"{value:,.0f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _span(result: Mapping[str, Any]) -> str:
    """``2026-Q2 (2026-04-01 – 2026-06-30)``: the period's label and days."""
    last = dt.date.fromisoformat(result["period_end"]) - dt.timedelta(days=1)
    return f"{result['label']} ({result['period_start']} – {last.isoformat()})"


def _who(result: Mapping[str, Any]) -> str:
    return {"owner": "rep", "team": "team"}.get(result["by"] or "", "scope")


def _rows(result: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    rows = list(result["groups"])
    if result["by"] is not None:
        rows.append({**result["total"], "name": "all"})
    return rows


def print_forecast(out: Console, result: Mapping[str, Any]) -> None:
    """The roll-up by category (amount and n), then against quota."""
    who = _who(result)
    seen = ("rebuilt at " if result["rebuilt"] else "at ") + result["at"][:16].replace(
        "T", " ")
    out.print(render.cell(f"Forecast {_span(result)} {seen} UTC · {result['currency']}"),
              style="bold")
    rows = _rows(result)
    by_category = [{who: g["name"], **{label: f"{money(g[c]['amount'])} n{g[c]['n']}"
                                      for c, label in _CATEGORIES}} for g in rows]
    render.records(out, by_category, (who, *(label for _, label in _CATEGORIES)),
                   title="by forecast category", key=(who,))
    quota = [{who: g["name"],
              "quota": "no rate" if g.get("quota_unconverted") else money(g["quota"]),
              "c+c att.": f"{money(g['kinds']['commit'])} {_pct(g['attainment']['commit'])}",
              "c+c+bc att.": (f"{money(g['kinds']['best_case'])} "
                              f"{_pct(g['attainment']['best_case'])}"),
              "weighted": money(g["weighted"]),
              "history": f"{money(g['history'])} n{g['history_n']}/{g['open_n']}"}
             for g in rows]
    render.records(out, quota, (who, "quota", "c+c att.", "c+c+bc att.", "weighted",
                                "history"), title="against quota", key=(who,))
    out.print(render.cell(
        "n: deals · c+c: closed + commit · c+c+bc: + best case · att.: ÷ quota · "
        "weighted: Σ amount × stage probability · history: Σ amount × the won share of "
        f"like past deals, n of open deals with a sample of {result['min_sample']}+ "
        "(else the stage probability) · docs/forecast.md"), style="dim")
    if any(g.get("quota_unconverted") for g in rows):
        out.print(render.cell(f"no rate: a quota in a currency with no rate to "
                              f"{result['currency']} on its start date (currency_rates); "
                              "the totals it is part of are unknown"), style="dim")


def print_accuracy(out: Console, result: Mapping[str, Any]) -> None:
    """Per group: what closed won, each forecast at the period's start and its absolute
    percentage error; then the organisation's forecast week by week."""
    who = _who(result)
    state = "ended" if result["ended"] else "NOT ENDED: errors are not final"
    out.print(render.cell(f"Forecast accuracy {_span(result)} {state} · "
                          f"{result['currency']}"), style="bold")
    rows = [*result["groups"], {**result["total"], "name": "all"}]
    table = [{who: g["name"], "won": f"{money(g['actual']['amount'])} n{g['actual']['n']}",
              **{label: f"{money(g['kinds'][k]['forecast'])} {_pct(g['kinds'][k]['ape'])}"
                 for k, label in _KINDS}} for g in rows]
    render.records(out, table, (who, "won", *(label for _, label in _KINDS)),
                   title="forecast at the start vs won", key=(who,))
    won = money(result["total"]["actual"]["amount"])
    weeks = [{"week of": w["at"][:10], **{label: money(w["total"][k]) for k, label in _KINDS},
              "won": won} for w in result["weeks"]]
    render.records(out, weeks, ("week of", *(label for _, label in _KINDS), "won"),
                   title="the organisation's forecast week by week", key=("week of",))
    out.print(render.cell(
        "each forecast: its amount and absolute percentage error against won (– when "
        "nothing was won) · commit: closed + commit · best case: + best case · "
        "docs/forecast.md"), style="dim")


@click.command()
@click.option("--period", type=click.Choice(FORECAST_PERIODS), default="quarter",
              show_default=True, help="The fiscal period forecast.")
@click.option("--by", type=click.Choice(FORECAST_BY), help="Per rep or team "
              "(default: the organisation).")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="The period containing this day, as it stood at its end (default: "
                   "today); with --accuracy, the period to check.")
@click.option("--accuracy", is_flag=True, help="How a past period's forecast (default: "
              "the last ended one) compared with what closed won.")
@click.option("--min-sample", type=click.IntRange(min=1), default=MIN_SAMPLE,
              show_default=True, help="Past stage entries the history-based chance needs.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def forecast(state: State, period: str, by: str | None, as_of: dt.datetime | None,
             accuracy: bool, min_sample: int, as_json: bool) -> None:
    """The period's forecast by category (closed, commit, best case, pipeline, omitted)
    per rep or team against quota, weighted and history-based."""
    day = as_of.date() if as_of else None
    if accuracy:
        if not as_json:
            say("rebuilding the forecast at each week of the period from history…")
        result = api.forecast_accuracy(state.config, period=period, by=by, as_of=day,
                                       min_sample=min_sample)
    else:
        if not as_json:
            say(f"computing the {period}'s forecast…")
        result = api.forecast(state.config, period=period, by=by, as_of=day,
                              min_sample=min_sample)
    if as_json:
        emit_json(result)
    elif accuracy:
        print_accuracy(render.console(), result)
    else:
        print_forecast(render.console(), result)
