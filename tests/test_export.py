"""``crmsync.orchestration.export.export_store``: the files the ``files`` connector reads back."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from crmsync import ConfigError
from crmsync.core.schema import SYNCED_TABLES, metadata
from crmsync.orchestration.export import EXPORTED_COLUMNS, export_store
from crmsync_files import FilesConnector

SYNCED_AT = dt.datetime(2024, 6, 1)
ACCOUNTS = [
    {"remote_id": "a1", "remote_created_at": dt.datetime(2024, 5, 1, 13, 45),
     "remote_updated_at": dt.datetime(2024, 5, 2, 8, 0, 0, 250000), "name": "Acme, Inc.",
     "employee_count": 12, "annual_revenue": 0.1, "custom": {"tier": "gold", "score": 3}},
    {"remote_id": "a2", "is_deleted": True, "deleted_at": dt.datetime(2024, 5, 3),
     "name": 'Say "hi"\nthere'},
]
OPPORTUNITIES = [
    {"remote_id": "o1", "status": "won", "amount": 1500.5,
     "expected_close_date": dt.date(2024, 7, 1),
     "closed_at": dt.datetime(2024, 6, 30, 23, 59, 59), "account_id": "a1"},
]


def insert(engine: sa.Engine, table: str, connection: str, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` into ``table`` for ``connection``."""
    with engine.begin() as conn:
        for row in rows:
            conn.execute(SYNCED_TABLES[table].insert().values(
                connection=connection, synced_at=SYNCED_AT, raw={"x": 1}, **row))


@pytest.fixture
def store() -> Iterator[sa.Engine]:
    """An in-memory store with a few accounts and an opportunity for connection ``crm``."""
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    insert(engine, "accounts", "crm", ACCOUNTS)
    insert(engine, "opportunities", "crm", OPPORTUNITIES)
    yield engine
    engine.dispose()


def read_back(folder: Path, table: str) -> list[dict[str, Any]]:
    """Read ``table`` from ``folder`` with the files connector."""
    connector = FilesConnector("f", FilesConnector.validate_settings({"path": str(folder)}))
    batches = list(connector.read(table, None))
    assert [r for batch in batches for r in batch.rejects] == []
    return [dict(record) for batch in batches for record in batch.records]


def test_csv_export_writes_formatted_values(store: sa.Engine, tmp_path: Path) -> None:
    export_store(store, tmp_path, "csv", tables=["accounts"])

    assert (tmp_path / "accounts.csv").read_text(encoding="utf-8") == (
        "remote_id,remote_created_at,remote_updated_at,is_deleted,deleted_at,custom,name,domain,"
        "industry,segment,region,territory,employee_count,annual_revenue,owner_id,parent_id\n"
        'a1,2024-05-01T13:45:00,2024-05-02T08:00:00.250000,false,,"{""score"":3,""tier"":""gold""}"'
        ',"Acme, Inc.",,,,,,12,0.1,,\n'
        'a2,,,true,2024-05-03T00:00:00,,"Say ""hi""\nthere",,,,,,,,,\n'
    )


def test_csv_export_writes_dates_as_iso(store: sa.Engine, tmp_path: Path) -> None:
    export_store(store, tmp_path, "csv", tables=["opportunities"])

    header, row = (tmp_path / "opportunities.csv").read_text(encoding="utf-8").splitlines()
    values = dict(zip(header.split(","), row.split(","), strict=True))
    assert (values["expected_close_date"], values["closed_at"], values["amount"]) == (
        "2024-07-01", "2024-06-30T23:59:59", "1500.5")


def test_jsonl_export_writes_one_object_per_row(store: sa.Engine, tmp_path: Path) -> None:
    export_store(store, tmp_path, "jsonl", tables=["accounts"])

    lines = (tmp_path / "accounts.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        {"remote_id": "a1", "remote_created_at": "2024-05-01T13:45:00",
         "remote_updated_at": "2024-05-02T08:00:00.250000", "is_deleted": False,
         "deleted_at": None, "custom": {"tier": "gold", "score": 3}, "name": "Acme, Inc.",
         "domain": None, "industry": None, "segment": None, "region": None, "territory": None,
         "employee_count": 12, "annual_revenue": 0.1, "owner_id": None, "parent_id": None},
        {"remote_id": "a2", "remote_created_at": None, "remote_updated_at": None,
         "is_deleted": True, "deleted_at": "2024-05-03T00:00:00", "custom": None,
         "name": 'Say "hi"\nthere', "domain": None, "industry": None, "segment": None,
         "region": None, "territory": None, "employee_count": None, "annual_revenue": None,
         "owner_id": None, "parent_id": None},
    ]


def test_exported_columns_leave_out_engine_columns_and_raw() -> None:
    assert {"id", "connection", "synced_at", "raw"}.isdisjoint(
        c for columns in EXPORTED_COLUMNS.values() for c in columns)


def test_returns_rows_written_per_table(store: sa.Engine, tmp_path: Path) -> None:
    counts = export_store(store, tmp_path)

    assert counts == {name: 0 for name in SYNCED_TABLES} | {"accounts": 2, "opportunities": 1}


def test_empty_table_gets_a_header_only_csv(store: sa.Engine, tmp_path: Path) -> None:
    export_store(store, tmp_path, tables=["quotas"])

    assert (tmp_path / "quotas.csv").read_text(encoding="utf-8") == (
        ",".join(EXPORTED_COLUMNS["quotas"]) + "\n")


def test_empty_table_gets_an_empty_jsonl(store: sa.Engine, tmp_path: Path) -> None:
    export_store(store, tmp_path, "jsonl", tables=["quotas"])

    assert (tmp_path / "quotas.jsonl").read_text(encoding="utf-8") == ""


def test_several_connections_need_a_choice(store: sa.Engine, tmp_path: Path) -> None:
    insert(store, "users", "other", [{"remote_id": "u1"}])

    with pytest.raises(ConfigError, match=r"crm, other.*--connection"):
        export_store(store, tmp_path)


def test_chosen_connection_is_the_only_one_exported(store: sa.Engine, tmp_path: Path) -> None:
    insert(store, "accounts", "other", [{"remote_id": "b1"}])

    export_store(store, tmp_path, "jsonl", connection="other", tables=["accounts"])

    lines = (tmp_path / "accounts.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["remote_id"] for line in lines] == ["b1"]


def test_unknown_connection_is_a_config_error(store: sa.Engine, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'crn' is not in the store"):
        export_store(store, tmp_path, connection="crn")


def test_unknown_table_is_a_config_error(store: sa.Engine, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="deals"):
        export_store(store, tmp_path, tables=["deals"])


def test_file_of_the_other_format_is_a_config_error(store: sa.Engine, tmp_path: Path) -> None:
    (tmp_path / "accounts.jsonl").write_text("", encoding="utf-8")

    with pytest.raises(ConfigError, match=r"accounts\.jsonl"):
        export_store(store, tmp_path, "csv", tables=["accounts"])


def test_failed_export_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine, tables=[SYNCED_TABLES["users"], SYNCED_TABLES["accounts"]])
    insert(engine, "users", "crm", [{"remote_id": "u1"}])
    (tmp_path / "users.csv").write_text("old\n", encoding="utf-8")

    with pytest.raises(sa.exc.OperationalError):
        export_store(engine, tmp_path, tables=["users", "accounts", "contacts"])

    assert sorted(p.name for p in tmp_path.iterdir()) == ["users.csv"]
    assert (tmp_path / "users.csv").read_text(encoding="utf-8") == "old\n"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_reads_back_with_the_files_connector(store: sa.Engine, tmp_path: Path,
                                                    fmt: str) -> None:
    export_store(store, tmp_path, fmt)

    accounts = read_back(tmp_path, "accounts")
    opportunities = read_back(tmp_path, "opportunities")

    custom: Any = {"score": 3, "tier": "gold"}
    if fmt == "csv":
        custom = json.dumps(custom, separators=(",", ":"))
    assert [(a["remote_id"], a["remote_updated_at"], a["is_deleted"], a["custom"], a["name"])
            for a in accounts] == [
        ("a1", "2024-05-02T08:00:00.250000", "false" if fmt == "csv" else False, custom,
         "Acme, Inc."),
        ("a2", None, "true" if fmt == "csv" else True, None, 'Say "hi"\nthere'),
    ]
    (opportunity,) = opportunities
    assert (opportunity["expected_close_date"], opportunity["amount"]) == (
        "2024-07-01", "1500.5" if fmt == "csv" else 1500.5)
