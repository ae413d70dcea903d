"""Leads (``lead_definition = "lifecycle"``) replay the contact pages of the same sync's
``contacts`` read instead of searching every contact again (crmsync_hubspot.lead_spool,
docs/connectors/hubspot.md "Leads"): the same rows as a read of their own, none of its
search calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import make_config, table_rows
from crmsync import api
from crmsync.store import Store
from fakes.hs_data import Dataset


def _sync(tmp: Path, fake: Any, registry: Any, monkeypatch: Any, name: str,
          entities: tuple[str, ...]) -> tuple[Store, dict[str, Any]]:
    monkeypatch.setenv("HS_TOKEN", fake.access_token)
    store = Store(f"sqlite:///{tmp / name}.db")
    config = make_config(store.url, hub={
        "type": "hubspot", "base_url": fake.base_url, "access_token": "${HS_TOKEN}",
        "rate_limit": 100_000, "search_rate_limit": 10_000,
        # a contact property into a column only `leads` has: the contacts read must ask it
        "field_map": {"contacts": {"company": "company"}}})
    report = api.sync(config, registry, entities=entities, store=store)
    assert report.status == "success", report.error
    return store, {d.entity: d for d in report.details}


def test_leads_replayed_from_the_contacts_read_equal_leads_read_on_their_own(
        tmp_path: Path, fake_hubspot_factory: Any, registry: Any, monkeypatch: Any) -> None:
    fake = fake_hubspot_factory(Dataset(deals=20, contacts=450, companies=10, engagements=5,
                                        owners=3))
    both, details = _sync(tmp_path, fake, registry, monkeypatch, "both", ("contacts", "leads"))
    alone, alone_details = _sync(tmp_path, fake, registry, monkeypatch, "alone", ("leads",))
    replayed = table_rows(both, "leads")
    assert replayed == table_rows(alone, "leads")
    companies = table_rows(both, "leads", "company")
    assert replayed and any(c for (c,) in companies)  # came through the replay
    assert details["leads"].rows_read == alone_details["leads"].rows_read > 0
    # alone: three search pages of contacts, their associations and the archived pass;
    # replayed: the archived pass only
    assert alone_details["leads"].api_calls >= 4
    assert details["leads"].api_calls == 1
    both.dispose()
    alone.dispose()
