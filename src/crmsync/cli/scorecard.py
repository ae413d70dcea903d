"""``crmsync scorecard``: each rep's KPIs against their team (docs/cli.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import click
from rich.console import Console

from crmsync import api
from crmsync.cli import render
from crmsync.cli.metrics import PERIOD
from crmsync.cli.names import check_rep, check_team
from crmsync.cli.state import Finished, State, emit_json, pass_state, say
from crmsync.core.formatting import format_value, period_label

__all__ = ["scorecard", "print_scorecards", "COLUMNS", "LEGEND"]

#: The columns of one family's table.
COLUMNS = ("KPI", "value", "n", "median", "pctl", "target", "att.")
#: The legend under the scorecards.
LEGEND = ("* period not ended · median: the team's median · pctl: percentile in the team "
          "(100 = best, whatever the direction; – without teammates) · att.: attainment of "
          "the target · ▼ below target · n: population · amounts in {currency} · definitions: "
          "crmsync metrics show --explain")


@click.command()
@click.option("--rep", help="Only this rep (remote id or name).")
@click.option("--team", help="Only this team's reps.")
@click.option("--period", type=PERIOD, help="Default: [metrics] period.")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Show the period containing this day (default: today).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def scorecard(state: State, rep: str | None, team: str | None, period: str | None,
              as_of: dt.datetime | None, as_json: bool) -> None:
    """Each rep's KPIs by family with n, the team median, the rep's percentile in the
    team, the target and attainment."""
    cfg = state.config
    rep_id = check_rep(cfg, rep) if rep is not None else None
    if team is not None:
        team = check_team(cfg, team)
    period = period or cfg.metrics.period
    if not as_json:
        say(f"reading the latest per-rep values by {period}…")
    result = api.scorecard(cfg, state.registry, rep=rep_id, team=team, period=period,
                           as_of=as_of.date() if as_of else None)
    if as_json:
        emit_json(result)
    elif result["reps"]:
        print_scorecards(render.console(), result, cfg.metrics.base_currency)
    if not result["reps"]:
        if not as_json:
            who = f" for {rep}" if rep else f" for team {team}" if team else ""
            click.echo(f"no per-rep values by {period}{who} yet: run `crmsync metrics "
                       "compute` first", err=True)
        raise Finished(Exception)


def _line(m: Mapping[str, Any], currency: str) -> dict[str, str]:
    """One metric of a scorecard, formatted."""
    unit = m["unit"]

    def fmt(v: float | None) -> str:
        return format_value(v, unit, "").strip() if v is not None else "–"

    return {
        "KPI": m.get("title") or m["metric"],
        "value": fmt(m["value"]) + (" ▼" if m["below_target"] else ""),
        "n": f"{m['n']:,.0f}" if m.get("n") is not None else "–",
        "median": fmt(m["team_median"]),
        "pctl": f"{m['percentile']:.0f}" if m["percentile"] is not None else "–",
        "target": fmt(m["target"]),
        "att.": f"{m['attainment']:.0%}" if m["attainment"] is not None else "–",
    }


def print_scorecards(out: Console, result: Mapping[str, Any], currency: str = "USD") -> None:
    """The period, then a heading per rep (name, id, team) and one table per KPI family."""
    start = dt.date.fromisoformat(result["period_start"])
    out.print(render.cell(f"Scorecards by {result['period']}: "
                          + period_label(result["period"], start)
                          + (f" * (not ended on {result['as_of']})" if result["partial"]
                             else f" (as of {result['as_of']})")), style="bold")
    out.print()
    for card in result["reps"]:
        team = f"team {card['team']}" if card["team"] else "no team"
        out.print(render.cell(f"{card['rep']} ({card['rep_id']}) · {team}"), style="bold")
        for family in card["families"]:
            rows = [_line(m, currency) for m in family["metrics"]]
            render.records(out, rows, COLUMNS, title=family["family"], key=("KPI",))
        out.print()
    out.print(render.cell(LEGEND.format(currency=currency)), style="dim")
