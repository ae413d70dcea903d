"""The ``crmsync`` command line: a thin click layer over :mod:`crmsync.api`.

User errors (:class:`~crmsync.CrmsyncError`) print one line and exit non-zero; anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any

import click
import tomli_w

from crmsync import api
from crmsync.cli import render
from crmsync.cli.coach import coach
from crmsync.cli.dashboard import dashboard, report
from crmsync.cli.forecast import forecast
from crmsync.cli.metrics import demo, metrics
from crmsync.cli.names import check_connections
from crmsync.cli.new import new
from crmsync.cli.pipeline import pipeline
from crmsync.cli.progress import meter, mode_for, sync_progress
from crmsync.cli.scorecard import scorecard
from crmsync.cli.state import (
    ExitCode,
    Finished,
    Partial,
    QuotaStopped,
    State,
    emit_json,
    finish,
    pass_state,
    say,
)
from crmsync.cli.syncing import (
    print_missing_inputs,
    print_runs,
    print_sync,
    stopped_alone,
    sync_entities,
)
from crmsync.cli.themes import themes
from crmsync.cli.trends import metrics_trends, metrics_why  # noqa: F401 - registers commands
from crmsync.cli.writeback import print_status as print_writeback_status
from crmsync.cli.writeback import run, writeback
from crmsync.core import logs
from crmsync.core.errors import (
    ConfigError,
    ConnectorError,
    CrmsyncError,
    QuotaExhausted,
    StoreError,
)
from crmsync.plugin.registry import Registry
from crmsync.store.locks import RunLocked

__all__ = ["cli", "main", "EXIT_CODES", "exit_code"]

#: Which error (or outcome kind, :mod:`crmsync.cli.state`) exits with which code: the one
#: place every command's exit code comes from (docs/cli.md, "Exit codes and errors"). The
#: first class an error is an instance of wins. click's usage errors (bad options, unknown
#: names: :class:`crmsync.cli.names.UnknownName`) exit 2 on their own.
EXIT_CODES: tuple[tuple[type[BaseException], ExitCode], ...] = (
    (click.UsageError, ExitCode.USAGE),
    (ConfigError, ExitCode.USAGE),
    (QuotaStopped, ExitCode.QUOTA),
    (QuotaExhausted, ExitCode.QUOTA),
    (RunLocked, ExitCode.LOCKED),
    (Partial, ExitCode.PARTIAL),
    (ConnectorError, ExitCode.CRM),
    (StoreError, ExitCode.STORE),
    (BaseException, ExitCode.FAILED),
)


def exit_code(kind: type[BaseException]) -> ExitCode:
    """The exit code of an error or outcome of class ``kind`` (:data:`EXIT_CODES`)."""
    return next(code for cls, code in EXIT_CODES if issubclass(kind, cls))


class CrmsyncGroup(click.Group):
    """A user error (:class:`CrmsyncError`) is one line on standard error, without a
    traceback; it and every outcome exit with the code :data:`EXIT_CODES` gives."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CrmsyncError as exc:
            # every secret known to the process (crmsync.api.redactor_for registers them)
            # is hidden
            click.echo(f"error: {logs.redact(str(exc))}", err=True)
            raise click.exceptions.Exit(int(exit_code(type(exc)))) from None
        except Finished as done:
            raise click.exceptions.Exit(int(exit_code(done.kind))) from None


@click.group(cls=CrmsyncGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
    click.echo(f"wrote {written}\nadd a connection (or uncomment the demo one), then run:\n"
               "  crmsync check && crmsync sync")


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def check(state: State, names: Sequence[str], as_json: bool) -> None:
    """Probe each connection's credentials and permissions."""
    check_connections(state.config, names)
    results = api.check(state.config, state.registry, names)
    if as_json:
        emit_json([r.as_dict() for r in results])
    else:
        out = render.console()
        for r in results:
            # one line per connection, never wrapped: scripts match whole lines
            out.print(render.cell(f"{'ok  ' if r.ok else 'FAIL'} {r.connection} ({r.type}): "
                                  f"{r.message}"), soft_wrap=True)
    if not all(r.ok for r in results):
        raise Finished(Partial if any(r.ok for r in results) else Exception)


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
    check_connections(state.config, names)
    pairs = sync_entities(state.config, state.registry, names, entities)
    with meter(mode_for(as_json)) as m:
        report = api.sync(state.config, state.registry, names, entities=entities, full=full,
                          progress=sync_progress(m, pairs), wait=wait)
    if as_json:
        emit_json(report.as_dict())
    elif stopped_alone(report):
        click.echo(f"error: {report.error}", err=True)
    else:
        print_sync(report)
    finish(report)


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
    out.print(render.cell(f"store: {data['store']}"))
    print_runs(out, data["runs"])
    if data["jobs"]:
        render.records(out, data["jobs"], ("name", "task", "cron", "timezone", "last_run",
                                           "next_run"), title="scheduled jobs", key=("name",))
    if data["recent_rejects"]:
        render.records(out, data["recent_rejects"],
                       ("connection", "entity", "remote_id", "source", "field", "reason"),
                       title="recent rejects", key=("connection", "entity", "remote_id"),
                       headers={"connection": "conn", "remote_id": "record"})
    print_writeback_status(out, data["writeback"])
    print_missing_inputs(out, data["missing_inputs"])


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def plugins(state: State, as_json: bool) -> None:
    """Installed plugins: where they come from, version, what they register."""
    infos = state.registry.plugins()
    if as_json:
        emit_json([i.as_dict() for i in infos])
        return
    rows = [dict(i.as_dict(), registers=_registers(i.connectors, i.metrics, i.dimensions,
                                                   i.analysers),
                 version=i.version or "", reason=i.reason or "") for i in infos]
    render.records(render.console(), rows, ("name", "status", "distribution", "version",
                                            "registers", "reason"), key=("name",))


def _registers(connectors: Sequence[str], metrics: Sequence[str],
               dimensions: Sequence[str] = (), analysers: Sequence[str] = ()) -> str:
    """What a plugin registers: names, or a count of metrics (of dimensions) past three
    (--json lists them); declared dimensions as ``--by NAME``; text analysers as
    ``analyser NAME``."""
    shown = list(metrics) if len(metrics) <= 3 else [f"{len(metrics)} metrics"]
    by = ([f"--by {d}" for d in dimensions] if len(dimensions) <= 3
          else [f"{len(dimensions)} dimensions"])
    return ", ".join([*connectors, *shown, *by, *(f"analyser {a}" for a in analysers)])


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
    from crmsync.orchestration.export import export_store

    if not as_json:
        say(f"exporting the store to {directory} ({fmt})…")
    store = api.open_store(state.config)
    try:
        with meter(mode_for(as_json)) as m:
            counts = export_store(store.engine, directory, fmt, connection=connection,
                                  progress=lambda table, done, total: m.update(
                                      "export", f"export {table}", done, total, "tables"))
    finally:
        store.dispose()
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
    """Print the effective configuration as TOML (or JSON), secrets redacted."""
    data = api.show_config(state.config, state.registry)
    if as_json:
        emit_json(data)
        return
    click.echo(f"# file: {data['file'] or '(none: defaults)'}")
    click.echo(tomli_w.dumps(_tomlable({k: v for k, v in data.items() if k != "file"})),
               nl=False)


def _tomlable(value: Any) -> Any:
    """``value`` without what TOML cannot hold: ``None`` (left out) and tuples (lists)."""
    if isinstance(value, dict):
        return {str(k): _tomlable(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_tomlable(v) for v in value if v is not None]
    return value


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
    if code:
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
cli.add_command(scorecard)
cli.add_command(coach)
cli.add_command(themes)
cli.add_command(dashboard)
cli.add_command(report)
cli.add_command(writeback)
cli.add_command(run)
cli.add_command(new)
cli.add_command(pipeline)
cli.add_command(forecast)


def _configure_logging() -> None:
    logs.configure("human", logging.WARNING)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: load plugins, let them add commands, run."""
    _configure_logging()
    registry = Registry()
    registry.register_commands(cli)
    cli.main(args=list(argv) if argv is not None else None, prog_name="crmsync", obj=registry)



