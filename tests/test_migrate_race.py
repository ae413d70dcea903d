"""Several processes opening one fresh store at once: exactly one migrates, all succeed
(docs/deploying.md, "Several processes, one fresh store")."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from crmsync.store import Store
from crmsync.store.migrate import head

PROCESSES = 8


def _open(url: str, start: Any, results: Any) -> None:
    """One process: wait for the start signal, open (and migrate) the store, report."""
    start.wait()
    try:
        store = Store(url)
        results.put(("ok", store.current_revision()))
        store.dispose()
    except BaseException as exc:  # reported to the test, which names it
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def _open_all_at_once(url: str) -> list[tuple[str, str | None]]:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    results = ctx.Queue()
    procs = [ctx.Process(target=_open, args=(url, start, results)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    start.set()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return outcomes


def test_processes_opening_a_fresh_sqlite_store_at_once_all_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    outcomes = _open_all_at_once(url)
    assert outcomes == [("ok", head())] * PROCESSES
    with Store(url, upgrade=False) as store:
        assert store.current_revision() == head()


def test_processes_opening_a_fresh_postgresql_schema_at_once_all_succeed(pg_url: str) -> None:
    outcomes = _open_all_at_once(pg_url)
    assert outcomes == [("ok", head())] * PROCESSES
    with Store(pg_url, upgrade=False) as store:
        assert store.current_revision() == head()
        with store.engine.connect() as conn:
            versions = conn.execute(sa.text("select count(*) from alembic_version")).scalar()
        assert versions == 1
