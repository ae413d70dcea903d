"""Observed history: the engine records the changes of tracked deal fields it sees between two
syncs, for the fields the connector does not read the history of (docs/history.md), on SQLite
and PostgreSQL and on every upsert path."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa

from conftest import make_config
from crmsync import HISTORY_FIELDS, Batch, Connector, Deletion
from crmsync.api import sync
from crmsync.core.schema import SYNCED_TABLES
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from crmsync.store.upsert import COPY_THRESHOLD
from crmsync.sync import SyncEngine
from crmsync.sync.observed import history_text, observed_id

HISTORY = SYNCED_TABLES["opportunity_field_history"]
OPPORTUNITIES = SYNCED_TABLES["opportunities"]
HEADER = "remote_id,name,stage_id,status,amount,currency,expected_close_date,owner_id," \
         "probability,forecast_category,remote_updated_at\n"


def deal_line(rid: str, amount: float, close: str, updated: str, *, owner: str = "u1",
              stage: str = "s1", probability: str = "0.2", forecast: str = "") -> str:
    """One ``opportunities.csv`` row."""
    return (f"{rid},Deal {rid},{stage},open,{amount},EUR,{close},{owner},{probability},"
            f"{forecast},{updated}\n")


def history(store: Store) -> list[dict[str, Any]]:
    """Every field history row, oldest first."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(HISTORY).order_by(HISTORY.c.opportunity_id,
                                                       HISTORY.c.field, HISTORY.c.changed_at))
        return [dict(r._mapping) for r in rows]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The files connector's folder."""
    path = tmp_path / "crm"
    path.mkdir()
    return path


def sync_files(store: Store, registry: Registry, folder: Path, *, full: bool = False,
               **settings: Any) -> None:
    """Sync the deals of ``folder`` with the files connector ``sheet``."""
    cfg = make_config(store.url, sheet={"type": "files", "path": str(folder), **settings})
    report = sync(cfg, registry, store=store, entities=["opportunities"], full=full)
    assert report.ok, report


def test_a_second_sync_records_the_changed_fields_as_observed(
        store: Store, registry: Registry, folder: Path) -> None:
    deals = folder / "opportunities.csv"
    deals.write_text(HEADER + deal_line("o1", 100, "2026-01-31", "2026-01-01T00:00:00Z")
                     + deal_line("o2", 200, "2026-02-28", "2026-01-01T00:00:00Z"))
    sync_files(store, registry, folder)
    assert history(store) == []
    deals.write_text(HEADER
                     + deal_line("o1", 150, "2026-03-31", "2026-01-05T00:00:00Z", owner="u2",
                                 stage="s2", probability="0.4", forecast="commit")
                     + deal_line("o2", 200, "2026-02-28", "2026-01-05T00:00:00Z")
                     + deal_line("o3", 300, "2026-04-30", "2026-01-05T00:00:00Z"))
    sync_files(store, registry, folder)

    rows = history(store)
    with store.engine.connect() as conn:
        synced_at = conn.execute(sa.select(OPPORTUNITIES.c.synced_at).where(
            OPPORTUNITIES.c.remote_id == "o1")).scalar_one()
    assert [(r["opportunity_id"], r["field"], r["old_value"], r["new_value"]) for r in rows] == [
        ("o1", "amount", "100.0", "150.0"),
        ("o1", "expected_close_date", "2026-01-31", "2026-03-31"),
        ("o1", "forecast_category", None, "commit"),
        ("o1", "owner_id", "u1", "u2"),
        ("o1", "probability", "0.2", "0.4"),
        ("o1", "stage_id", "s1", "s2"),
    ]
    for row in rows:
        assert row["source"] == "observed"
        assert row["changed_at"] == synced_at
        assert row["changed_by"] is None
        assert row["remote_id"] == f"observed:o1:{row['field']}:{synced_at.isoformat()}"


def test_re_running_a_sync_observes_nothing_new(store: Store, registry: Registry,
                                                folder: Path) -> None:
    deals = folder / "opportunities.csv"
    deals.write_text(HEADER + deal_line("o1", 100, "2026-01-31", "2026-01-01T00:00:00Z"))
    sync_files(store, registry, folder)
    deals.write_text(HEADER + deal_line("o1", 120, "2026-01-31", "2026-01-02T00:00:00Z"))
    sync_files(store, registry, folder)
    sync_files(store, registry, folder, full=True)
    sync_files(store, registry, folder)
    assert [(r["field"], r["old_value"], r["new_value"]) for r in history(store)] == [
        ("amount", "100.0", "120.0")]


def test_fields_the_connector_reads_the_history_of_are_not_observed(
        store: Store, registry: Registry, folder: Path) -> None:
    deals = folder / "opportunities.csv"
    deals.write_text(HEADER + deal_line("o1", 100, "2026-01-31", "2026-01-01T00:00:00Z"))
    settings = {"history_fields": ["amount", "stage_id"]}
    sync_files(store, registry, folder, **settings)
    deals.write_text(HEADER + deal_line("o1", 150, "2026-03-31", "2026-01-02T00:00:00Z",
                                        stage="s2"))
    sync_files(store, registry, folder, **settings)
    assert [r["field"] for r in history(store)] == ["expected_close_date"]


def test_a_history_file_makes_the_files_connector_read_every_field(
        store: Store, registry: Registry, folder: Path) -> None:
    (folder / "opportunity_field_history.csv").write_text(
        "remote_id,opportunity_id,field,changed_at,old_value,new_value,source\n")
    deals = folder / "opportunities.csv"
    deals.write_text(HEADER + deal_line("o1", 100, "2026-01-31", "2026-01-01T00:00:00Z"))
    sync_files(store, registry, folder)
    deals.write_text(HEADER + deal_line("o1", 150, "2026-03-31", "2026-01-02T00:00:00Z"))
    sync_files(store, registry, folder)
    assert history(store) == []


class Scripted(Connector):
    """Serves the deals it is given, one batch per read, and declares ``history``."""

    NAME: ClassVar[str] = "scripted"
    ENTITIES: ClassVar[tuple[str, ...]] = ("opportunities",)

    def __init__(self, deals: list[dict[str, Any]], *, deleted: tuple[str, ...] = (),
                 history: frozenset[str] = frozenset()) -> None:
        super().__init__("crm", {})
        self.deals = deals
        self.deleted = deleted
        self.history = history

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        yield Batch(records=self.deals, deleted=[Deletion(r) for r in self.deleted],
                    cursor=None)

    def history_fields(self) -> frozenset[str]:
        return self.history


def deals(n: int, amount: float, **extra: Any) -> list[dict[str, Any]]:
    """``n`` open deals of ``amount``."""
    return [{"remote_id": f"o{i:05d}", "name": f"Deal {i}", "status": "open",
             "amount": amount, "currency": "USD", "expected_close_date": dt.date(2026, 3, 31),
             **extra} for i in range(n)]


def run(store: Store, connector: Connector) -> None:
    """Sync the connector's deals."""
    results = SyncEngine(store, connector).run()
    assert [r.status for r in results] == ["success"], results


def test_large_batches_are_observed_on_every_upsert_path(store: Store) -> None:
    n = COPY_THRESHOLD + 200  # one batch: COPY on PostgreSQL, executemany on SQLite
    run(store, Scripted(deals(n, 1000.0)))
    assert history(store) == []  # a first load: nothing stored to compare with
    run(store, Scripted(deals(n, 1250.0)))
    rows = history(store)
    assert len(rows) == n
    assert {(r["field"], r["old_value"], r["new_value"]) for r in rows} == {
        ("amount", "1000.0", "1250.0")}


def test_a_new_deal_and_a_deleted_one_are_no_change(store: Store) -> None:
    run(store, Scripted(deals(2, 100.0)))
    run(store, Scripted([], deleted=("o00001",)))
    run(store, Scripted(deals(3, 500.0)))
    assert [(r["opportunity_id"], r["field"]) for r in history(store)] == [("o00000", "amount")]


def test_a_connector_reading_every_field_is_never_observed(store: Store) -> None:
    run(store, Scripted(deals(2, 100.0), history=frozenset(HISTORY_FIELDS)))
    run(store, Scripted(deals(2, 900.0, owner_id="u9"), history=frozenset(HISTORY_FIELDS)))
    assert history(store) == []


def test_other_connections_deals_are_not_compared(store: Store) -> None:
    run(store, Scripted(deals(1, 100.0)))
    other = Scripted(deals(1, 700.0))
    other.name = "other"
    run(store, other)
    assert history(store) == []


@pytest.mark.parametrize(("value", "text"), [
    (12500, "12500.0"), (0.6, "0.6"), (dt.date(2026, 1, 31), "2026-01-31"),
    ("2026-01-31", "2026-01-31"), ("EUR", "EUR"), ("", None), (None, None)])
def test_values_are_written_in_the_one_text_encoding(value: Any, text: str | None) -> None:
    assert history_text(value) == text


def test_a_long_deal_id_keeps_the_observed_id_within_the_column() -> None:
    rid = observed_id("x" * 255, "expected_close_date", dt.datetime(2026, 1, 2, 3, 4, 5, 6))
    assert len(rid) <= 255 and rid.startswith("observed:sha1-")
