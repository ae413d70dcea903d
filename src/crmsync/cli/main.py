"""The ``crmsync`` command line: a thin click layer over :mod:`crmsync.api`.

User errors (:class:`~crmsync.CrmsyncError`) print one line and exit non-zero; anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence

import click

from crmsync import api
from crmsync.cli import render
from crmsync.cli.dashboard import dashboard, report
from crmsync.cli.metrics import demo, metrics
from crmsync.cli.state import (
    EXIT_PARTIAL,
    CrmsyncGroup,
    State,
    emit_json,
    pass_state,
    progress_bar,
    sync_exit_code,
)
from crmsync.cli.writeback import print_status as print_writeback_status
from crmsync.cli.writeback import run, writeback
from crmsync.core import logs
from crmsync.core.reports import LOCKED, STOPPED_QUOTA, RunReport
from crmsync.plugin.registry import Registry

__all__ = ["cli", "main"]


@click.group(cls=CrmsyncGroup)
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              envvar="CRMSYNC_CONFIG", help="crmsync.toml to use (default: ./crmsync.toml).")
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.option("--log-format", type=click.Choice(logs.FORMATS), default="human",
              envvar="CRMSYNC_LOG_FORMAT", show_default=True,
              help="Log lines for people, or one JSON object per line for machines.")
@click.version_option(package_name="crmsync")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int, log_format: str) -> None:
    """Sync CRMs into one schema, compute sales KPIs, write them back."""
    logs.configure(log_format, logging.WARNING - 10 * min(verbose, 2))
    registry = ctx.obj if isinstance(ctx.obj, Registry) else None
    ctx.obj = State(config_path, registry)


@cli.command()
@click.argument("path", default="crmsync.toml", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: str, force: bool) -> None:
    """Write a commented starter crmsync.toml."""
    written = api.init_config(path, force=force)
    click.echo(f"wrote {written}; edit it, then run: crmsync check && crmsync sync")


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def check(state: State, names: Sequence[str], as_json: bool) -> None:
    """Probe each connection's credentials and permissions."""
    results = api.check(state.config, state.registry, names)
    if as_json:
        emit_json([r.as_dict() for r in results])
    else:
        for r in results:
            click.echo(f"{'ok ' if r.ok else 'FAIL'} {r.connection} ({r.type}): {r.message}")
    if not all(r.ok for r in results):
        sys.exit(EXIT_PARTIAL if any(r.ok for r in results) else 1)


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--entity", "entities", multiple=True, help="Only these entities (repeatable).")
@click.option("--full", is_flag=True, help="Ignore saved cursors and read everything.")
@click.option("--wait", type=click.FloatRange(min=0), default=0, show_default=True,
              is_flag=False, flag_value=float("inf"), metavar="[SECONDS]",
              help="Seconds to wait for a connection or entity another process is syncing "
                   "(run lock); --wait alone waits until it is free.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def sync(state: State, names: Sequence[str], entities: Sequence[str], full: bool, wait: float,
         as_json: bool) -> None:
    """Sync connections (default: all) into the store."""
    show_bar = not as_json and sys.stderr.isatty()
    with progress_bar(show_bar) as progress:
        report = api.sync(state.config, state.registry, names, entities=entities, full=full,
                          progress=progress, wait=wait)
    if as_json:
        emit_json(report.as_dict())
    elif _stopped_alone(report):
        click.echo(f"error: {report.error}", err=True)
    else:
        cols = ("connection", "entity", "status", "rows_read", "rows_upserted", "rows_deleted",
                "rejects", "api_calls")
        render.console().print(render.rows_table([d.as_dict() for d in report.details], cols))
        if any(d.rejects for d in report.details):
            click.echo("some records were rejected: see `crmsync status` (table sync_rejects)")
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
    code = sync_exit_code(report)
    if code:
        sys.exit(code)


def _stopped_alone(report: RunReport) -> bool:
    """True when the sync was of one connection that its configuration or authentication
    error stopped before any entity synced: its error is the whole story, one line."""
    return (bool(report.connection_errors) and len({d.connection for d in report.details}) == 1
            and not any(d.status in ("success", STOPPED_QUOTA) for d in report.details))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def status(state: State, as_json: bool) -> None:
    """Latest runs, cursors and rejects."""
    data = api.status(state.config, registry=state.registry)
    if as_json:
        emit_json(data)
        return
    out = render.console()
    runs = [dict(r, cursor=json.dumps(r["cursor"])[:40] if r.get("cursor") else "")
            for r in data["runs"]]
    out.print(render.rows_table(runs, ("connection", "entity", "status", "started_at",
                                       "duration_s", "rows_upserted", "rejects", "api_calls",
                                       "error", "next_scheduled", "cursor"),
                                title=f"store: {data['store']}"))
    if data["jobs"]:
        out.print(render.rows_table(data["jobs"], ("name", "task", "cron", "timezone",
                                                   "last_run", "next_run"),
                                    title="scheduled jobs"))
    if data["recent_rejects"]:
        out.print(render.rows_table(data["recent_rejects"],
                                    ("connection", "entity", "remote_id", "source", "field",
                                     "reason"), title="recent rejects"))
    print_writeback_status(out, data["writeback"])


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def plugins(state: State, as_json: bool) -> None:
    """Installed plugins: where they come from, version, what they register."""
    infos = state.registry.plugins()
    if as_json:
        emit_json([i.as_dict() for i in infos])
        return
    rows = [dict(i.as_dict(), registers=", ".join(i.connectors + i.metrics),
                 version=i.version or "", reason=i.reason or "") for i in infos]
    render.console().print(render.rows_table(rows, ("name", "status", "distribution",
                                                    "version", "registers", "reason")))


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv",
              show_default=True)
@click.option("--connection", help="Export only this connection's records.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def export(state: State, directory: str, fmt: str, connection: str | None,
           as_json: bool) -> None:
    """Write the store as CSV/JSONL files (readable by the files connector)."""
    counts = api.export(state.config, directory, fmt, connection=connection)
    if as_json:
        emit_json({"directory": directory, "format": fmt, "rows": counts})
        return
    total = sum(counts.values())
    click.echo(f"exported {total:,} rows in {len(counts)} tables to {directory}")


@cli.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def config_show(state: State, as_json: bool) -> None:
    """Print the effective configuration, secrets redacted."""
    data = api.show_config(state.config, state.registry)
    if as_json:
        emit_json(data)
        return
    click.echo(f"# file: {data['file'] or '(none: defaults)'}")
    click.echo(f"[store]\nurl = {json.dumps(data['store']['url'])}")
    for name, settings in data["connections"].items():
        click.echo(f"\n[connections.{name}]")
        for k, v in settings.items():
            click.echo(f"{k} = {json.dumps(v)}")
    click.echo("\n[metrics]")
    for k, v in data["metrics"].items():
        click.echo(f"{k} = {json.dumps(v)}")


@cli.group()
def db() -> None:
    """Store maintenance."""


@db.command("upgrade")
@pass_state
def db_upgrade(state: State) -> None:
    """Apply pending schema migrations."""
    applied = api.upgrade(state.config)
    click.echo(f"applied {', '.join(applied)}" if applied else "store is up to date")



@cli.command()
@click.option("--poll", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              help="Longest sleep between two checks for due jobs, in seconds.")
@pass_state
def scheduler(state: State, poll: float) -> None:
    """Run the [schedule] jobs when due until SIGTERM/SIGINT."""
    code = api.serve_schedule(state.config, state.registry, poll=poll)
    sys.exit(code)


@cli.command()
@click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes (each runs one task at a time).")
@click.option("--beat", is_flag=True, help="Also run Celery beat with the [schedule] jobs "
              "(run it in exactly one worker).")
@click.option("--queue", "queues", multiple=True,
              help="Queues to read (default: [celery] queue).")
@click.option("--hostname", help="The worker's node name (default: celery@HOST).")
@click.option("--loglevel", default="INFO", show_default=True, help="Celery's log level.")
@pass_state
def worker(state: State, concurrency: int, beat: bool, queues: Sequence[str],
           hostname: str | None, loglevel: str) -> None:
    """Start a Celery worker for sync, compute and write-back tasks (crmsync[celery])."""
    from crmsync.orchestration.distributed.app import start_worker

    start_worker(state.config, state.registry, concurrency=concurrency, beat=beat,
                 queues=queues, hostname=hostname, loglevel=loglevel)


cli.add_command(metrics)
cli.add_command(demo)
cli.add_command(dashboard)
cli.add_command(report)
cli.add_command(writeback)
cli.add_command(run)


def _configure_logging() -> None:
    logs.configure("human", logging.WARNING)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: load plugins, let them add commands, run."""
    _configure_logging()
    registry = Registry()
    registry.register_commands(cli)
    cli.main(args=list(argv) if argv is not None else None, prog_name="crmsync", obj=registry)



