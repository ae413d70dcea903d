"""``crmsync themes``: what customers and deals say — themes of survey comments, won and lost
reasons and call outcomes, with shares, sentiment, NPS and quotes (docs/cli.md,
docs/themes.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import click
from rich.console import Console

from crmsync import api
from crmsync.cli import render
from crmsync.cli.metrics import PERIOD
from crmsync.cli.names import check_rep
from crmsync.cli.state import Finished, State, emit_json, pass_state, say
from crmsync.core.formatting import period_label

__all__ = ["themes", "print_themes", "COLUMNS", "LEGEND"]

#: The columns of one source's table.
COLUMNS = ("theme", "share", "n", "sentiment", "NPS")
#: The legend under the tables.
LEGEND = ("* period not ended · share: texts of the source in the theme ÷ n (a text can be "
          "in several themes) · n: texts in the theme · sentiment: −1 to +1 (VADER) · NPS: "
          "of the responses whose comment is in the theme, (n) · quotes redacted · "
          "docs/metrics/themes.md")


@click.command()
@click.option("--period", type=PERIOD, help="Default: [metrics] period.")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Show the latest period with texts up to this day (default: today).")
@click.option("--by", type=click.Choice(["owner", "team", "segment"]),
              help="Also the shares per rep, team or account segment.")
@click.option("--rep", help="Only the texts of this rep's records (remote id or name).")
@click.option("--examples", type=click.IntRange(0, 20),
              help="Quotes per theme (default: [themes] examples).")
@click.option("--no-analyse", "no_analyse", is_flag=True,
              help="Report what is stored; analyse nothing new.")
@click.option("--full", is_flag=True, help="Analyse every text again, not only new ones.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def themes(state: State, period: str | None, as_of: dt.datetime | None, by: str | None,
           rep: str | None, examples: int | None, no_analyse: bool, full: bool,
           as_json: bool) -> None:
    """Themes of survey comments, won and lost reasons and call outcomes: the share of
    texts in each theme, their sentiment, the NPS of the responses in it, and quotes."""
    cfg = state.config
    rep_id = check_rep(cfg, rep) if rep is not None else None
    period = period or cfg.metrics.period
    if not as_json and not no_analyse:
        say("analysing new and changed texts…")
    result = api.themes(cfg, state.registry, period=period, by=by, rep=rep_id,
                        as_of=as_of.date() if as_of else None, analyse=not no_analyse,
                        full=full, examples=examples)
    if as_json:
        emit_json(result)
        return
    print_themes(render.console(), result)
    if result["period_start"] is None:
        click.echo("no analysed texts yet: run `crmsync sync`, then `crmsync themes`",
                   err=True)
        raise Finished(Exception)


def _signed(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:+.{digits}f}"


def _nps(value: float | None, n: int) -> str:
    return "–" if value is None else f"{value:+.0f} ({n})"


def _row(t: Mapping[str, Any]) -> dict[str, str]:
    share = t["share"]
    return {"theme": t["title"], "share": "–" if share is None else f"{share:.1%}",
            "n": f"{t['count']:,}", "sentiment": _signed(t["sentiment"]),
            "NPS": _nps(t["nps"], t["nps_n"])}


def _heading(s: Mapping[str, Any]) -> str:
    """``Survey comments · n 22 · sentiment +0.44 · NPS +36 (n 11)``."""
    who = f"{s['name'] or s['group'] or '(none)'} · " if "group" in s else ""
    line = (f"{who}{s['title'][:1].upper()}{s['title'][1:]} · n {s['n']:,} · "
            f"sentiment {_signed(s['sentiment'])}")
    if s["nps"] is not None:
        line += f" · NPS {s['nps']:+.0f} (n {s['nps_n']:,})"
    return line


def _analysis_line(a: Mapping[str, Any]) -> str:
    return (f"{a['analyser']}: {a['texts']:,} texts · {a['analysed']:,} analysed "
            f"({a['distinct']:,} distinct) · {a['unchanged']:,} unchanged · "
            f"{a['removed']:,} removed")


def _print_groups(out: Console, by: str, groups: list[Mapping[str, Any]]) -> None:
    """Per group and source: n and the three largest themes."""
    out.print(render.cell("By " + {"owner": "rep"}.get(by, by)), style="bold")
    rows = [{"who": str(g["name"] or g["group"] or "(none)"), "source": g["title"],
             "n": f"{g['n']:,}",
             "top themes": ", ".join(f"{t['title']} {t['share']:.0%}"
                                     for t in g["themes"][:3]) or "–"}
            for g in groups]
    render.records(out, rows, ("who", "source", "n", "top themes"), key=("who", "source"))
    out.print()


def print_themes(out: Console, result: Mapping[str, Any]) -> None:
    """The period, then per source its tables of themes and a quote per theme; the groups
    with ``--by``; the legend."""
    if result.get("analysis"):
        out.print(render.cell(_analysis_line(result["analysis"])), style="dim")
    if result["period_start"] is None:
        return
    start = dt.date.fromisoformat(result["period_start"])
    mark = (f" * (not ended on {result['as_of']})" if result["partial"]
            else f" (as of {result['as_of']})")
    out.print(render.cell(f"Themes by {result['period']}: "
                          f"{period_label(result['period'], start)}{mark}"), style="bold")
    out.print()
    for s in result["sources"]:
        out.print(render.cell(_heading(s)), style="bold")
        if not s["themes"]:
            out.print(render.cell("No text in any theme."))
        render.records(out, [_row(t) for t in s["themes"]], COLUMNS, key=("theme",))
        for t in s["themes"]:
            for q in [q for q in t.get("quotes", []) if len(q["text"].split()) > 3][:1]:
                out.print(render.cell(f"  {t['title']}: “{q['text']}”"), style="dim")
        out.print()
    if result["groups"]:
        _print_groups(out, result["by"], result["groups"])
    out.print(render.cell(LEGEND), style="dim")
