"""The files connector's line index through the real engine, on SQLite and PostgreSQL: an
incremental sync of an edited CSV stores what a full sync of it stores, rejects included,
and ``crmsync status`` shows the index by its size."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import make_config, table_rows
from crmsync import api
from crmsync.core.config import Config, SyncConfig
from crmsync.core.schema import sync_rejects, sync_state
from crmsync.plugin.registry import Registry
from crmsync.store import Store

HEADER = "remote_id,name,employee_count,remote_updated_at\n"


def account(n: int, day: int, employees: str = "10", name: str = "") -> str:
    return f"a{n},{name or f'Account {n}'},{employees},2024-01-{day:02d}T00:00:00Z\n"


def standing(store: Store) -> list[tuple[str | None, str | None]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            sa.select(sync_rejects.c.remote_id, sync_rejects.c.source)
            .where(sync_rejects.c.resolved_at.is_(None)).order_by(sync_rejects.c.remote_id))]


@pytest.fixture
def config(store: Store, tmp_path: Path) -> Config:
    made = make_config(store.url, crm={"type": "files", "path": str(tmp_path / "in"),
                                       "batch_size": 4})
    made.sync = SyncConfig(max_reject_ratio=1.0)
    (tmp_path / "in").mkdir()
    return made


def test_edits_and_fixed_rejects_land_as_a_full_sync_stores_them(
        config: Config, store: Store, tmp_path: Path, registry: Registry) -> None:
    path = tmp_path / "in" / "accounts.csv"
    rows = [account(n, n) for n in range(1, 31)]
    rows[6] = account(7, 7, employees="lots")  # rejected by the engine
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    assert api.sync(config, registry, ["crm"], entities=["accounts"], store=store).ok
    assert standing(store) == [("a7", "accounts.csv line 8")]

    rows[6] = account(7, 7, employees="70")  # fixed in place, its timestamp kept
    rows[11] = account(12, 31, name="Renamed")  # edited
    rows.insert(0, account(40, 31))  # added above: every line number moves
    rows.append(account(3, 31, name="Again"))  # a second row of a3: rejected
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    assert api.sync(config, registry, ["crm"], entities=["accounts"], store=store).ok

    assert standing(store) == [("a3", "accounts.csv line 33")]
    stored = table_rows(store, "accounts", "remote_id", "name", "employee_count")
    assert ("a7", "Account 7", 70) in stored
    assert ("a12", "Renamed", 10) in stored
    assert ("a3", "Account 3", 10) in stored
    assert len(stored) == 31
    with store.engine.connect() as conn:
        cursor = conn.execute(sa.select(sync_state.c.cursor)).scalar_one()
    assert cursor["lines"]["rows"] == 29  # every row but a40 and a12 (the cursor), and a3's copy

    written = table_rows(store, "accounts", "remote_id", "synced_at")
    report = api.sync(config, registry, ["crm"], entities=["accounts"], store=store, full=True)
    assert report.ok
    assert table_rows(store, "accounts", "remote_id", "name", "employee_count") == stored
    # every record read again as it is stored: none written again (docs/performance.md)
    assert table_rows(store, "accounts", "remote_id", "synced_at") == written
    assert [(d.rows_read, d.rows_upserted) for d in report.details] == [(len(stored), 0)]
    assert standing(store) == [("a3", "accounts.csv line 33")]


def test_status_shows_the_index_by_its_size(config: Config, store: Store, tmp_path: Path,
                                            registry: Registry) -> None:
    path = tmp_path / "in" / "accounts.csv"
    path.write_text(HEADER + "".join(account(n, 1 + n % 28) for n in range(1, 61)),
                    encoding="utf-8")
    assert api.sync(config, registry, ["crm"], entities=["accounts"], store=store).ok
    # nothing new: the file is not opened, the stored cursor and its index are kept
    assert api.sync(config, registry, ["crm"], entities=["accounts"], store=store).ok

    (run,) = api.status(config, store=store)["runs"]

    lines = run["cursor"]["lines"]
    assert lines["digests"].startswith("<") and lines["digests"].endswith(" characters>")
    assert lines["rows"] == 58  # the two rows of the 28th are at the cursor
    assert run["cursor"]["since"] == "2024-01-28T00:00:00"
