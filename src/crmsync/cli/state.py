"""Shared pieces of the CLI: per-invocation state, JSON output, exit codes and outcomes."""

from __future__ import annotations

import enum
import json
from typing import Any

import click

from crmsync import api
from crmsync.core.config import Config
from crmsync.core.errors import ConfigError, ConnectorError
from crmsync.core.reports import LOCKED, STOPPED_QUOTA, RunReport
from crmsync.plugin.registry import Registry
from crmsync.store.locks import RunLocked

__all__ = ["ExitCode", "Finished", "Partial", "QuotaStopped", "State", "pass_state",
           "emit_json", "EXIT_QUOTA", "EXIT_LOCKED", "EXIT_PARTIAL", "report_outcome",
           "finish", "say"]


class ExitCode(enum.IntEnum):
    """The exit codes of every command (docs/cli.md, "Exit codes and errors"); which error
    gets which code is decided in one place, ``crmsync.cli.main.EXIT_CODES``."""

    OK = 0
    #: The work failed (an entity, a check, a value sent), or an error with no more
    #: specific code below; also a bug (with its traceback).
    FAILED = 1
    #: The command line or the configuration must change: a bad option, an unknown name
    #: (connection, metric, rep, team), an invalid crmsync.toml.
    USAGE = 2
    #: A sync stopped cleanly on the API quota budget; the next one resumes.
    QUOTA = 3
    #: Another run holds the connection/entity (run locks).
    LOCKED = 4
    #: Some connections failed while the others synced or passed their check.
    PARTIAL = 5
    #: The CRM refused or could not be reached: authentication, network, API errors.
    CRM = 6
    #: The store cannot be opened or migrated.
    STORE = 7


EXIT_QUOTA = ExitCode.QUOTA
EXIT_LOCKED = ExitCode.LOCKED
EXIT_PARTIAL = ExitCode.PARTIAL


class Partial(Exception):
    """The kind of outcome "some connections failed, the others did their work"."""


class QuotaStopped(Exception):
    """The kind of outcome "stopped cleanly on the API quota"."""


class Finished(Exception):
    """A command whose work ended without success, its output already printed; ``kind`` is
    the exception class the exit code is looked up for (``crmsync.cli.main.EXIT_CODES``)."""

    def __init__(self, kind: type[BaseException]) -> None:
        super().__init__(kind.__name__)
        self.kind = kind


def report_outcome(report: RunReport) -> type[BaseException] | None:
    """The kind of a run report's outcome: ``None`` for success, :class:`Partial`,
    :class:`RunLocked`, :class:`QuotaStopped`; when only connection errors failed it, their
    common class (:class:`ConfigError` or a :class:`ConnectorError`); else :class:`Exception`
    (the work failed)."""
    if report.ok:
        return None
    if report.partial:
        return Partial
    if report.status == LOCKED:
        return RunLocked
    if report.stopped_on_quota:
        return QuotaStopped
    failed = {d.connection for d in report.details
              if d.status not in ("success", STOPPED_QUOTA, LOCKED)}
    errors = report.connection_errors
    if errors and failed <= set(errors):
        for kind in (ConfigError, ConnectorError):
            if all(isinstance(e, kind) for e in errors.values()):
                return kind
    return Exception


def finish(report: RunReport) -> None:
    """End the command with the exit code of ``report``'s outcome (nothing for success)."""
    kind = report_outcome(report)
    if kind is not None:
        raise Finished(kind)


def say(message: str) -> None:
    """What a command is doing, on standard error (never silent for seconds), wrapped at
    the width; shown literally (no markup)."""
    from rich.console import Console
    from rich.text import Text

    Console(stderr=True, highlight=False).print(Text(message))


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
            self._config = api.load_config(self.config_path, registry=self.registry)
        return self._config


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


pass_state = click.make_pass_decorator(State)
