"""Benchmark: ``win_rate --by custom.<field>`` on SQLite, where the field is looked up in
``json_each(custom)`` (any key, docs/metrics.md) against the baseline measured in the same run:
``json_extract(custom, '$."<field>"')``, the JSON path that cannot spell every key.

Writes N closed deals, each with a ``custom`` object of K keys (one of them the dimension's), into
a fresh SQLite store, computes the metric three times with each lookup and prints the best
seconds of each and their ratio. The values of both lookups must agree.

Usage::

    python bench/custom_dimension.py                 # 200,000 deals, 12 custom keys
    python bench/custom_dimension.py --deals 20000   # smoke test
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from crmsync.core.config import MetricsConfig
from crmsync.core.schema import opportunities
from crmsync.metrics import compute
from crmsync.plugin import context, dimensions
from crmsync.plugin.registry import Registry
from crmsync.store import Store

KEY = "9f2c6a1d0b7e4c3a8d5f6e7a1b2c3d4e5f6a7b8c"


def fill(store: Store, deals: int, keys: int) -> None:
    """``deals`` closed deals over 300 days, each with ``keys`` custom fields."""
    start = dt.datetime(2026, 1, 1)
    rows = []
    for i in range(deals):
        custom: dict[str, str] = {f"field_{k}": f"value {i % 97} {k}" for k in range(keys - 1)}
        custom[KEY] = ("Web", "Partner", "Event", "Referral")[i % 4]
        rows.append({"connection": "crm", "remote_id": f"o{i}",
                     "status": "lost" if i % 3 == 0 else "won",
                     "closed_at": start + dt.timedelta(days=i % 300), "owner_id": f"u{i % 50}",
                     "custom": custom, "is_deleted": False, "synced_at": start})
    with store.engine.begin() as conn:
        for first in range(0, len(rows), 10_000):
            conn.execute(sa.insert(opportunities), rows[first:first + 10_000])


def json_extract_value(dialect: str, fact: Any, key: str) -> Any:
    """The baseline: SQLAlchemy's JSON index, ``json_extract(custom, '$."key"')``."""
    return fact.c.custom[key].as_string()


def timed(store: Store, runs: int) -> tuple[float, dict[Any, Any]]:
    metric = Registry().metric("win_rate")
    best, values = float("inf"), {}
    for _ in range(runs):
        start = time.perf_counter()
        result = compute(store, [metric], MetricsConfig(), period="quarter",
                         dimensions=(f"custom.{KEY}",))
        best = min(best, time.perf_counter() - start)
        values = {(v.period_start, v.dimension_value): v.value for v in result.values}
    return best, values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=200_000)
    parser.add_argument("--keys", type=int, default=12)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        fill(store, args.deals, args.keys)
        each, each_values = timed(store, args.runs)
        original = context.custom_value
        context.custom_value = json_extract_value  # type: ignore[assignment]
        try:
            extract, extract_values = timed(store, args.runs)
        finally:
            context.custom_value = original
        store.dispose()
    assert each_values == extract_values, "the two lookups disagree"
    assert dimensions.custom_value is original
    print(f"{args.deals:,} deals, {args.keys} custom keys, win_rate by custom.<40-hex key>, "
          "quarter, SQLite")
    print(f"  json_each (any key):        {each:7.3f} s")
    print(f"  json_extract (baseline):    {extract:7.3f} s")
    print(f"  ratio json_each / baseline: {each / extract:7.2f}")


if __name__ == "__main__":
    main()
