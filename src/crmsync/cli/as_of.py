"""``--as-of`` of ``crmsync metrics compute`` and ``show``, and ``crmsync metrics snapshot``
(docs/as-of.md): parse the instant, call the API, print."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from crmsync import api
from crmsync.cli.progress import meter, mode_for
from crmsync.cli.state import State, emit_json, say
from crmsync.metrics.snapshots import parse_as_of

__all__ = ["as_of_option", "instant", "compute_as_of", "snapshot"]

F = TypeVar("F", bound=Callable[..., Any])


def as_of_option(help_text: str) -> Callable[[F], F]:
    """The ``--as-of DATE`` option."""
    return click.option("--as-of", "as_of", metavar="DATE", help=help_text)


def instant(state: State, text: str) -> dt.datetime:
    """``--as-of``'s instant (naive UTC): a date is the end of that day in ``[metrics]
    timezone``."""
    return parse_as_of(text, state.config.metrics.timezone)


def _shown(at: dt.datetime) -> str:
    return at.isoformat(sep=" ", timespec="seconds") + " UTC"


def compute_as_of(state: State, at: dt.datetime, names: Sequence[str], period: str | None,
                  dimensions: Sequence[str], pipelines: Sequence[str],
                  deal_types: Sequence[str], as_json: bool,
                  progress: Callable[[Any], Callable[[int, int], None]]) -> None:
    """``metrics compute --as-of``: the values go to ``metric_snapshots``."""
    standard = not (names or dimensions or pipelines or deal_types)
    if not as_json:
        say(f"computing {'every metric' if standard else 'metrics'} as of {_shown(at)} "
            "(rebuilt from history; current values are kept)…")
    with meter(mode_for(as_json)) as m:
        if standard:
            results = api.compute_standard_as_of(state.config, state.registry, at,
                                                 period=period, progress=progress(m))
        else:
            results = [api.compute_as_of(state.config, state.registry, at, names,
                                         period=period, dimensions=(None, *dimensions),
                                         pipelines=pipelines, deal_types=deal_types,
                                         keep_values=False, progress=progress(m))]
    stored = sum(r.stored for r in results)
    skipped = [s for r in results for s in r.skipped]
    if as_json:
        emit_json({"as_of": at.isoformat(), "run_ids": [r.run_id for r in results],
                   "values": stored, "skipped": skipped})
        return
    click.echo(f"computed {stored:,} values as of {_shown(at)} (metric_snapshots)")
    for s in skipped:
        click.echo(f"skipped {s}")


def snapshot(state: State, at: dt.datetime | None, backfill: str | None,
             names: Sequence[str], period: str | None, as_json: bool) -> None:
    """``metrics snapshot``: the headline KPIs as of now, ``--as-of`` or each past week."""
    if not as_json:
        say("recording snapshots of the headline KPIs"
            + (f" for the last {backfill[:-1]} weeks" if backfill else "") + "…")
    result = api.record_snapshots(state.config, state.registry, at=at, backfill=backfill,
                                  metrics=names, period=period)
    if as_json:
        emit_json({"snapshots": [{"as_of": a.isoformat(), "values": n}
                                 for a, n in result.instants], "skipped": result.skipped})
        return
    for a, n in result.instants:
        click.echo(f"  as of {_shown(a)}: {n:,} values")
    for s in result.skipped:
        click.echo(f"skipped {s}")
