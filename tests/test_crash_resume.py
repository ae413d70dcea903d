"""A real ``crmsync sync`` killed with SIGKILL mid-load resumes to the exact result, on SQLite
and on PostgreSQL (where batches commit behind the reads: crmsync.sync.pipeline)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import fresh_pg_schema, table_rows
from crmsync.core.schema import sync_runs
from crmsync.store import Store
from test_rollback_journal import header_mode

ROWS = 30_000
BATCH = 250


def write_dataset(folder: Path) -> None:
    folder.mkdir()
    with open(folder / "activities.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["remote_id", "type", "occurred_at", "remote_updated_at", "owner_id",
                    "duration_seconds", "subject"])
        for i in range(ROWS):
            ts = f"2026-01-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00"
            w.writerow([f"X{i:06d}", "call", ts, ts, f"U{i % 20}", i % 900, f"call {i}"])


def config(tmp_path: Path, name: str, data: Path, url: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'[store]\nurl = "{url}"\n'
                    f'[connections.sheet]\ntype = "files"\npath = "{data}"\n'
                    f'batch_size = {BATCH}\n')
    return path


def crmsync(cfg: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from crmsync.cli import main; main()",
                             "--config", str(cfg), "sync", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def committed_rows(url: str) -> int:
    store = Store(url, upgrade=False)
    try:
        with store.engine.connect() as c:
            return c.execute(sa.select(sa.func.coalesce(sa.func.sum(sync_runs.c.rows_read), 0))
                             ).scalar_one()
    except (sa.exc.OperationalError, sa.exc.ProgrammingError):  # not created yet
        return 0
    finally:
        store.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def two_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The URLs of two fresh stores of one dialect: the clean run's and the victim's."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'clean.db'}", f"sqlite:///{tmp_path / 'victim.db'}"
        return
    server = request.getfixturevalue("pg_server")
    with fresh_pg_schema(server) as clean, fresh_pg_schema(server) as victim:
        yield clean, victim


@pytest.mark.slow
def test_sigkill_mid_load_then_rerun_gives_the_rows_of_an_uninterrupted_run(
        tmp_path: Path, two_stores: tuple[str, str]) -> None:
    data = tmp_path / "data"
    write_dataset(data)
    clean_url, victim_url = two_stores

    clean = crmsync(config(tmp_path, "clean", data, clean_url))
    assert clean.wait(timeout=300) == 0, clean.stderr.read()

    victim_cfg = config(tmp_path, "victim", data, victim_url)
    victim = crmsync(victim_cfg)
    deadline = time.monotonic() + 120
    while committed_rows(victim_url) < ROWS // 5:
        assert victim.poll() is None, "the sync finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    killed_at = committed_rows(victim_url)
    assert 0 < killed_at < ROWS

    resumed = crmsync(victim_cfg)
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()

    clean_store = Store(clean_url)
    victim_store = Store(victim_url)
    try:
        assert table_rows(victim_store, "activities") == table_rows(clean_store, "activities")
        assert len(table_rows(victim_store, "activities", "remote_id")) == ROWS
        with victim_store.engine.connect() as c:
            runs = c.execute(sa.select(sync_runs.c.status, sync_runs.c.rows_read)
                             .where(sync_runs.c.entity == "activities")
                             .order_by(sync_runs.c.id)).all()
        assert [r.status for r in runs] == ["abandoned", "success"]
        # the rerun resumed from the cursor instead of starting over
        assert runs[1].rows_read <= ROWS - killed_at + BATCH
    finally:
        clean_store.dispose()
        victim_store.dispose()


@pytest.mark.slow
def test_sigkill_mid_load_under_a_rollback_journal_then_rerun_gives_the_same_rows(
        tmp_path: Path) -> None:
    """The SQLite first load with the file to itself runs under a rollback journal
    (crmsync.store.journal); killed there, the next connection rolls the hot journal back.
    Watched from the file's bytes only: opening the store would set WAL again."""
    data = tmp_path / "data"
    write_dataset(data)
    clean_url, victim_db = f"sqlite:///{tmp_path / 'clean.db'}", tmp_path / "victim.db"
    victim_url = f"sqlite:///{victim_db}"
    for url in (clean_url, victim_url):
        Store(url).dispose()  # migrated, so the victim's start-up is quick
    clean = crmsync(config(tmp_path, "clean", data, clean_url))
    assert clean.wait(timeout=300) == 0, clean.stderr.read()
    empty = victim_db.stat().st_size

    victim_cfg = config(tmp_path, "victim", data, victim_url)
    victim = crmsync(victim_cfg)
    deadline = time.monotonic() + 120
    while not (victim_db.stat().st_size > empty + 1_000_000 and header_mode(victim_db) == 1
               and Path(f"{victim_db}-journal").exists()):
        assert victim.poll() is None, "the sync finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert header_mode(victim_db) == 1  # killed under the rollback journal
    killed_at = committed_rows(victim_url)
    assert 0 < killed_at < ROWS
    assert header_mode(victim_db) == 2  # the next connection set WAL again

    resumed = crmsync(victim_cfg)
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    clean_store, victim_store = Store(clean_url), Store(victim_url)
    try:
        assert table_rows(victim_store, "activities") == table_rows(clean_store, "activities")
        with victim_store.engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    finally:
        clean_store.dispose()
        victim_store.dispose()
