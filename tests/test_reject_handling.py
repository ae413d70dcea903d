"""What happens to rejects after they are made: the reject threshold and exit code, the
summarised log, re-reading fixed rows and resolving their rejects."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from conftest import make_config, table_rows
from crmsync import Batch, ConfigError, Connector, Reject
from crmsync.api import load_config, status, sync
from crmsync.cli import cli
from crmsync.core.config import SyncConfig
from crmsync.core.schema import sync_rejects
from crmsync.store import Store
from crmsync.sync.engine import SyncEngine

HEADER = "remote_id,name,employee_count,remote_updated_at\n"


def accounts(folder: Path, *rows: str) -> None:
    """Write ``accounts.csv`` with ``rows`` after the header."""
    (folder / "accounts.csv").write_text(HEADER + "".join(f"{r}\n" for r in rows),
                                         encoding="utf-8")


def write_config(tmp_path: Path, folder: Path, extra: str = "") -> Path:
    """A config file with a SQLite store and one files connection ``sheet`` on ``folder``."""
    path = tmp_path / "crmsync.toml"
    path.write_text(f'[store]\nurl = "sqlite:///s.db"\n[connections.sheet]\ntype = "files"\n'
                    f'path = "{folder}"\n{extra}', encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An empty input folder."""
    path = tmp_path / "in"
    path.mkdir()
    return path


def _rejects(store: Store) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            sa.select(sync_rejects.c.remote_id, sync_rejects.c.source,
                      sync_rejects.c.resolved_at.is_not(None))
            .order_by(sync_rejects.c.id)).all()]


# -- threshold ---------------------------------------------------------------------------------

def test_sync_whose_rejects_pass_max_reject_ratio_exits_non_zero(tmp_path: Path, folder: Path,
                                                                  registry: Any) -> None:
    accounts(folder, "a1,A,1,2024-01-01", "a2,B,lots,2024-01-01", "a3,C,many,2024-01-01")
    config = write_config(tmp_path, folder)

    result = CliRunner().invoke(cli, ["--config", str(config), "sync"], obj=registry)

    assert result.exit_code == 1
    assert ("sheet/accounts: 2 of 3 records rejected (67%), more than [sync] "
            "max_reject_ratio = 0.1 allows") in result.output
    store = Store(load_config(config).store_url)
    try:
        assert table_rows(store, "accounts", "remote_id") == [("a1",)]  # good rows stored
    finally:
        store.dispose()


def test_sync_within_max_reject_ratio_succeeds(tmp_path: Path, folder: Path,
                                               registry: Any) -> None:
    accounts(folder, "a1,A,1,2024-01-01", "a2,B,lots,2024-01-01", "a3,C,many,2024-01-01")
    config = write_config(tmp_path, folder, "[sync]\nmax_reject_ratio = 0.7\n")

    result = CliRunner().invoke(cli, ["--config", str(config), "sync"], obj=registry)

    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("value", ["1.5", "-0.1", '"10%"'])
def test_max_reject_ratio_must_be_a_share(tmp_path: Path, folder: Path, value: str) -> None:
    config = write_config(tmp_path, folder, f"[sync]\nmax_reject_ratio = {value}\n")

    with pytest.raises(ConfigError, match=r"\[sync\], key 'max_reject_ratio'"):
        load_config(config)


# -- log -------------------------------------------------------------------------------------

def test_rejects_are_logged_first_few_then_counted_by_field_and_reason(
        sqlite_store: Store, folder: Path, registry: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    accounts(folder, *[f"a{i},A,lots{i},2024-01-01" for i in range(40)],
             *[f"b{i},B,-{i + 1},2024-01-01" for i in range(10)])
    cfg = make_config(sqlite_store.url, sheet={"type": "files", "path": str(folder)})
    cfg.sync = SyncConfig(max_reject_ratio=1.0)

    with caplog.at_level(logging.WARNING, logger="crmsync.sync.engine"):
        sync(cfg, registry, store=sqlite_store, entities=["accounts"])

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 6
    assert all(w.startswith("rejected sheet/accounts record a") for w in warnings[:5])
    assert warnings[5].startswith(
        "sheet/accounts: 50 rejects (45 more than shown); by field and reason: "
        "employee_count: not an integer: … ×40, "
        "employee_count: … is below …, the least this column takes ×10; see `crmsync status`")


# -- re-reading fixed rows ------------------------------------------------------------------------

def test_a_row_fixed_without_a_new_timestamp_is_read_again_and_its_reject_resolved(
        sqlite_store: Store, folder: Path, registry: Any) -> None:
    cfg = make_config(sqlite_store.url, sheet={"type": "files", "path": str(folder)})
    cfg.sync = SyncConfig(max_reject_ratio=1.0)
    accounts(folder, "a1,A,lots,2024-01-01", "a2,B,2,2024-02-01")
    sync(cfg, registry, store=sqlite_store, entities=["accounts"])
    accounts(folder, "a1,A,1,2024-01-01", "a2,B,2,2024-02-01")  # same timestamp, fixed

    second = sync(cfg, registry, store=sqlite_store, entities=["accounts"])

    assert second.ok
    assert table_rows(sqlite_store, "accounts", "remote_id", "employee_count") == [
        ("a1", 1), ("a2", 2)]
    assert _rejects(sqlite_store) == [("a1", "accounts.csv line 2", True)]  # kept as history
    shown = status(cfg)
    assert shown["reject_totals"] == {} and shown["recent_rejects"] == []


def test_a_row_without_remote_id_is_read_again_by_its_line(sqlite_store: Store, folder: Path,
                                                           registry: Any) -> None:
    cfg = make_config(sqlite_store.url, sheet={"type": "files", "path": str(folder)})
    cfg.sync = SyncConfig(max_reject_ratio=1.0)
    accounts(folder, ",A,1,2024-01-01", "a2,B,2,2024-02-01")
    sync(cfg, registry, store=sqlite_store, entities=["accounts"])
    accounts(folder, "a1,A,1,2024-01-01", "a2,B,2,2024-02-01")

    sync(cfg, registry, store=sqlite_store, entities=["accounts"])

    assert table_rows(sqlite_store, "accounts", "remote_id") == [("a1",), ("a2",)]
    assert _rejects(sqlite_store) == [(None, "accounts.csv line 2", True)]


def test_a_row_still_bad_stays_one_standing_reject_run_after_run(
        sqlite_store: Store, folder: Path, registry: Any) -> None:
    cfg = make_config(sqlite_store.url, sheet={"type": "files", "path": str(folder)})
    cfg.sync = SyncConfig(max_reject_ratio=1.0)
    accounts(folder, "a1,A,1,2024-01-01", "a2,B,2,2024-02-01", "a1,Again,3,2024-01-01")

    for _ in range(3):
        sync(cfg, registry, store=sqlite_store, entities=["accounts"])

    assert _rejects(sqlite_store) == [("a1", "accounts.csv line 4", False)]
    shown = status(cfg)
    assert shown["reject_totals"] == {"sheet/accounts": 1}
    assert json.dumps(shown)  # JSON-able


def test_status_shows_only_rejects_still_standing(sqlite_store: Store, folder: Path,
                                                  registry: Any) -> None:
    cfg = make_config(sqlite_store.url, sheet={"type": "files", "path": str(folder)})
    cfg.sync = SyncConfig(max_reject_ratio=1.0)
    accounts(folder, "a1,A,lots,2024-01-01", "a2,B,many,2024-01-01")
    sync(cfg, registry, store=sqlite_store, entities=["accounts"])
    accounts(folder, "a1,A,1,2024-01-01", "a2,B,many,2024-01-01")

    sync(cfg, registry, store=sqlite_store, entities=["accounts"])

    shown = status(cfg)
    assert shown["reject_totals"] == {"sheet/accounts": 1}
    assert [r["remote_id"] for r in shown["recent_rejects"]] == ["a2"]


class PageConnector(Connector):
    """Serves the batches in :attr:`pages`, whatever the cursor (an API connector)."""

    NAME = "pages"
    ENTITIES = ("accounts",)
    pages: list[Batch] = []  # noqa: RUF012 - set per test

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        yield from self.pages


def test_a_shared_source_does_not_resolve_a_reject_with_a_remote_id(sqlite_store: Store) -> None:
    connector = PageConnector("crm", {})
    bad = Reject("unknown deal stage 'opne'", remote_id="a9", source="GET /accounts")
    connector.pages = [Batch(records=[{"remote_id": "a1"}], rejects=[bad],
                             sources=["GET /accounts"])]
    SyncEngine(sqlite_store, connector).run()
    connector.pages = [Batch(records=[{"remote_id": "a2"}], sources=["GET /accounts"])]

    SyncEngine(sqlite_store, connector).run()

    assert _rejects(sqlite_store) == [("a9", "GET /accounts", False)]  # a9 was never stored


def test_a_record_stored_later_resolves_its_reject(sqlite_store: Store) -> None:
    connector = PageConnector("crm", {})
    connector.pages = [Batch(rejects=[Reject("bad", remote_id="a9", source="GET /accounts")])]
    SyncEngine(sqlite_store, connector).run()
    connector.pages = [Batch(records=[{"remote_id": "a9"}], sources=["GET /accounts"])]

    SyncEngine(sqlite_store, connector).run()

    assert _rejects(sqlite_store) == [("a9", "GET /accounts", True)]


def test_a_huge_rejected_cell_keeps_status_json_small(sqlite_store: Store, folder: Path,
                                                       registry: Any) -> None:
    huge = "z" * 5_000_000
    (folder / "activities.jsonl").write_text(
        json.dumps({"remote_id": "x1", "type": "call", "occurred_at": "2024-01-01",
                    "subject": huge, "custom": {"note": huge}}) + "\n", encoding="utf-8")
    cfg = make_config(sqlite_store.url, sheet={"type": "files", "path": str(folder)})
    sync(cfg, registry, store=sqlite_store, entities=["activities"])

    shown = json.dumps(status(cfg))

    assert "longer than 100000 characters (5000000)" in shown
    assert len(shown) < 10_000
