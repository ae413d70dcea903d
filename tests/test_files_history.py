"""An ``opportunity_field_history`` file (CSV or JSON Lines) through the files connector and
the real engine, and what the connector says it reads the history of."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import make_config, table_rows
from crmsync import HISTORY_FIELDS, ConfigError
from crmsync.api import sync
from crmsync.core.config import SyncConfig
from crmsync.core.schema import sync_rejects
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from crmsync_files import FilesConnector

HISTORY_CSV = """\
remote_id,opportunity_id,field,changed_at,old_value,new_value,changed_by,source
h1,o1,stage_id,2026-01-05T09:30:00Z,s1,s2,u1,crm
h2,o1,amount,2026-01-05T09:30:00Z,10000.0,12500.0,u1,crm
h3,o1,expected_close_date,2026-02-01T08:00:00Z,2026-02-28,2026-03-31,u1,crm
h4,o1,owner_id,2026-02-03T10:00:00Z,u1,u2,u9,crm
h5,o1,forecast_category,2026-02-04T10:00:00Z,,commit,u2,crm
h6,o1,amount,2026-02-05T10:00:00Z,12500.0,,u2,crm
h7,o1,colour,2026-02-06T10:00:00Z,red,blue,u2,crm
"""

EXPECTED = [
    ("h1", "o1", "stage_id", dt.datetime(2026, 1, 5, 9, 30), "s1", "s2", "u1", "crm"),
    ("h2", "o1", "amount", dt.datetime(2026, 1, 5, 9, 30), "10000.0", "12500.0", "u1", "crm"),
    ("h3", "o1", "expected_close_date", dt.datetime(2026, 2, 1, 8), "2026-02-28", "2026-03-31",
     "u1", "crm"),
    ("h4", "o1", "owner_id", dt.datetime(2026, 2, 3, 10), "u1", "u2", "u9", "crm"),
    ("h5", "o1", "forecast_category", dt.datetime(2026, 2, 4, 10), None, "commit", "u2", "crm"),
    ("h6", "o1", "amount", dt.datetime(2026, 2, 5, 10), "12500.0", None, "u2", "crm"),
]
COLUMNS = ("remote_id", "opportunity_id", "field", "changed_at", "old_value", "new_value",
           "changed_by", "source")


def sync_history(store: Store, registry: Registry, folder: Path) -> None:
    """Sync ``folder``'s history file."""
    cfg = make_config(store.url, sheet={"type": "files", "path": str(folder)})
    cfg.sync = SyncConfig(max_reject_ratio=1.0)
    report = sync(cfg, registry, store=store, entities=["opportunity_field_history"])
    assert report.ok, report


def test_a_csv_history_file_lands_and_an_unknown_field_is_rejected(
        store: Store, registry: Registry, tmp_path: Path) -> None:
    (tmp_path / "opportunity_field_history.csv").write_text(HISTORY_CSV)
    sync_history(store, registry, tmp_path)
    assert table_rows(store, "opportunity_field_history", *COLUMNS) == EXPECTED
    with store.engine.connect() as conn:
        rejects = conn.execute(sa.select(sync_rejects.c.remote_id, sync_rejects.c.field)).all()
    assert [tuple(r) for r in rejects] == [("h7", "field")]


def test_a_jsonl_history_file_lands_the_same(store: Store, registry: Registry,
                                             tmp_path: Path) -> None:
    lines = []
    for row in EXPECTED:
        record = dict(zip(COLUMNS, row, strict=True))
        record["changed_at"] = record["changed_at"].isoformat() + "Z"
        lines.append(json.dumps(record))
    (tmp_path / "opportunity_field_history.jsonl").write_text("\n".join(lines) + "\n")
    sync_history(store, registry, tmp_path)
    assert table_rows(store, "opportunity_field_history", *COLUMNS) == EXPECTED


def connector(folder: Path, **settings: Any) -> FilesConnector:
    """A files connector over ``folder``."""
    return FilesConnector("sheet", FilesConnector.validate_settings(
        {"path": str(folder), **settings}))


def test_without_a_history_file_the_engine_observes_every_field(tmp_path: Path) -> None:
    assert connector(tmp_path).history_fields() == frozenset()


def test_a_history_file_covers_every_tracked_field(tmp_path: Path) -> None:
    (tmp_path / "opportunity_field_history.jsonl").write_text("")
    assert connector(tmp_path).history_fields() == frozenset(HISTORY_FIELDS)


def test_the_history_fields_setting_names_the_fields_the_file_covers(tmp_path: Path) -> None:
    (tmp_path / "opportunity_field_history.csv").write_text(HISTORY_CSV)
    chosen = connector(tmp_path, history_fields=["stage_id", "amount"])
    assert chosen.history_fields() == frozenset({"stage_id", "amount"})


def test_an_untracked_history_field_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not tracked fields: colour"):
        connector(tmp_path, history_fields=["amount", "colour"])


def test_numbers_are_written_as_float_text_whatever_the_file_wrote(
        store: Store, registry: Registry, tmp_path: Path) -> None:
    (tmp_path / "opportunity_field_history.jsonl").write_text(
        '{"remote_id": "h1", "opportunity_id": "o1", "field": "amount", '
        '"changed_at": "2026-01-05T09:30:00Z", "old_value": 10000, "new_value": 12500.5}\n'
        '{"remote_id": "h2", "opportunity_id": "o1", "field": "probability", '
        '"changed_at": "2026-01-05T09:30:00Z", "old_value": "0.20", "new_value": "1"}\n'
        '{"remote_id": "h3", "opportunity_id": "o1", "field": "amount", '
        '"changed_at": "2026-01-06T09:30:00Z", "old_value": 12500.5, "new_value": "n/a"}\n'
        '{"remote_id": "h4", "opportunity_id": "o1", "field": "owner_id", '
        '"changed_at": "2026-01-06T09:30:00Z", "old_value": "007", "new_value": "42"}\n')
    sync_history(store, registry, tmp_path)
    assert table_rows(store, "opportunity_field_history", "remote_id", "old_value",
                      "new_value") == [("h1", "10000.0", "12500.5"), ("h2", "0.2", "1.0"),
                                       ("h3", "12500.5", "n/a"), ("h4", "007", "42")]
