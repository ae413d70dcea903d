"""The files connector reads ``products.csv`` and ``opportunity_line_items.csv`` (its tables
are the schema's), rejects bad billing values naming the field, and the two tables round-trip
through ``crmsync export``."""

from __future__ import annotations

import sqlalchemy as sa

from conftest import load_records, make_config, table_rows
from crmsync.api import export, sync
from crmsync.core.config import SyncConfig
from crmsync.core.schema import sync_rejects
from crmsync.store import Store

PRODUCTS = """\
remote_id,name,code,family,is_active,billing_frequency,term_months,unit_price,currency
P1,Analytics Pro,AP-1,Analytics,true,monthly,12,120,USD
P2,Onboarding,ON-1,Services,true,one_time,,5000,USD
"""
LINES = """\
remote_id,opportunity_id,product_id,quantity,unit_price,discount,amount,currency,\
billing_frequency,term_months,billing_start_date
L1,O1,P1,3,120,18,342,USD,monthly,12,2026-02-01
L2,O1,P2,1,5000,0,5000,USD,one_time,,
L3,O2,P1,2,120,0,240,USD,fortnightly,12,2026-02-01
L4,,P1,1,120,0,120,USD,monthly,12,2026-02-01
"""


def test_product_and_line_item_files_land_and_bad_rows_name_the_field(store, tmp_path,
                                                                      registry) -> None:
    data = tmp_path / "in"
    data.mkdir()
    (data / "products.csv").write_text(PRODUCTS)
    (data / "opportunity_line_items.csv").write_text(LINES)
    cfg = make_config(store.url, sheet={"type": "files", "path": str(data)})
    cfg.sync = SyncConfig(max_reject_ratio=1.0)

    assert sync(cfg, registry, store=store, entities=["products",
                                                      "opportunity_line_items"]).ok

    assert table_rows(store, "products", "remote_id", "family", "term_months") == [
        ("P1", "Analytics", 12), ("P2", "Services", None)]
    assert table_rows(store, "opportunity_line_items", "remote_id", "amount",
                      "billing_frequency") == [("L1", 342.0, "monthly"),
                                               ("L2", 5000.0, "one_time")]
    with store.engine.connect() as c:
        rejects = c.execute(sa.select(sync_rejects.c.remote_id, sync_rejects.c.field)
                            .order_by(sync_rejects.c.remote_id)).all()
    assert [tuple(r) for r in rejects] == [("L3", "billing_frequency"),
                                           ("L4", "opportunity_id")]


DATASET = {
    "products": [{"remote_id": "P1", "name": "Analytics Pro", "family": "Analytics",
                  "is_active": True, "unit_price": 120.5, "billing_frequency": "annually",
                  "term_months": 24}],
    "opportunity_line_items": [{"remote_id": "L1", "opportunity_id": "O1", "product_id": "P1",
                                "quantity": 3.0, "unit_price": 120.5, "discount": 0.1 + 0.2,
                                "amount": 361.2, "currency": "EUR",
                                "billing_frequency": "monthly", "term_months": 12,
                                "billing_start_date": "2026-02-01"}],
}


def test_products_and_line_items_round_trip_through_export(sqlite_store, tmp_path,
                                                           registry) -> None:
    load_records(sqlite_store, DATASET, connection="crm")
    for fmt in ("csv", "jsonl"):
        out = tmp_path / fmt
        counts = export(make_config(sqlite_store.url), out, fmt)
        assert counts["products"] == 1 and counts["opportunity_line_items"] == 1
        copy = Store(f"sqlite:///{tmp_path / (fmt + '.db')}")
        cfg = make_config(copy.url, crm={"type": "files", "path": str(out)})
        assert sync(cfg, registry, store=copy).ok
        for name in DATASET:
            assert table_rows(copy, name) == table_rows(sqlite_store, name), (fmt, name)
        copy.dispose()
