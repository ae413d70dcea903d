"""``crmsync coach``: coaching findings with their evidence (docs/cli.md, docs/coaching.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import click
from rich.console import Console

from crmsync import api
from crmsync.cli import render
from crmsync.cli.metrics import PERIOD
from crmsync.cli.names import check_connections, check_rep, check_team
from crmsync.cli.state import Finished, State, emit_json, pass_state, say
from crmsync.core.formatting import format_value, period_label

__all__ = ["coach", "print_findings", "COLUMNS", "LEGEND"]

#: The columns of a finding's evidence.
COLUMNS = ("KPI", "value", "n", "median", "target", "fires at")
#: The legend under the findings.
LEGEND = ("* period not ended · median: the team's median · fires at: the rule's threshold "
          "· n: the KPI's sample (no finding below the rule's minimum) · severity: how far "
          "past the threshold (docs/coaching.md) · amounts in {currency}")
_OPS = {"<=": "≤", ">=": "≥", "<": "<", ">": ">"}


@click.command()
@click.option("--rep", help="Only this rep (remote id or name).")
@click.option("--team", help="Only this team's reps.")
@click.option("--period", type=PERIOD, help="Default: [metrics] period.")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Evaluate the period containing this day (default: today).")
@click.option("--all", "show_all", is_flag=True,
              help="Also list the findings resolved earlier.")
@click.option("--no-record", "no_record", is_flag=True,
              help="Evaluate without storing the findings (statuses as stored).")
@click.option("--notify", is_flag=True,
              help="Send the digest through the notifiers, as a schedule job does.")
@click.option("--write-back", "write_back", metavar="CONNECTION",
              help="Then write each rep's open findings as text onto their user record.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def coach(state: State, rep: str | None, team: str | None, period: str | None,
          as_of: dt.datetime | None, show_all: bool, no_record: bool, notify: bool,
          write_back: str | None, as_json: bool) -> None:
    """Coaching findings: KPI patterns of each rep against their team that point to a
    training need, with the evidence, a severity and the training area."""
    cfg = state.config
    if write_back is not None:
        check_connections(cfg, [write_back])
    rep_id = check_rep(cfg, rep) if rep is not None else None
    if team is not None:
        team = check_team(cfg, team)
    period = period or cfg.metrics.period
    if not as_json:
        say(f"evaluating the coaching rules over the latest per-rep values by {period}…")
    result = api.coach(cfg, state.registry, rep=rep_id, team=team, period=period,
                       as_of=as_of.date() if as_of else None, record=not no_record,
                       notify=notify, include_resolved=show_all)
    if write_back is not None and result["computed"]:
        result["writeback"] = api.coach_writeback(cfg, state.registry, write_back)
    if as_json:
        emit_json(result)
    elif result["computed"]:
        print_findings(render.console(), result, cfg.metrics.base_currency)
        if "writeback" in result:
            _print_writeback(render.console(), result["writeback"])
    if not result["computed"]:
        if not as_json:
            who = f" for {rep}" if rep else f" for team {team}" if team else ""
            click.echo(f"no per-rep values by {period}{who} yet: run `crmsync metrics "
                       "compute` first", err=True)
        raise Finished(Exception)


def _print_writeback(out: Console, w: Mapping[str, Any]) -> None:
    """One line on what was written to the CRM, then one per rep that failed."""
    out.print(render.cell(f"write-back to {w['connection']} ({w['field']}): coaching text "
                          f"on {w['written']} reps, cleared on {w['cleared']}, "
                          f"{w['unchanged']} unchanged, {len(w['failed'])} failed"))
    for f in w["failed"]:
        out.print(render.cell(f"  {f['rep_id']}: {f['error_code'] or ''} {f['error']}"))
    if w["failed"]:
        raise Finished(Exception)


def _evidence(e: Mapping[str, Any], currency: str) -> dict[str, str]:
    """One KPI of a finding's evidence, formatted."""
    unit = e["unit"]

    def fmt(v: float | None) -> str:
        return format_value(v, unit, currency).strip() if v is not None else "–"

    op = next((_OPS[o] for o in ("<=", ">=", "<", ">") if f" {o} " in e["condition"]), "")
    return {"KPI": e["title"], "value": fmt(e["value"]),
            "n": f"{e['n']:,.0f}" if e.get("n") is not None else "–",
            "median": fmt(e["team_median"]), "target": fmt(e["target"]),
            "fires at": f"{op} {fmt(e['threshold'])}".strip()}


def _heading(f: Mapping[str, Any]) -> str:
    """``severity · area: title (status)``: since when a finding is still open, when a
    resolved one was resolved."""
    status = f["status"]
    if status == "still open" and f.get("opened_at"):
        status += f" since {f['opened_at'][:10]}"
    elif status == "resolved" and f.get("resolved_at"):
        status += f" on {f['resolved_at'][:10]}"
    return f"{f['severity']} · {f['area']}: {f['title']} ({status})"


def print_findings(out: Console, result: Mapping[str, Any], currency: str = "USD") -> None:
    """The period and counts, then each rep (name, id, team) with their findings: heading,
    evidence table and advice; the resolved findings last."""
    start = dt.date.fromisoformat(result["period_start"])
    out.print(render.cell(f"Coaching findings by {result['period']}: "
                          + period_label(result["period"], start)
                          + (f" * (not ended on {result['as_of']})" if result["partial"]
                             else f" (as of {result['as_of']})")), style="bold")
    c = result["changes"]
    out.print(render.cell(f"{len(result['rules'])} rules · {result['reps_evaluated']} reps "
                          f"evaluated · {c['opened']} new, {c['reopened']} reopened, "
                          f"{c['still_open']} still open, {c['resolved']} resolved"))
    out.print()
    if not result["findings"]:
        out.print(render.cell("No open findings."))
    shown = [*result["findings"], *result["resolved"]]
    last = None
    for f in shown:
        if (f["rep_id"], f["status"] == "resolved") != last:
            team = f"team {f['team']}" if f["team"] else "no team"
            label = " · resolved" if f["status"] == "resolved" else ""
            out.print(render.cell(f"{f['rep']} ({f['rep_id']}) · {team}{label}"), style="bold")
            last = (f["rep_id"], f["status"] == "resolved")
        out.print(render.cell(_heading(f)))
        rows = [_evidence(e, currency) for e in f["evidence"]]
        render.records(out, rows, COLUMNS, key=("KPI",))
        if f.get("advice"):
            out.print(render.cell(f"Training: {f['advice']}"), style="dim")
        out.print()
    out.print(render.cell(LEGEND.format(currency=currency)), style="dim")
