"""Benchmark: eight files connections (a CSV export of the demo CRM each) synced by Celery
workers into PostgreSQL: the total wall time with one worker and with two, the speed-up
ratio, and the run-lock overhead per run (acquire + release) as a ratio to the sync of one
small entity, on PostgreSQL and SQLite.

Needs the local Redis (127.0.0.1:6379) and PostgreSQL (``$CRMSYNC_TEST_PG``, default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``) and ``crmsync[celery]``.

Usage::

    python bench/scale_out.py                        # 8 connections of the small demo export
    python bench/scale_out.py --connections 2        # a quick run
    python bench/scale_out.py --size medium          # ~10x the rows per connection
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sync_files import export_demo  # noqa: E402  (the same CSV export as bench/sync_files.py)

PG = os.environ.get("CRMSYNC_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BROKER = "redis://127.0.0.1:6379/0"


@contextmanager
def pg_schema() -> Iterator[str]:
    """A store URL on a fresh PostgreSQL schema, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield sa.make_url(PG).update_query_dict(
            {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def write_config(path: Path, store_url: str, folder: Path, connections: int,
                 extra: str = "") -> Path:
    queue = f"crmsync-bench-{uuid.uuid4().hex[:8]}"
    lines = [f'[store]\nurl = "{store_url}"\n',
             f'[celery]\nbroker_url = "{BROKER}"\nqueue = "{queue}"\nlock_retry_seconds = 1\n']
    for i in range(1, connections + 1):
        lines.append(f'[connections.crm{i}]\ntype = "files"\npath = "{folder}"\n')
    path.write_text("\n".join(lines) + extra, encoding="utf-8")
    return path


def run_workers(config_path: Path, workers: int, log_dir: Path) -> float:
    """Start ``workers`` single-process workers, sync every connection/entity through them;
    returns the wall seconds from dispatch to the last result."""
    from celery import group

    from crmsync.core.config import load_config
    from crmsync.orchestration.distributed.app import create_app
    from crmsync.orchestration.distributed.tasks import sync_signatures
    from crmsync.plugin.registry import Registry
    from crmsync.store import Store

    config = load_config(config_path)
    Store(config.store_url).dispose()  # migrate before the workers start
    registry = Registry()
    app = create_app(config, registry)
    tag = uuid.uuid4().hex[:6]
    names = [f"bench{i}-{tag}@localhost" for i in range(workers)]

    def start_worker(name: str) -> subprocess.Popen[bytes]:
        # the worker holds its own copy of the log's descriptor: ours can close once it started
        with open(log_dir / f"{name}.log", "wb") as log:
            return subprocess.Popen(
                [sys.executable, "-c", "from crmsync.cli import main; main()", "--config",
                 str(config_path), "worker", "--concurrency", "1", "--hostname", name,
                 "--loglevel", "WARNING"], stdout=subprocess.DEVNULL, stderr=log)

    procs = [start_worker(name) for name in names]
    try:
        while len(app.control.ping(destination=names, timeout=1.0)) < workers:
            if any(p.poll() is not None for p in procs):
                raise SystemExit(f"a worker exited; see {log_dir}")
        tasks = group(sync_signatures(config, registry))
        start = time.perf_counter()
        results = tasks.apply_async().get(timeout=3600)
        elapsed = time.perf_counter() - start
        bad = [r for r in results if r["status"] != "success"]
        if bad:
            raise SystemExit(f"{len(bad)} syncs did not succeed: {bad[:2]}")
        return elapsed
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=120)


def rows_in(store_url: str) -> int:
    from crmsync.core.schema import SYNCED_TABLES

    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as conn:
            return sum(conn.execute(sa.text(f'select count(*) from "{t}"')).scalar_one()
                       for t in SYNCED_TABLES)
    finally:
        engine.dispose()


def lock_overhead(store_url: str, tmp: Path, repeat: int) -> tuple[float, float]:
    """Mean seconds of one run lock (acquire + release) and of one sync of a 10-row entity."""
    from crmsync import api
    from crmsync.core.config import Config, ConnectionConfig
    from crmsync.plugin.registry import Registry
    from crmsync.store import Store
    from crmsync.store.locks import run_lock

    tiny = tmp / f"tiny-{uuid.uuid4().hex[:6]}"
    tiny.mkdir()
    (tiny / "accounts.csv").write_text(
        "remote_id,name\n" + "".join(f"a{i},Account {i}\n" for i in range(10)),
        encoding="utf-8")
    config = Config(store_url=store_url, connections={"tiny": ConnectionConfig(
        name="tiny", type="files", raw={"type": "files", "path": str(tiny)})})
    registry = Registry()
    store = Store(store_url)
    try:
        api.sync(config, registry, ["tiny"], entities=["accounts"], store=store)  # warm up
        locks, syncs = [], []
        for i in range(repeat):
            start = time.perf_counter()
            with run_lock(store, f"bench:{i % 3}"):
                pass
            locks.append(time.perf_counter() - start)
            start = time.perf_counter()
            api.sync(config, registry, ["tiny"], entities=["accounts"], store=store, full=True)
            syncs.append(time.perf_counter() - start)
        return statistics.median(locks), statistics.median(syncs)
    finally:
        store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--size", default="small", choices=("small", "medium"))
    parser.add_argument("--repeat", type=int, default=30, help="lock/sync samples")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="crmsync-scale-") as tmp_name:
        tmp = Path(tmp_name)
        folder = tmp / f"demo-{args.size}"
        per_connection = export_demo(args.size, folder)
        print(f"{args.connections} files connections x {per_connection:,} rows "
              f"(demo '{args.size}' export) = {args.connections * per_connection:,} rows, "
              f"PostgreSQL store, Redis broker; {os.cpu_count()} CPUs")
        walls = {}
        for workers in (1, 2):
            with pg_schema() as url:
                config = write_config(tmp / f"w{workers}.toml", url, folder, args.connections)
                walls[workers] = run_workers(config, workers, tmp)
                stored = rows_in(url)
            print(f"  {workers} worker{'s' if workers > 1 else ' '}: {walls[workers]:7.1f} s "
                  f"wall, {stored:,} rows stored, "
                  f"{stored / walls[workers]:,.0f} rows/s")
        print(f"  speed-up 2 vs 1 worker: {walls[1] / walls[2]:.2f}x")

        print(f"run-lock overhead per run (median of {args.repeat}):")
        with pg_schema() as url:
            lock, sync = lock_overhead(url, tmp, args.repeat)
        print(f"  PostgreSQL advisory lock: {lock * 1000:6.2f} ms acquire+release vs "
              f"{sync * 1000:6.1f} ms to sync a 10-row entity: {lock / sync:.3f} of a run")
        lock, sync = lock_overhead(f"sqlite:///{tmp / 'locks.db'}", tmp, args.repeat)
        print(f"  SQLite run_locks row:     {lock * 1000:6.2f} ms acquire+release vs "
              f"{sync * 1000:6.1f} ms to sync a 10-row entity: {lock / sync:.3f} of a run")


if __name__ == "__main__":
    main()
