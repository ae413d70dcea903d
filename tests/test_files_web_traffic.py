"""The files connector reads ``web_traffic.csv`` / ``.jsonl`` (its tables are the schema's),
rejects bad rows naming the field while keeping the good ones, and the table round-trips
through ``crmsync export``."""

from __future__ import annotations

import json

import sqlalchemy as sa

from conftest import load_records, make_config, table_rows
from crmsync.api import export, sync
from crmsync.core.config import SyncConfig
from crmsync.core.schema import sync_rejects
from crmsync.store import Store

TRAFFIC = """\
remote_id,date,channel,sessions,page_views,new_contacts
2026-11-03:organic_search,2026-11-03,organic_search,120,310,4
2026-11-03:direct,2026-11-03,direct,40,55,
2026-11-04:email,2026-11-04,email,-3,10,1
2026-11-04:paid_search,,paid_search,10,12,0
"""


def _rejects(store: Store) -> list[tuple[str, str]]:
    with store.engine.connect() as c:
        rows = c.execute(sa.select(sync_rejects.c.remote_id, sync_rejects.c.field)
                         .order_by(sync_rejects.c.remote_id)).all()
    return [tuple(r) for r in rows]


def test_web_traffic_csv_lands_and_bad_rows_name_the_field(store, tmp_path, registry) -> None:
    data = tmp_path / "in"
    data.mkdir()
    (data / "web_traffic.csv").write_text(TRAFFIC)
    cfg = make_config(store.url, sheet={"type": "files", "path": str(data)})
    cfg.sync = SyncConfig(max_reject_ratio=1.0)

    assert sync(cfg, registry, store=store, entities=["web_traffic"]).ok

    assert table_rows(store, "web_traffic", "remote_id", "sessions", "new_contacts") == [
        ("2026-11-03:direct", 40, None), ("2026-11-03:organic_search", 120, 4)]
    assert _rejects(store) == [("2026-11-04:email", "sessions"),
                               ("2026-11-04:paid_search", "date")]


def test_web_traffic_jsonl_lands(sqlite_store, tmp_path, registry) -> None:
    data = tmp_path / "in"
    data.mkdir()
    rows = [{"remote_id": "2026-11-03:email", "date": "2026-11-03", "channel": "email",
             "sessions": 7, "page_views": 9, "new_contacts": 1}]
    (data / "web_traffic.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = make_config(sqlite_store.url, sheet={"type": "files", "path": str(data)})

    assert sync(cfg, registry, store=sqlite_store, entities=["web_traffic"]).ok
    assert table_rows(sqlite_store, "web_traffic", "remote_id", "channel", "page_views") == [
        ("2026-11-03:email", "email", 9)]


DATASET = {"web_traffic": [
    {"remote_id": "2026-11-03:organic_search", "date": "2026-11-03",
     "channel": "organic_search", "sessions": 120, "page_views": 310, "new_contacts": 4},
    {"remote_id": "2026-11-03:direct", "date": "2026-11-03", "channel": "direct",
     "sessions": 40, "page_views": None, "new_contacts": None},
]}


def test_web_traffic_round_trips_through_export(sqlite_store, tmp_path, registry) -> None:
    load_records(sqlite_store, DATASET, connection="crm")
    for fmt in ("csv", "jsonl"):
        out = tmp_path / fmt
        counts = export(make_config(sqlite_store.url), out, fmt)
        assert counts["web_traffic"] == 2
        copy = Store(f"sqlite:///{tmp_path / (fmt + '.db')}")
        cfg = make_config(copy.url, crm={"type": "files", "path": str(out)})
        assert sync(cfg, registry, store=copy).ok
        assert table_rows(copy, "web_traffic") == table_rows(sqlite_store, "web_traffic"), fmt
        copy.dispose()
