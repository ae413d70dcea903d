"""The human output of ``crmsync sync``, and of the runs and missing inputs in ``crmsync status``
(docs/cli.md)."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import click
from rich.console import Console

from crmsync.cli import render
from crmsync.core.config import Config
from crmsync.core.errors import CrmsyncError
from crmsync.core.reports import LOCKED, STOPPED_QUOTA, RunReport
from crmsync.plugin.registry import Registry

__all__ = ["sync_entities", "print_sync", "stopped_alone", "print_runs", "print_missing_inputs"]

#: ``sync`` result columns and their short headers.
_SYNC_HEADERS = {"connection": "conn", "rows_read": "read", "rows_upserted": "upserts",
                 "rows_deleted": "deletes", "rejects": "rej", "api_calls": "calls"}


def sync_entities(config: Config, registry: Registry, names: Sequence[str],
                   entities: Sequence[str]) -> list[tuple[str, str]]:
    """The (connection, entity) pairs a sync will go through, for its progress total."""
    pairs = []
    for name in names or list(config.connections):
        conn = config.connections.get(name)
        try:
            known = registry.connector(conn.type).ENTITIES if conn is not None else ()
        except CrmsyncError:  # reported by the sync itself
            known = ()
        pairs += [(name, e) for e in (entities or known)]
    return pairs


def print_sync(report: RunReport) -> None:
    """The sync's results per entity, each error under the table, then what went wrong
    (standard error)."""
    out = render.console()
    details = [d.as_dict() for d in report.details]
    render.records(out, details, ("connection", "entity", "status", "rows_read",
                                  "rows_upserted", "rows_deleted", "rejects", "api_calls"),
                   key=("connection", "entity"), headers=_SYNC_HEADERS)
    for d in details:
        if d.get("error"):
            out.print(render.cell(_with_entity(d["connection"], d["entity"], str(d["error"]))))
    if any(d.rejects for d in report.details):
        click.echo("some records were rejected: see `crmsync status` (table sync_rejects)")
    # one line each, as every error (scripts and log readers match whole lines)
    if report.status == LOCKED:
        click.echo(f"locked: {report.error}", err=True)
    elif report.stopped_on_quota:
        click.echo(f"stopped on the API quota (state kept; the next sync resumes): "
                   f"{report.error}", err=True)
    elif report.partial:
        click.echo(f"partial failure (the other connections synced): {report.error}",
                   err=True)
    elif report.error:
        click.echo(f"error: {report.error}", err=True)


def stopped_alone(report: RunReport) -> bool:
    """True when the sync was of one connection that its configuration or authentication
    error stopped before any entity synced: its error is the whole story, one line."""
    return (bool(report.connection_errors) and len({d.connection for d in report.details}) == 1
            and not any(d.status in ("success", STOPPED_QUOTA) for d in report.details))


#: ``status`` run columns and their short headers.
_RUN_HEADERS = {"started": "started (UTC)", "secs": "secs", "rows_upserted": "upserts",
                "rejects": "rej", "api_calls": "calls"}


def _with_entity(connection: str, entity: str, error: str) -> str:
    """``connection/entity: error``, unless the error already starts so."""
    where = f"{connection}/{entity}: "
    return error if error.startswith(where) else where + error


def print_runs(out: Console, runs: Sequence[dict[str, Any]]) -> None:
    """The latest run per entity, one section per connection; errors, the next scheduled
    run and the cursor under the table (the cursor in full with ``--json``)."""
    for connection in dict.fromkeys(r["connection"] for r in runs):
        mine = [dict(r, started=(r.get("started_at") or "")[:16].replace("T", " "),
                     secs=None if r.get("duration_s") is None else f"{r['duration_s']:.1f}")
                for r in runs if r["connection"] == connection]
        render.records(out, mine, ("entity", "status", "started", "secs",
                                   "rows_upserted", "rejects", "api_calls"),
                       title=f"connection {connection}", key=("entity",),
                       headers=_RUN_HEADERS)
        notes = [_with_entity(connection, r["entity"], str(r["error"]))
                 for r in mine if r.get("error")]
        nexts = {r["next_scheduled"] for r in mine if r.get("next_scheduled")}
        if nexts:
            notes.append(f"next scheduled sync: {min(nexts)}")
        for note in notes:
            out.print(render.cell(note))


def _or(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def print_missing_inputs(out: Console, missing: Sequence[Mapping[str, Any]]) -> None:
    """Each input table without rows: where it could come from, the KPIs it leaves empty
    (wrapped to the console, at most 80 columns)."""
    if not missing:
        return
    width = min(out.width, 80)
    out.print(render.cell("missing inputs (their KPIs show no value):"))
    for m in missing:
        where = _or(list(m["sources"])) if m["sources"] else "no installed connector reads it"
        lines = textwrap.wrap(f"{m['input']}: none synced — {where}", width,
                              subsequent_indent="    ", break_long_words=False,
                              break_on_hyphens=False)
        lines += textwrap.wrap(f"empty KPIs: {', '.join(m['metrics'])}", width,
                               initial_indent="  ", subsequent_indent="    ",
                               break_long_words=False, break_on_hyphens=False)
        for line in lines:
            out.print(render.cell(line), soft_wrap=True)
