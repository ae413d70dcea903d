"""The inputs KPIs lack, for ``crmsync status``: each table a metric declares in
:attr:`crmsync.Metric.inputs` that holds no live row, the metrics it leaves without a value,
and where it could come from — the installed connectors that read it, in their own words
(:attr:`crmsync.Connector.INPUT_SOURCES`). Nothing here names a table or a plugin: metrics
and connectors declare them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from crmsync.core.schema import SYNCED_TABLES
from crmsync.plugin.connector import Connector
from crmsync.plugin.registry import Registry
from crmsync.store import Store

__all__ = ["missing_inputs", "sources_of"]


def sources_of(registry: Registry, table: str) -> list[str]:
    """Where ``table`` could come from: each installed connector type that reads it (demo
    datasets aside), the ones reading only some tables first."""
    def general(item: tuple[str, type[Connector]]) -> tuple[bool, str]:
        return set(SYNCED_TABLES) <= set(item[1].ENTITIES), item[0]

    return [cls.INPUT_SOURCES.get(table) or f"a {name} connection"
            for name, cls in sorted(registry.connectors().items(), key=general)
            if table in cls.ENTITIES and not cls.DEMO_AS_OF]


def missing_inputs(store: Store, registry: Registry) -> list[dict[str, Any]]:
    """``[{"input": table, "metrics": [names], "sources": [where from]}]`` for every
    declared input table without a live row, by table name."""
    needed: dict[str, list[str]] = {}
    for name, metric in sorted(registry.metrics().items()):
        for table in metric.inputs:
            needed.setdefault(table, []).append(name)
    out = []
    with store.engine.connect() as conn:
        for table, metrics in sorted(needed.items()):
            tbl = SYNCED_TABLES.get(table)
            if tbl is not None and conn.execute(
                    sa.select(tbl.c.id).where(tbl.c.is_deleted == sa.false()).limit(1)).first():
                continue
            out.append({"input": table, "metrics": metrics,
                        "sources": sources_of(registry, table)})
    return out
