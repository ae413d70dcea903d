"""Scale-out for real: a local Redis broker, a PostgreSQL store and two ``crmsync worker``
processes syncing several files connections. The run locks keep two workers off one target,
and a worker process killed mid-task loses nothing: the task is redelivered and resumes from
the committed cursor."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from celery import Celery, group

from conftest import fresh_pg_schema
from crmsync.api import load_config
from crmsync.core.config import Config
from crmsync.core.schema import sync_runs
from crmsync.plugin.registry import Registry

pytestmark = pytest.mark.slow

REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_START = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port",
               "6379", "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
               "--logfile", "/var/log/redis/ci.log"]
CONNECTIONS = ("c1", "c2", "c3", "c4")
SMALL_ROWS = 4_000
BIG_ROWS = 30_000


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping())
    except redis.exceptions.RedisError:
        return False


@pytest.fixture(scope="module")
def redis_broker() -> str:
    """The local Redis, started if it is down."""
    if not _redis_up():
        subprocess.run(REDIS_START, check=False, capture_output=True, timeout=30)
        for _ in range(50):
            if _redis_up():
                break
            time.sleep(0.2)
    assert _redis_up(), f"Redis at {REDIS_URL} is not reachable and could not be started"
    return REDIS_URL


@pytest.fixture(scope="module")
def pg_schema_url(pg_server: str) -> Iterator[str]:
    """A PostgreSQL URL on a fresh schema for the whole module."""
    with fresh_pg_schema(pg_server) as url:
        yield url


def write_accounts(folder: Path, rows: int) -> None:
    folder.mkdir(parents=True)
    with open(folder / "accounts.csv", "w", encoding="utf-8") as f:
        f.write("remote_id,name\n")
        f.writelines(f"a{i},Account {i}\n" for i in range(rows))


@dataclass
class Cluster:
    """Two workers, the config they share and an app to send tasks with."""

    config: Config
    app: Celery
    workers: list[subprocess.Popen[bytes]]
    names: list[str]
    store_url: str


@pytest.fixture(scope="module")
def cluster(redis_broker: str, pg_schema_url: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("celery")
    toml = [f'[store]\nurl = "{pg_schema_url}"\n',
            f'[celery]\nbroker_url = "{redis_broker}"\nqueue = "crmsync-test-{uuid.uuid4().hex}"'
            f'\nlock_retry_seconds = 1\n']
    for name in CONNECTIONS:
        write_accounts(base / name, SMALL_ROWS)
        toml.append(f'[connections.{name}]\ntype = "files"\npath = "{base / name}"\n'
                    'batch_size = 100\n')
    write_accounts(base / "big", BIG_ROWS)
    toml.append(f'[connections.big]\ntype = "files"\npath = "{base / "big"}"\nbatch_size = 100\n')
    toml.append('[schedule.refresh]\ncron = "0 3 * * *"\ntask = "sync"\n'
                'connections = ["c1", "c2"]\nentities = ["accounts", "users"]\n')
    path = base / "crmsync.toml"
    path.write_text("\n".join(toml), encoding="utf-8")
    config = load_config(path)

    from crmsync.orchestration.distributed.app import create_app
    from crmsync.store import Store

    Store(pg_schema_url).dispose()  # migrate once, before two workers race to do it
    app = create_app(config, Registry())
    tag = uuid.uuid4().hex[:8]
    names = [f"w{i}-{tag}@localhost" for i in (1, 2)]

    def start_worker(name: str) -> subprocess.Popen[bytes]:
        # the worker holds its own copy of the log's descriptor: ours can close once it started
        with open(base / f"{name}.log", "wb") as log:
            return subprocess.Popen(
                [sys.executable, "-c", "from crmsync.cli import main; main()", "--config",
                 str(path), "worker", "--concurrency", "1", "--hostname", name, "--loglevel",
                 "WARNING"], stdout=subprocess.DEVNULL, stderr=log)

    workers = [start_worker(name) for name in names]
    try:
        deadline = time.monotonic() + 120
        while True:
            replies = app.control.ping(destination=names, timeout=1.0)
            if len(replies) == len(names):
                break
            assert all(w.poll() is None for w in workers), "a worker exited at start"
            assert time.monotonic() < deadline, "the workers did not come up"
        yield Cluster(config, app, workers, names, pg_schema_url)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=60)
            except subprocess.TimeoutExpired:
                w.kill()


def runs_of(store_url: str, connection: str) -> list[dict]:
    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(
                sa.select(sync_runs).where(sync_runs.c.connection == connection)
                .order_by(sync_runs.c.started_at)).mappings()]
    finally:
        engine.dispose()


def account_count(store_url: str, connection: str) -> int:
    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(
                "select count(*) from accounts where connection = :c"), {"c": connection}
            ).scalar_one()
    finally:
        engine.dispose()


def test_two_workers_never_sync_one_target_at_once(cluster: Cluster) -> None:
    from crmsync.orchestration.distributed.tasks import sync_entity

    # Every target twice, back to back: the two idle workers take both copies at once.
    tasks = group(sync_entity.si(name, "accounts") for name in CONNECTIONS for _ in (1, 2))
    results = tasks.apply_async().get(timeout=600)

    assert [r["status"] for r in results] == ["success"] * len(results), results
    assert any(r["retries"] for r in results), "no copy ever found its target locked"
    assert len({r["worker_pid"] for r in results}) == 2
    for name in CONNECTIONS:
        assert account_count(cluster.store_url, name) == SMALL_ROWS
        runs = runs_of(cluster.store_url, name)
        for earlier, later in itertools.pairwise(runs):
            assert earlier["ended_at"] <= later["started_at"], f"{name}: overlapping runs"


def test_a_worker_killed_mid_task_loses_nothing(cluster: Cluster) -> None:
    from crmsync.orchestration.distributed.tasks import sync_entity

    result = sync_entity.delay("big", "accounts")
    deadline = time.monotonic() + 300
    while not any(r["rows_read"] for r in runs_of(cluster.store_url, "big")):
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.1)
    active = cluster.app.control.inspect(destination=cluster.names, timeout=2.0).active() or {}
    pids = [t["worker_pid"] for tasks in active.values() for t in tasks
            if t["id"] == result.id]
    assert len(pids) == 1, active
    os.kill(pids[0], signal.SIGKILL)

    outcome = result.get(timeout=600)

    assert outcome["status"] == "success"
    assert account_count(cluster.store_url, "big") == BIG_ROWS
    killed, resumed = runs_of(cluster.store_url, "big")
    assert killed["status"] == "abandoned"
    assert 0 < killed["rows_read"] < BIG_ROWS
    assert resumed["status"] == "success"
    assert killed["rows_read"] + resumed["rows_read"] == BIG_ROWS  # resumed from the cursor


def test_a_scheduled_job_sent_as_beat_does_runs_its_syncs_on_the_workers(
        cluster: Cluster) -> None:
    from celery.result import GroupResult

    from crmsync.orchestration.distributed.tasks import job

    before = {name: len(runs_of(cluster.store_url, name)) for name in ("c1", "c2")}

    group_id = job.delay("refresh").get(timeout=120)
    results = GroupResult.restore(group_id, app=cluster.app)

    assert results is not None
    outcomes = results.get(timeout=600)
    assert sorted((r["details"][0]["connection"], r["details"][0]["entity"]) for r in outcomes) \
        == [("c1", "accounts"), ("c1", "users"), ("c2", "accounts"), ("c2", "users")]
    for name in ("c1", "c2"):
        assert len(runs_of(cluster.store_url, name)) == before[name] + 2
