"""Benchmark: the whole metric catalogue computed ``--as-of`` a past date against today's
normal computation, on the demo CRM, measured in the same run (docs/as-of.md; goal ≤ 1.5×).

Two stores: the demo as synced (its ``opportunity_field_history`` is whatever the demo
generates: maybe empty) and a copy with a synthetic history of 3–5 changes per deal (amount,
expected close date, owner, stage, probability; inserted directly with SQL), the realistic
cost of the rebuild. On each, the catalogue for ``--period`` for the organisation and by owner:

* ``now``: the normal computation (``as_of`` = the demo's "today");
* ``as of``: the same, as of ``--at`` (every table rebuilt from history, values into
  ``metric_snapshots``).

Each is run ``--repeat`` times and the best time kept. Usage::

    python bench/as_of.py                  # large dataset, SQLite
    python bench/as_of.py --size small     # smoke test
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from demo_stores import synced_store  # bench/ is the script dir

HERE = Path(__file__).resolve()
DEMO_TODAY = dt.datetime(2026, 9, 30, 23, 59, 59)


def _changes(rng: random.Random, deal: Any, users: list[str], stages: list[str]
             ) -> list[dict[str, Any]]:
    """3–5 changes of one deal between its creation and the demo's today, in time order;
    each change's new value is the next one's old value, the last one's is the deal's."""
    created = deal.remote_created_at or DEMO_TODAY - dt.timedelta(days=365)
    span = max((DEMO_TODAY - created).total_seconds(), 3600.0)
    times = sorted(created + dt.timedelta(seconds=rng.uniform(0, span))
                   for _ in range(rng.randint(3, 5)))
    fields = [rng.choice(["amount", "expected_close_date", "owner_id", "stage_id",
                          "probability"]) for _ in times]
    now = {"amount": deal.amount, "expected_close_date": deal.expected_close_date,
           "owner_id": deal.owner_id, "stage_id": deal.stage_id, "probability": deal.probability}
    rows = []
    for i in reversed(range(len(times))):  # walk back from today's values
        f = fields[i]
        new = now[f]
        if f == "amount":
            old: Any = round((new or 1000.0) * rng.uniform(0.6, 1.4), 2)
        elif f == "expected_close_date":
            old = (new or created.date()) - dt.timedelta(days=rng.randint(7, 60))
        elif f == "owner_id":
            old = rng.choice(users)
        elif f == "stage_id":
            old = rng.choice(stages)
        else:
            old = rng.choice([0.1, 0.3, 0.5, 0.7])
        rows.append({"connection": deal.connection, "remote_id": f"synt-{deal.remote_id}-{i}",
                     "opportunity_id": deal.remote_id, "field": f, "changed_at": times[i],
                     "old_value": None if old is None else str(old),
                     "new_value": None if new is None else str(new), "source": "crm",
                     "is_deleted": False, "synced_at": DEMO_TODAY})
        now[f] = old
    return rows


def add_history(db: Path) -> int:
    """Replace the store's field history with a synthetic one; return the rows inserted."""
    engine = sa.create_engine(f"sqlite:///{db}")
    meta = sa.MetaData()
    o = sa.Table("opportunities", meta, autoload_with=engine)
    h = sa.Table("opportunity_field_history", meta, autoload_with=engine)
    rng = random.Random(1)
    with engine.begin() as conn:
        users = list(conn.execute(sa.text("SELECT remote_id FROM users")).scalars())
        stages = list(conn.execute(sa.text("SELECT remote_id FROM stages "
                                           "WHERE NOT is_closed")).scalars())
        conn.execute(h.delete())
        rows = [r for deal in conn.execute(sa.select(o)) for r in
                _changes(rng, deal, users, stages)]
        for i in range(0, len(rows), 5000):
            conn.execute(h.insert(), rows[i:i + 5000])
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return len(rows)


def timed(url: str, period: str, at: dt.datetime, rebuilt: bool, repeat: int) -> tuple[float, int]:
    """Best seconds of ``repeat`` catalogue computations, and the values stored."""
    from crmsync.core.config import MetricsConfig
    from crmsync.metrics import compute
    from crmsync.plugin.registry import Registry
    from crmsync.store import Store

    metrics = list(Registry().metrics().values())
    store = Store(url)
    best, stored = float("inf"), 0
    try:
        for _ in range(repeat):
            start = time.perf_counter()
            result = compute(store, metrics, MetricsConfig(period=period),
                             dimensions=(None, "owner"), as_of=at, rebuilt=rebuilt,
                             keep_values=False)
            best = min(best, time.perf_counter() - start)
            stored = result.stored
    finally:
        store.dispose()
    return best, stored


def history_rows(db: Path) -> int:
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM opportunity_field_history")).scalar()
    engine.dispose()
    return int(n or 0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large", choices=("small", "medium", "large"))
    parser.add_argument("--period", default="month")
    parser.add_argument("--at", default="2026-06-30", help="The as-of date (end of day UTC).")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "asof-bench"))
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    at = dt.datetime.combine(dt.date.fromisoformat(args.at), dt.time.max)
    demo = synced_store(workdir, args.size)
    synthetic = workdir / f"demo-{args.size}-history.db"
    if not synthetic.exists():
        shutil.copy(demo, synthetic)
        print(f"synthetic history: {add_history(synthetic):,} changes")
    print(f"catalogue by {args.period}, organisation and by owner; as of {at:%Y-%m-%d %H:%M}"
          f" vs today ({DEMO_TODAY:%Y-%m-%d}); best of {args.repeat}")
    print(f"{'store':<28}{'history rows':>13}{'now s':>9}{'as-of s':>9}{'ratio':>8}")
    for label, db in ((f"demo {args.size}", demo), (f"demo {args.size} + synthetic", synthetic)):
        url = f"sqlite:///{db}"
        now_s, now_n = timed(url, args.period, DEMO_TODAY, False, args.repeat)
        as_of_s, as_of_n = timed(url, args.period, at, True, args.repeat)
        print(f"{label:<28}{history_rows(db):>13,}{now_s:>9.1f}{as_of_s:>9.1f}"
              f"{as_of_s / now_s:>7.2f}×   ({now_n:,} / {as_of_n:,} values)")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
