"""``crmsync pipeline``: what changed in the open pipeline (docs/cli.md,
docs/pipeline-changes.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import click
from rich.console import Console

from crmsync import api
from crmsync.cli import render
from crmsync.cli.state import State, emit_json, pass_state, say
from crmsync.metrics.pipeline_changes import CATEGORIES
from crmsync.orchestration.pipeline_changes import default_dates

__all__ = ["pipeline", "print_changes", "COLUMNS"]

#: The columns of a report's table.
COLUMNS = ("change", "n", "amount")
#: Deals listed per category (``--deals``); the rest are counted.
LISTED = 20
_DAY = click.DateTime(formats=["%Y-%m-%d"])


@click.group()
def pipeline() -> None:
    """The open pipeline over time."""


@pipeline.command("changes")
@click.option("--from", "date_from", type=_DAY,
              help="First day of the period (default: 6 days before --to).")
@click.option("--to", "date_to", type=_DAY, help="Last day of the period (default: today).")
@click.option("--window", default="quarter", show_default=True,
              help="Target close dates: quarter, month or year (the fiscal one containing "
                   "--from), all, or FIRST..LAST.")
@click.option("--by", type=click.Choice(["team", "owner"]), help="One report per group.")
@click.option("--deals", "list_deals", is_flag=True,
              help=f"List the deals behind each change (the {LISTED} largest per change).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def changes(state: State, date_from: dt.datetime | None, date_to: dt.datetime | None,
            window: str, by: str | None, list_deals: bool, as_json: bool) -> None:
    """Open pipeline at the start, each change (created, pulled in, pushed out, won, lost,
    resized…) and the open pipeline at the end, in deals and base-currency amount."""
    cfg = state.config
    first, last = default_dates(cfg, date_from.date() if date_from else None,
                                date_to.date() if date_to else None)
    if not as_json:
        say(f"rebuilding the pipeline as of {first} and {last + dt.timedelta(days=1)}…")
    result = api.pipeline_changes(cfg, date_from=first, date_to=last, window=window, by=by,
                                  deals=list_deals)
    if as_json:
        emit_json(result)
    else:
        print_changes(render.console(), result, list_deals)


def _signed(value: float, fmt: str, signed: bool) -> str:
    return format(value, ("+" if signed and value else "") + fmt)


def _rows(lines: Sequence[Mapping[str, Any]], by: str | None) -> list[dict[str, str]]:
    rows = []
    for line in lines:
        key = line["category"]
        if by is None and key in ("moved_in", "moved_out"):
            continue
        label = {"start": "start: open pipeline", "end": "= end: open pipeline"}.get(
            key, line["label"])
        ends = key in ("start", "end")
        n = line["deals"] if ends or key == "amount_change" else line["count"]
        rows.append({"change": label,
                     "n": _signed(n, ",d", not ends and key != "amount_change"),
                     "amount": _signed(line["amount"], ",.2f", not ends)})
    return rows


def _table(out: Console, rows: Sequence[Mapping[str, str]], title: str | None) -> None:
    """The lines with the figures right-aligned (stacked when too narrow)."""
    grid = render.table(title)
    for c in COLUMNS:
        grid.add_column(render.cell(c), no_wrap=True,
                        justify="left" if c == "change" else "right")
    for r in rows:
        grid.add_row(*(render.cell(r[c]) for c in COLUMNS))
    if render.fits(grid, out):
        out.print(grid)
    else:
        render.records(out, rows, COLUMNS, title=title, key=("change",))


def _deal_line(d: Mapping[str, Any], category: str) -> str:
    amount = d["amount_start"] if category in ("created", "pulled_in", "reopened",
                                               "moved_in", "moved_out") else d["amount_end"]
    if category == "amount_change":
        text = f"{d['amount_start']:,.2f} → {d['amount_end']:,.2f}"
    else:
        text = f"{amount:,.2f}"
    owner = d["owner_at_start"] if category == "moved_out" else d["owner"]
    pushes = f" · pushed {d['pushes']}× (+{d['push_days']} d)" if d["pushes"] else ""
    return f"{d['name']} · {owner or '(no owner)'} · {text}{pushes}"


def _print_deals(out: Console, deals: Sequence[Mapping[str, Any]], by: str | None) -> None:
    for category, label, _ in CATEGORIES:
        if by is None and category in ("moved_in", "moved_out"):
            continue
        those = [d for d in deals if category in d["categories"]]
        if not those:
            continue
        those.sort(key=lambda d: -max(d["amount_start"], d["amount_end"]))
        out.print(render.cell(f"{label} ({len(those)} deal{'s' if len(those) > 1 else ''})"),
                  style="bold")
        for d in those[:LISTED]:
            out.print(render.cell(f"  {_deal_line(d, category)}"))
        if len(those) > LISTED:
            out.print(render.cell(f"  and {len(those) - LISTED} more (--json lists all)"),
                      style="dim")


def print_changes(out: Console, result: Mapping[str, Any], list_deals: bool = False) -> None:
    """The heading, one table per group (with ``--by``) and the total, then the deals."""
    w = result["window"]
    out.print(render.cell(f"Pipeline changes {result['from']} – {result['to']} "
                          f"({result['timezone']})"), style="bold")
    out.print(render.cell(f"deals closing: {w['label']} · amounts in {result['currency']} "
                          "(the CRM's base amount, else the latest rate)"))
    by = result["by"]
    for group in result["groups"]:
        out.print()
        _table(out, _rows(group["lines"], by), f"{by} {group['name']}")
    out.print()
    _table(out, _rows(result["total"], by), "all deals" if by else None)
    notes = ["n: deals (signed: how each change moves the count)"]
    if result["unpriced"]:
        notes.append(f"{result['unpriced']} deals have no rate for their currency "
                     "(counted at 0)")
    out.print(render.cell(" · ".join(notes)), style="dim")
    if list_deals:
        out.print()
        _print_deals(out, result.get("deals", []), by)
