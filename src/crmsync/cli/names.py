"""Names a user types (metrics, connections, reps, teams): an unknown one is a usage error
that suggests the close ones (docs/cli.md, "Exit codes and errors")."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable

import click
import sqlalchemy as sa

from crmsync.core.config import Config
from crmsync.core.schema import users
from crmsync.plugin.registry import Registry
from crmsync.store import Store

__all__ = ["UnknownName", "check_name", "check_metric", "check_connections", "check_rep",
           "check_team"]


class UnknownName(click.UsageError):
    """``unknown metric 'win_rat' — did you mean 'win_rate'? (crmsync metrics list)``."""

    def __init__(self, kind: str, name: str, known: Collection[str], where: str) -> None:
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = (" — did you mean " + " or ".join(repr(c) for c in close) + "?") if close else ""
        super().__init__(f"unknown {kind} {name!r}{hint} ({where})")
        self.kind = kind
        self.name = name

    def show(self, file: object = None) -> None:
        """One message, wrapped at the width of standard error (at spaces)."""
        from rich.console import Console
        from rich.text import Text

        Console(stderr=True, highlight=False).print(Text(f"error: {self.format_message()}"))


def check_name(kind: str, name: str, known: Collection[str], where: str) -> str:
    """``name`` if it is one of ``known``, else :class:`UnknownName`."""
    if name not in known:
        raise UnknownName(kind, name, known, where)
    return name


def check_metric(registry: Registry, name: str) -> str:
    """A registered metric's name."""
    return check_name("metric", name, registry.metrics(), "crmsync metrics list")


def check_connections(config: Config, names: Iterable[str]) -> None:
    """Each of ``names`` is a configured connection."""
    for name in names:
        check_name("connection", name, config.connections,
                   "configured: " + (", ".join(config.connections) or "none"))


def _user_column(config: Config, column: str) -> dict[str, str]:
    """Distinct values of a ``users`` column (the rep's remote id → the value)."""
    store = Store(config.store_url)
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(sa.select(users.c.remote_id, users.c[column])).all()
    finally:
        store.dispose()
    return {str(r[0]): str(r[1]) for r in rows if r[1] is not None}


def check_rep(config: Config, rep: str) -> str:
    """A rep's remote id; an unknown one suggests close ids and names."""
    reps = _user_column(config, "name")
    if rep in reps:
        return rep
    by_name = {name: rid for rid, name in reps.items()}
    if rep in by_name:
        return by_name[rep]
    raise UnknownName("rep", rep, [*reps, *by_name], "the store's users: id or name")


def check_team(config: Config, team: str) -> str:
    """A team named in the store's ``users``."""
    return check_name("team", team, set(_user_column(config, "team").values()),
                      "the store's users' teams")
