"""The files connector through the real engine: bad rows reported, good rows land,
export → import round-trips."""

from __future__ import annotations

import json

import sqlalchemy as sa
from click.testing import CliRunner

from conftest import load_records, make_config, table_rows
from crmsync.api import export, sync
from crmsync.cli import cli
from crmsync.core.config import SyncConfig
from crmsync.core.schema import SYNCED_TABLES, sync_rejects
from crmsync.store import Store

ACCOUNTS = """\
remote_id,name,employee_count,remote_updated_at,segment,colour
A1,Acme,120,2026-01-01T00:00:00Z,SMB,
A2,Globex,lots,2026-01-02T00:00:00Z,SMB,
,Nameless,3,2026-01-03T00:00:00Z,SMB,
A4,Initech,40,2026-01-04T00:00:00Z,SMB,purple
A5,Umbrella,5000,2026-01-05T00:00:00Z,Enterprise,
"""


def test_bad_rows_are_reported_with_table_row_and_field_and_good_rows_land(store, tmp_path,
                                                                          registry):
    data = tmp_path / "in"
    data.mkdir()
    (data / "accounts.csv").write_text(ACCOUNTS)
    (data / "users.jsonl").write_text('{"remote_id": "U1", "name": "Ann", "is_active": true}\n'
                                      '{"remote_id": "U2", "is_active": "sometimes"}\n')
    cfg = make_config(store.url, sheet={"type": "files", "path": str(data)})
    cfg.sync = SyncConfig(max_reject_ratio=1.0)  # the threshold has tests of its own
    report = sync(cfg, registry, store=store, entities=["accounts", "users"])
    assert report.ok
    assert table_rows(store, "accounts", "remote_id") == [("A1",), ("A5",)]
    assert table_rows(store, "users", "remote_id") == [("U1",)]
    with store.engine.connect() as c:
        rejects = c.execute(sa.select(sync_rejects.c.entity, sync_rejects.c.source,
                                      sync_rejects.c.remote_id, sync_rejects.c.field)
                            .order_by(sync_rejects.c.entity, sync_rejects.c.source)).all()
    assert [tuple(r) for r in rejects] == [
        ("accounts", "accounts.csv line 3", "A2", "employee_count"),
        ("accounts", "accounts.csv line 4", None, "remote_id"),
        ("accounts", "accounts.csv line 5", "A4", "colour"),
        ("users", "users.jsonl line 2", "U2", "is_active"),
    ]


def test_status_lists_the_rejects(tmp_path, registry):
    data = tmp_path / "in"
    data.mkdir()
    (data / "accounts.csv").write_text(ACCOUNTS)
    cfg = tmp_path / "crmsync.toml"
    cfg.write_text(f'[store]\nurl = "sqlite:///s.db"\n[connections.sheet]\ntype = "files"\n'
                   f'path = "{data}"\n[sync]\nmax_reject_ratio = 1.0\n')
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(cfg), "sync"], obj=registry).exit_code == 0
    result = runner.invoke(cli, ["--config", str(cfg), "status", "--json"], obj=registry)
    status = json.loads(result.output)
    assert status["reject_totals"] == {"sheet/accounts": 3}
    assert {r["field"] for r in status["recent_rejects"]} == {"employee_count", "remote_id",
                                                              "colour"}


def test_an_unchanged_folder_syncs_nothing_new_the_second_time(sqlite_store, tmp_path,
                                                                registry):
    data = tmp_path / "in"
    data.mkdir()
    good = [line for line in ACCOUNTS.splitlines(keepends=True)
            if line.startswith(("remote_id", "A1", "A5"))]
    (data / "accounts.csv").write_text("".join(good))
    cfg = make_config(sqlite_store.url, sheet={"type": "files", "path": str(data)})
    sync(cfg, registry, store=sqlite_store, entities=["accounts"])
    second = sync(cfg, registry, store=sqlite_store, entities=["accounts"])
    # unchanged since the last complete pass: not read at all (docs/connectors/files.md)
    assert second.details[0].rows_read == 0
    (data / "accounts.csv").write_text("".join(good) + "\n")
    third = sync(cfg, registry, store=sqlite_store, entities=["accounts"])
    # rewritten: only the row at the watermark itself is re-read (ties are re-read)
    assert third.details[0].rows_read == 1


DATASET = {
    "users": [{"remote_id": "U1", "name": "Ann", "is_active": True, "team": "East"}],
    "accounts": [{"remote_id": "A1", "name": "Acme", "employee_count": 12,
                  "annual_revenue": 1234567.89, "custom": {"tier": "gold", "n": [1, 2]}}],
    "opportunities": [{"remote_id": "O1", "status": "won", "amount": 0.1 + 0.2,
                       "closed_at": "2026-01-02T03:04:05.123456", "expected_close_date":
                       "2026-01-31", "owner_id": "U1", "remote_created_at": "2025-12-01"}],
    "activities": [{"remote_id": "X1", "type": "call", "occurred_at": "2026-01-01T09:00:00",
                    "is_automated": False, "duration_seconds": 95, "subject": "Hi, \"you\"\n"}],
}


def test_export_then_import_round_trips_every_value(store, tmp_path, registry):
    load_records(store, DATASET, connection="crm")
    for fmt in ("csv", "jsonl"):
        out = tmp_path / fmt
        counts = export(make_config(store.url), out, fmt)
        assert counts["accounts"] == 1 and counts["activities"] == 1
        copy = Store(f"sqlite:///{tmp_path / (fmt + '.db')}")
        cfg = make_config(copy.url, crm={"type": "files", "path": str(out)})
        assert sync(cfg, registry, store=copy).ok
        for name in DATASET:
            assert table_rows(copy, name) == table_rows(store, name), (fmt, name)
        copy.dispose()


def test_every_table_is_exported(sqlite_store, tmp_path):
    export(make_config(sqlite_store.url), tmp_path / "out", "csv")
    assert sorted(p.stem for p in (tmp_path / "out").iterdir()) == sorted(SYNCED_TABLES)
