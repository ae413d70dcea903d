"""A real ``crmsync sync`` killed with SIGKILL between batches resumes to the exact result."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import table_rows
from crmsync.core.schema import sync_runs
from crmsync.store import Store

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


def config(tmp_path: Path, name: str, data: Path) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path / name}.db"\n'
                    f'[connections.sheet]\ntype = "files"\npath = "{data}"\n'
                    f'batch_size = {BATCH}\n')
    return path


def crmsync(cfg: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from crmsync.cli import main; main()",
                             "--config", str(cfg), "sync", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def committed_rows(db: Path) -> int:
    store = Store(f"sqlite:///{db}", upgrade=False)
    try:
        with store.engine.connect() as c:
            return c.execute(sa.select(sa.func.coalesce(sa.func.sum(sync_runs.c.rows_read), 0))
                             ).scalar_one()
    except sa.exc.OperationalError:
        return 0
    finally:
        store.dispose()


@pytest.mark.slow
def test_sigkill_between_batches_then_rerun_gives_the_rows_of_an_uninterrupted_run(tmp_path):
    data = tmp_path / "data"
    write_dataset(data)

    clean = crmsync(config(tmp_path, "clean", data))
    assert clean.wait(timeout=300) == 0, clean.stderr.read()

    victim_cfg = config(tmp_path, "victim", data)
    victim = crmsync(victim_cfg)
    deadline = time.monotonic() + 120
    while committed_rows(tmp_path / "victim.db") < ROWS // 5:
        assert victim.poll() is None, "the sync finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    killed_at = committed_rows(tmp_path / "victim.db")
    assert 0 < killed_at < ROWS

    resumed = crmsync(victim_cfg)
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()

    clean_store = Store(f"sqlite:///{tmp_path / 'clean.db'}")
    victim_store = Store(f"sqlite:///{tmp_path / 'victim.db'}")
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
