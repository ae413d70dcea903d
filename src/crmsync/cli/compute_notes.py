"""What ``crmsync metrics compute`` says after its table: the organisation's anomalies of the
latest period and the records left out of money metrics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import click

from crmsync import api
from crmsync.cli import render
from crmsync.cli.state import State
from crmsync.core.formatting import period_label

__all__ = ["print_anomalies", "warn_findings"]


def print_anomalies(state: State, period: str) -> None:
    """The organisation's anomalies of the latest period judged (docs/trends.md)."""
    rows = api.metric_trends(state.config, state.registry, period=period, anomalies=True)
    if not rows:
        return
    latest = max(r["period_start"] for r in rows)
    titles = [r["title"] for r in rows if r["period_start"] == latest]
    label = period_label(period, dt.date.fromisoformat(latest))
    render.console().print(render.cell(
        f"anomalies in {label} (outside the trailing-4 band): {', '.join(titles)} — "
        "crmsync metrics trends --anomalies"))


def warn_findings(findings: Sequence[Any]) -> None:
    """Records left out of money metrics, as warnings on standard error (the first 20)."""
    for f in findings[:20]:
        click.echo(f"warning: {f}", err=True)
    if len(findings) > 20:
        click.echo(f"warning: … and {len(findings) - 20} more records left out of money "
                   "metrics (see --json)", err=True)
