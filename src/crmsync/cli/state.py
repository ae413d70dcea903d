"""Shared pieces of the CLI: per-invocation state, JSON output, progress bars, user errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from crmsync import api
from crmsync.cli import render
from crmsync.core import logs
from crmsync.core.config import Config
from crmsync.core.errors import CrmsyncError
from crmsync.core.reports import LOCKED, STOPPED_QUOTA, RunReport
from crmsync.plugin.registry import Registry

__all__ = ["UserError", "CrmsyncGroup", "State", "pass_state", "emit_json", "progress_bar",
           "EXIT_QUOTA", "EXIT_LOCKED", "EXIT_PARTIAL", "sync_exit_code"]

#: Exit code of a sync the API quota budget stopped cleanly (docs/cli.md, "Exit codes").
EXIT_QUOTA = 3
#: Exit code of a sync that found a target locked by another process (docs/cli.md).
EXIT_LOCKED = 4
#: Exit code of a partial failure: some connections failed while others synced or passed
#: their check (docs/cli.md, "Exit codes and errors").
EXIT_PARTIAL = 5


def sync_exit_code(report: RunReport) -> int:
    """The exit code of a sync's report (docs/cli.md): 0 success, 5 partial failure, 2 when
    only configuration errors failed it, 1 any other failure, 4 locked, 3 quota stop."""
    if report.ok:
        return 0
    if report.partial:
        return EXIT_PARTIAL
    if report.status == LOCKED:
        return EXIT_LOCKED
    if report.stopped_on_quota:
        return EXIT_QUOTA
    failed = {d.connection for d in report.details
              if d.status not in ("success", STOPPED_QUOTA, LOCKED)}
    errors = report.connection_errors
    if errors and failed <= set(errors) and all(
            getattr(e, "exit_code", 1) == 2 for e in errors.values()):
        return 2
    return 1


class UserError(click.ClickException):
    """A :class:`CrmsyncError` shown as one line."""

    def __init__(self, exc: CrmsyncError) -> None:
        # every secret known to the process (crmsync.api.redactor_for registers them) is hidden
        super().__init__(logs.redact(str(exc)))
        self.exit_code = exc.exit_code

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", err=True)


class CrmsyncGroup(click.Group):
    """Turns user errors into one-line messages."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CrmsyncError as exc:
            raise UserError(exc) from None


class State:
    """Per-invocation state: the config path and a lazily built registry and config."""

    def __init__(self, config_path: str | None, registry: Registry | None) -> None:
        self.config_path = config_path
        self._registry = registry
        self._config: Config | None = None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = Registry()
        return self._registry

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = api.load_config(self.config_path)
        return self._config


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Any]:
    """A rich progress display (stderr) with one line per connection/entity."""
    if not enabled:
        yield None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"),
               TextColumn("{task.completed:>10,} rows"), TimeElapsedColumn())
    with Progress(*columns, console=render.console(stderr=True), transient=False) as bar:
        tasks: dict[tuple[str, str], Any] = {}

        def update(connection: str, entity: str, rows: int) -> None:
            key = (connection, entity)
            if key not in tasks:
                tasks[key] = bar.add_task(f"{connection}/{entity}", total=None)
            bar.update(tasks[key], completed=rows)

        yield update


pass_state = click.make_pass_decorator(State)
