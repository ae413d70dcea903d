"""``crmsync writeback plan|apply``, ``crmsync run`` and the write-back part of ``status``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from crmsync import api
from crmsync.cli import render
from crmsync.cli.state import Finished, QuotaStopped, State, emit_json, finish, pass_state
from crmsync.core.reports import RunReport
from crmsync.writeback.plan import SKIP_REASONS, WritebackPlan, mapping_period

__all__ = ["writeback", "run", "print_plan", "print_status"]

def _skipped(counts: dict[str, int]) -> str:
    return ", ".join(f"{reason} {n:,}" for reason, n in sorted(counts.items())) or "–"


def _value(v: Any) -> str:
    return "empty" if v is None or v == "" else json.dumps(v, default=str)


def print_plan(out: Console, plan: WritebackPlan) -> None:
    """The plan, mapping by mapping: target field, field to create, counts, sample changes."""
    if not plan.mappings:
        out.print("no [[writeback]] mappings configured (see docs/writeback.md)", markup=False)
        return
    lines = [(f"write-back plan: {plan.updates:,} value(s) to send, "
              f"{len(plan.fields_to_create)} field(s) to create")]
    for p in plan.mappings:
        lines += _mapping_lines(p.as_dict(), mapping_period(p.mapping))
    lines += _plan_footer(plan)
    out.print(render.cell("\n".join(lines)))


def _mapping_lines(d: dict[str, Any], period: str) -> list[str]:
    """One mapping of the plan: its field, its counts and sample changes."""
    create = " (to create)" if d["create_field"] else ""
    lines = [f"\n#{d['mapping']} {d['metric']} → {d['connection']}/{d['object']}.{d['field']}",
             f"   {d['type']} field{create} · overwrite {d['overwrite']} · nulls {d['nulls']}"]
    if not d["computed"]:
        lines.append(f"   no computed values of {d['metric']} for {d['connection']} "
                     f"(period {period}): run `crmsync metrics compute` first")
    retries = f" ({d['retries']:,} retries)" if d["retries"] else ""
    lines.append(f"   update {d['update']:,}{retries} · unchanged {d['unchanged']:,} · "
                 f"skipped {_skipped(d['skipped'])}")
    lines += [f"     {c['record']}  {_value(c['old'])} → {_value(c['new'])}"
              for c in d["sample"]]
    if d["update"] > len(d["sample"]):
        lines.append(f"     … and {d['update'] - len(d['sample']):,} more")
    return lines


def _plan_footer(plan: WritebackPlan) -> list[str]:
    """What the skip reasons mean, and what to do when there is nothing to send."""
    lines = []
    seen = sorted({r for p in plan.mappings for r in p.skipped})
    if seen:
        lines.append("\nskipped: " + "; ".join(f"{r}: {SKIP_REASONS[r]}" for r in seen
                                               if r in SKIP_REASONS))
    missing = [p for p in plan.mappings if not p.computed]
    if missing:
        lines.append(f"{len(missing)} mapping(s) without computed values: run `crmsync metrics "
                     "compute` (it computes every metric [[writeback]] maps), then plan again")
    elif plan.empty:
        lines.append("nothing to write")
    return lines


def _print_report(out: Console, report: RunReport) -> None:
    lines = [f"write-back: {report.status}"]
    calls: dict[str, int] = {}
    for d in report.details:
        created = "field created · " if d.get("created") else ""
        lines.append(f"#{d['mapping']} {d['connection']}/{d['object']}.{d['field']}")
        lines.append(f"   {created}sent {d['sent']:,} · unchanged {d['unchanged']:,} · "
                     f"failed {d['failed']:,} · parked {d['parked']:,} · "
                     f"missing {d['missing']:,} · skipped {_skipped(d.get('skipped', {}))}")
        for code, n in d.get("errors", {}).items():
            lines.append(f"   {n:,} × {code}")
        calls[d["connection"]] = d.get("write_calls", 0)
    if calls:
        lines.append("API calls while writing: " + ", ".join(f"{c} {n:,}"
                                                          for c, n in calls.items()))
    out.print(render.cell("\n".join(lines)))
    if report.error:
        click.echo(f"error: {report.error}", err=True)


class _Bars:
    """Progress bars on stderr (sync rows, then values sent per connection/object), shown
    from the first update and paused while the plan is printed and confirmed."""

    def __init__(self, enabled: bool) -> None:
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                            MofNCompleteColumn(), TimeRemainingColumn(), TimeElapsedColumn(),
                            console=render.console(stderr=True)) if enabled else None
        self.tasks: dict[str, Any] = {}
        self.live = False

    def _task(self, label: str, total: int | None) -> Any:
        assert self.bar is not None
        if not self.live:
            self.bar.start()
            self.live = True
        if label not in self.tasks:
            self.tasks[label] = self.bar.add_task(label, total=total)
        return self.tasks[label]

    def sync(self, connection: str, entity: str, rows: int) -> None:
        """``crmsync.sync.engine.ProgressCallback``."""
        if self.bar is not None:
            self.bar.update(self._task(f"sync {connection}/{entity}", None), completed=rows)

    def send(self, label: str, done: int, total: int) -> None:
        """``crmsync.writeback.apply.ProgressCallback``."""
        if self.bar is not None:
            self.bar.update(self._task(f"write {label}", total), completed=done)

    def pause(self) -> None:
        """Stop drawing (before printing or asking something)."""
        if self.bar is not None and self.live:
            self.bar.stop()
            self.live = False


@contextmanager
def _bars(enabled: bool) -> Iterator[_Bars]:
    bars = _Bars(enabled)
    try:
        yield bars
    finally:
        bars.pause()


def _confirmer(out: Console, bars: _Bars, yes: bool, quiet: bool
               ) -> Callable[[WritebackPlan], bool]:
    def confirm(plan: WritebackPlan) -> bool:
        bars.pause()
        if not quiet:
            print_plan(out, plan)
        if plan.empty or yes:
            return True
        return click.confirm("Apply this plan?", default=False, err=True)

    return confirm


def _exit(report: RunReport) -> None:
    if report.stopped_on_quota:
        raise Finished(QuotaStopped)
    if report.status not in ("success", "cancelled"):
        raise Finished(Exception)


@click.group()
def writeback() -> None:
    """Write computed KPIs into CRM custom fields."""


@writeback.command("plan")
@click.option("--connection", "connections", multiple=True,
              help="Only mappings of this connection (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def writeback_plan(state: State, connections: tuple[str, ...], as_json: bool) -> None:
    """Show the fields to create and the values that would change; write nothing."""
    plan = api.writeback_plan(state.config, state.registry, connections=connections)
    if as_json:
        emit_json(plan.as_dict())
    else:
        print_plan(render.console(), plan)


@writeback.command("apply")
@click.option("--connection", "connections", multiple=True,
              help="Only mappings of this connection (repeatable).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def writeback_apply(state: State, connections: tuple[str, ...], yes: bool,
                    as_json: bool) -> None:
    """Create fields and send the values that changed since the last apply."""
    out = render.console()
    with _bars(not as_json and sys.stderr.isatty()) as bars:
        report = api.writeback_apply(state.config, state.registry, connections=connections,
                                     confirm=_confirmer(out, bars, yes, as_json),
                                     progress=bars.send)
    if as_json:
        emit_json(report.as_dict())
    elif report.status == "cancelled":
        click.echo("cancelled: nothing written", err=True)
    else:
        _print_report(out, report)
    _exit(report)


@click.command()
@click.option("--dry-run", is_flag=True, help="Sync and compute, then only show the "
                                              "write-back plan.")
@click.option("--yes", is_flag=True, help="Do not ask before writing back.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def run(state: State, dry_run: bool, yes: bool, as_json: bool) -> None:
    """Sync every connection, compute the KPIs, then write them back."""
    out = render.console()
    with _bars(not as_json and sys.stderr.isatty()) as bars:
        result = api.run(state.config, state.registry, dry_run=dry_run,
                         sync_progress=bars.sync, progress=bars.send,
                         confirm=_confirmer(out, bars, yes, as_json))
    if as_json:
        emit_json({"sync": result.sync.as_dict(), "computed": result.computed,
                   "plan": result.plan.as_dict() if result.plan else None,
                   "writeback": result.writeback.as_dict() if result.writeback else None,
                   "skipped_connections": result.skipped_connections})
    else:
        read = sum(d.rows_read for d in result.sync.details)
        written = sum(d.rows_upserted for d in result.sync.details)
        out.print(f"synced {read:,} records, {written:,} new or changed "
                  f"({result.sync.status}); computed {result.computed:,} metric values")
        if result.sync.error:
            click.echo(f"sync error: {result.sync.error}", err=True)
        for name in result.skipped_connections:
            click.echo(f"write-back skipped for {name}: its sync failed", err=True)
        if result.plan is not None:
            print_plan(out, result.plan)
        if result.writeback is not None and result.writeback.status != "cancelled":
            _print_report(out, result.writeback)
    if not result.sync.ok and not result.sync.partial:
        finish(result.sync)
    if result.writeback is not None:
        _exit(result.writeback)
    finish(result.sync)  # partial: the connections that synced were computed, written back


def print_status(out: Console, data: dict[str, Any]) -> None:
    """The write-back section of ``crmsync status``."""
    if not data["fields"]:
        return
    render.records(out, data["fields"], ("connection", "object", "field", "metric", "sent",
                                         "pending", "parked", "missing", "last_sent_at",
                                         "last_attempt_at"),
                   title=f"write-back (last apply {data['last_apply']})",
                   key=("connection", "object", "field"))
    if data["failures"]:
        render.records(out, data["failures"], ("connection", "object", "field", "remote_id",
                                               "status", "attempts", "error_code", "error",
                                               "next_attempt_at"),
                       title="write-back failures", key=("connection", "object", "remote_id"))
