"""Benchmark: the pipeline changes waterfall (``crmsync.api.pipeline_changes``) for one quarter
on the demo CRM with a synthetic field history, against a bare scan of the two tables it reads.

The demo dataset is synced once into ``<workdir>/demo-<size>.db`` and reused, with the demo's
own field history; the bench adds a synthetic one: per deal 3 to 5 changes leading to its current
values — two or three close-date pushes (the last to today's date), a resize to today's amount
and, for one deal in three, an owner change — spread between its creation and its close (or
the demo's today). The history is written once (``opportunity_field_history`` holds the rows
``bench-*``).

Timed (best of ``--repeat`` runs, after one warm-up): one state of the store rebuilt by
``crmsync.opportunities_as_of`` (the building block; the report rebuilds two), then the
waterfall for the quarter before the demo's today (window: that quarter) for the whole
organisation, by team, and with the deal list; the baseline is ``SELECT count(*),
sum(amount) FROM opportunities`` plus ``SELECT count(*), count(new_value) FROM
opportunity_field_history`` in the same run. Goal: the waterfall under 2 s. Each line also
gives the process's CPU time (on SQLite, the query's own).

With ``--pg`` the tables the report reads (users, pipelines, stages, currency rates,
opportunities and their field history) are copied into a fresh PostgreSQL schema (dropped at
the end) and measured there too.

Usage::

    python bench/pipeline_changes.py                  # large dataset, SQLite
    python bench/pipeline_changes.py --size small     # smoke test
    python bench/pipeline_changes.py --pg             # also PostgreSQL (the tests' server)
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from demo_stores import sync_demo  # bench/ is the script dir


def demo_today() -> dt.datetime:
    from crmsync.plugin.registry import Registry

    return dt.datetime.fromisoformat(Registry().connector("demo").SETTINGS["as_of"].default)


def _changes(row: Any, today: dt.datetime, users: list[str], rng: random.Random
             ) -> Iterator[dict[str, Any]]:
    """3–5 history rows ending in the deal's current values."""
    created = row.remote_created_at or today - dt.timedelta(days=180)
    end = row.closed_at or today
    if end <= created:
        end = created + dt.timedelta(days=1)
    n = 3 + row.id % 3
    times = sorted(created + (end - created) * rng.random() for _ in range(n))
    close = row.expected_close_date or (end.date() + dt.timedelta(days=30))
    pushes = n - 1 - (1 if row.id % 3 == 0 and n > 3 else 0)
    dates = [close - dt.timedelta(days=30 * (pushes - k)) for k in range(pushes + 1)]
    for k in range(pushes):
        yield {"field": "expected_close_date", "changed_at": times[k],
               "old_value": dates[k].isoformat(), "new_value": dates[k + 1].isoformat()}
    amount = row.amount or 0.0
    yield {"field": "amount", "changed_at": times[pushes],
           "old_value": str(round(amount * 0.8, 2)), "new_value": str(float(amount))}
    if pushes + 1 < n and row.owner_id:
        other = rng.choice(users)
        yield {"field": "owner_id", "changed_at": times[pushes + 1],
               "old_value": other, "new_value": row.owner_id}


def write_history(url: str, today: dt.datetime) -> int:
    """The synthetic history (once); returns its rows."""
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    o = sa.Table("opportunities", meta, autoload_with=engine)
    h = sa.Table("opportunity_field_history", meta, autoload_with=engine)
    u = sa.Table("users", meta, autoload_with=engine)
    with engine.begin() as conn:
        have = conn.execute(sa.select(sa.func.count()).select_from(h)
                            .where(h.c.remote_id.like("bench-%"))).scalar_one()
        if have:
            return int(have)
        users = [r for (r,) in conn.execute(sa.select(u.c.remote_id))]
        rng, rows = random.Random(11), []
        for row in conn.execute(sa.select(o.c.id, o.c.connection, o.c.remote_id, o.c.amount,
                                          o.c.owner_id, o.c.expected_close_date,
                                          o.c.remote_created_at, o.c.closed_at)):
            for k, change in enumerate(_changes(row, today, users, rng)):
                rows.append({"connection": row.connection, "remote_id": f"bench-{row.id}-{k}",
                             "opportunity_id": row.remote_id, "source": "crm",
                             "is_deleted": False, "synced_at": today, **change})
        for i in range(0, len(rows), 20_000):
            conn.execute(h.insert(), rows[i:i + 20_000])
    engine.dispose()
    return len(rows)


#: CPU seconds of this process in the best run of the last :func:`best` (SQLite runs in
#: the process, so this is the query's CPU time; a shared machine inflates wall time, not it).
LAST_CPU = [0.0]


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    fn()  # warm-up: caches, SQLite page cache, plan caches
    times, result = [], None
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append((time.perf_counter() - start, time.process_time() - cpu))
    wall, LAST_CPU[0] = min(times)
    return wall, result


#: The tables the report reads, copied to PostgreSQL with ``--pg``.
COPIED = ("users", "pipelines", "stages", "currency_rates", "opportunities",
          "opportunity_field_history")


def copy_to_pg(sqlite_url: str, pg_url: str) -> None:
    """Copy :data:`COPIED` (all columns but the JSON ones) with COPY."""
    import sqlite3

    import psycopg

    from crmsync.store import Store

    Store(pg_url).dispose()  # the schema, by the migrations
    src = sqlite3.connect(sa.make_url(sqlite_url).database or "")
    dsn = sa.make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as pg, pg.cursor() as cur:
        for table in COPIED:
            columns = [r[1] for r in src.execute(f"pragma table_info({table})")
                       if r[1] not in ("custom", "raw")]
            booleans = {r[1] for r in src.execute(f"pragma table_info({table})")
                        if r[2].upper() == "BOOLEAN"}
            names = ", ".join(columns)
            with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in src.execute(f"select {names} from {table}"):
                    copy.write_row([bool(v) if c in booleans and v is not None else v
                                    for c, v in zip(columns, row, strict=True)])
        cur.execute("analyze")
    src.close()


def measure(url: str, today: dt.datetime, repeat: int, label: str) -> None:
    """Time the baseline and the waterfalls on the store at ``url``."""
    from crmsync import api
    from crmsync.core.config import Config
    from crmsync.store import Store

    store = Store(url)
    config = Config(store_url=url)
    q_end = dt.date(today.year, (today.month - 1) // 3 * 3 + 1, 1) - dt.timedelta(days=1)
    q_start = dt.date(q_end.year, (q_end.month - 1) // 3 * 3 + 1, 1)

    def scan() -> Any:
        with store.engine.connect() as conn:
            return (conn.execute(sa.text("select count(*), sum(amount) from opportunities"))
                    .one(), conn.execute(sa.text(
                        "select count(*), count(new_value) from opportunity_field_history"))
                    .one())

    def waterfall(**options: Any) -> Callable[[], Any]:
        return lambda: api.pipeline_changes(config, date_from=q_start, date_to=q_end,
                                            store=store, **options)

    def one_state() -> Any:
        from crmsync import opportunities_as_of

        q = opportunities_as_of(store.dialect, dt.datetime.combine(q_start, dt.time()))
        with store.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(q.subquery())).scalar()

    base, counts = best(scan, repeat)
    print(f"{label}: {counts[0][0]:,} deals, {counts[1][0]:,} history rows · quarter "
          f"{q_start} – {q_end}, window: that quarter · best of {repeat}")
    print(f"{'baseline: bare scan of both tables':44} {base:7.3f} s")
    seconds, _ = best(one_state, repeat)
    print(f"{'one state: crmsync.opportunities_as_of':44} {seconds:7.3f} s  "
          f"{seconds / base:6.1f}× baseline · CPU {LAST_CPU[0]:.3f} s", flush=True)
    for name, options in (("waterfall (whole organisation)", {}),
                          ("waterfall --by team", {"by": "team"}),
                          ("waterfall --deals (with the deal list)", {"deals": True})):
        seconds, result = best(waterfall(**options), repeat)
        lines = {line["category"]: line for line in result["total"]}
        moved = sum(line["deals"] for k, line in lines.items() if k not in ("start", "end"))
        print(f"{name:44} {seconds:7.3f} s  {seconds / base:6.1f}× baseline  "
              f"{'OK' if seconds < 2 else 'over'} (goal < 2 s) · CPU {LAST_CPU[0]:.3f} s · start "
              f"{lines['start']['deals']:,}, end {lines['end']['deals']:,}, "
              f"{moved:,} deal changes", flush=True)
    store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="large", choices=("small", "medium", "large"))
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "crmsync-bench-pipeline-changes")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", nargs="?", const="", default=None,
                        help="Also PostgreSQL (default: the tests' server).")
    args = parser.parse_args()

    args.workdir.mkdir(parents=True, exist_ok=True)
    db = args.workdir / f"demo-{args.size}.db"
    marker = db.with_suffix(".complete")
    if not marker.exists():
        db.unlink(missing_ok=True)
        print(f"synced demo '{args.size}' in {sync_demo(f'sqlite:///{db}', args.size):.1f} s")
        marker.write_text("ok")
    url = f"sqlite:///{db}"
    today = demo_today()
    print(f"history rows (synthetic): {write_history(url, today):,}")
    measure(url, today, args.repeat, "SQLite")
    if args.pg is not None:
        from crmsync.testing.postgres import fresh_schema, server_url

        with fresh_schema(args.pg or server_url()) as pg_url:
            start = time.perf_counter()
            copy_to_pg(url, pg_url)
            print(f"copied to PostgreSQL in {time.perf_counter() - start:.1f} s")
            measure(pg_url, today, args.repeat, "PostgreSQL")


if __name__ == "__main__":
    main()
