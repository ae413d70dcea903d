"""Fact sets several metric queries of one run share (``MetricContext.shared``): created once
per run as temporary tables or views, dropped at its end (docs/writing-a-metric.md)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement

from crmsync.plugin.context import MetricContext

__all__ = ["drop_shared", "materialise", "shared_uses"]


def shared_uses(contexts: Iterable[MetricContext]) -> dict[str, int]:
    """How many queries of a run (one context each) read each shared fact set."""
    uses: dict[str, int] = {}
    for ctx in contexts:
        for name in ctx.shared_facts:
            uses[name] = uses.get(name, 0) + 1
    return uses


class _CreateTempAs(Executable, ClauseElement):
    """``CREATE TEMPORARY TABLE|VIEW name AS <select>`` (same on SQLite and PostgreSQL)."""

    inherit_cache = False

    def __init__(self, kind: str, name: str, select: sa.Select[Any]) -> None:
        self.kind = kind
        self.name = name
        self.select = select


@compiles(_CreateTempAs)
def _compile_create_temp(element: _CreateTempAs, compiler: Any, **kw: Any) -> str:
    if element.kind == "VIEW":  # views take no bound parameters: values are written inline
        kw["literal_binds"] = True
    return (f"CREATE TEMPORARY {element.kind} {compiler.preparer.quote(element.name)} AS "
            f"{compiler.process(element.select, **kw)}")


def materialise(conn: sa.Connection, ctx: MetricContext, created: dict[str, str],
                uses: dict[str, int] | None = None) -> None:
    """Create the shared fact sets ``ctx`` asked for, once a run: a temporary TABLE when
    several metrics of the run read it, else (on SQLite) a temporary VIEW (inlined: no
    cost)."""
    for name, facts in ctx.shared_facts.items():
        if name not in created:
            # PostgreSQL: always a table — a view's inlined literals lose their types there
            # (date_trunc(unknown, unknown)); SQLite compares timestamps as text, so a view is
            # exact and free.
            single = uses is None or uses.get(name, 0) <= 1
            # a rebuilt table (as of a past instant) is always a table, indexed: as a view,
            # every probe of it (``ctx.has_data``, a lookup by remote id) would rebuild it
            view = single and conn.dialect.name == "sqlite" and name not in ctx.shared_indexes
            kind = "VIEW" if view else "TABLE"
            try:
                statement = _CreateTempAs(kind, name, facts)
                statement.compile(dialect=conn.dialect)
            except CompileError:  # a value with no literal form: a table takes parameters
                kind, statement = "TABLE", _CreateTempAs("TABLE", name, facts)
            conn.execute(statement)
            created[name] = kind
            if kind == "TABLE":
                _index(conn, name, ctx.shared_indexes.get(name, []))


def _index(conn: sa.Connection, name: str, lookups: list[tuple[str, ...]]) -> None:
    """Index a temporary table that stands for a synced table (``ctx.table`` in a rebuilt
    run) as the table is indexed, so the metrics' lookups by connection and remote id stay
    probes; and gather its statistics for the planner (autovacuum never sees temp tables)."""
    quote = conn.dialect.identifier_preparer.quote
    for i, columns in enumerate(lookups):
        conn.exec_driver_sql(f"CREATE INDEX {quote(f'{name}_i{i}')} ON {quote(name)} "
                             f"({', '.join(quote(c) for c in columns)})")
    if lookups:
        conn.exec_driver_sql(f"ANALYZE {quote(name)}")


def drop_shared(conn: sa.Connection, created: dict[str, str]) -> None:
    """Drop the fact sets :func:`materialise` created (``created``: name → TABLE or VIEW)."""
    for name, kind in created.items():
        conn.exec_driver_sql(f'DROP {kind} IF EXISTS "{name}"')
    created.clear()
