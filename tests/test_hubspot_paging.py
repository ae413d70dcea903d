"""HubSpot paging is decided by ``paging.next`` alone, on every paged read.

The fake portal's ``page_caps`` make an endpoint answer fewer records than the ``limit`` asked,
still naming a next page (as endpoints with smaller caps do): owners, archived records, search
and v4 associations then take many short pages, and a sync must store exactly what it stores
when every page is full.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import make_config, table_rows
from crmsync import api
from crmsync.core.reports import RunReport
from crmsync.core.schema import SYNCED_TABLES
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from fakes.hs_data import Dataset
from fakes.hubspot_portal import FakeHubSpotPortal

DATA = Dataset(deals=150, contacts=80, companies=20, engagements=40, owners=23)


@pytest.fixture
def portal(fake_hubspot_factory: Callable[..., FakeHubSpotPortal]) -> FakeHubSpotPortal:
    """A portal with 23 owners (three archived), whose window is as large as the connector's
    ``rate_limit`` (its headers never say "none left": nothing here waits for real)."""
    fake = fake_hubspot_factory(DATA)
    fake.portal.limits.max_per_interval = 100_000
    return fake


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """Two fresh SQLite stores: one synced with full pages, one with short pages."""
    pair = (Store(f"sqlite:///{tmp_path / 'full.db'}"), Store(f"sqlite:///{tmp_path / 'short.db'}"))
    yield pair
    for s in pair:
        s.dispose()


def sync(store: Store, fake: FakeHubSpotPortal, registry: Registry,
         monkeypatch: pytest.MonkeyPatch, entities: tuple[str, ...] = ()) -> RunReport:
    monkeypatch.setenv("HS_TOKEN", fake.access_token)
    config = make_config(store.url, hub={"type": "hubspot", "base_url": fake.base_url,
                                         "access_token": "${HS_TOKEN}", "rate_limit": 100_000,
                                         "search_rate_limit": 10_000})
    report = api.sync(config, registry, entities=entities, store=store)
    assert report.status == "success", report.error
    return report


def contents(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    return {table: table_rows(store, table) for table in SYNCED_TABLES}


def test_owners_on_short_pages_are_all_stored(portal, stores, registry, monkeypatch):
    full, short = stores
    sync(full, portal, registry, monkeypatch, ("users",))
    portal.portal.page_caps["owners"] = 4
    portal.reset_calls()
    sync(short, portal, registry, monkeypatch, ("users",))
    assert len(portal.calls_to("owners")) == 6  # 20 active (5 pages), 3 archived (1 page)
    assert len(table_rows(short, "users")) == 23
    assert table_rows(short, "users") == table_rows(full, "users")


def test_archived_records_on_short_pages_are_all_deleted(portal, stores, registry,
                                                         monkeypatch):
    full, short = stores
    entities = ("opportunities", "contacts")
    for store in stores:
        sync(store, portal, registry, monkeypatch, entities)
    for object_type, ids in (("deals", portal.portal.ids("deals")[5:12]),
                             ("contacts", portal.portal.ids("contacts")[:4])):
        for record_id in ids:
            portal.portal.archive(object_type, record_id)
    sync(full, portal, registry, monkeypatch, entities)
    portal.portal.page_caps["objects"] = 2
    portal.reset_calls()
    sync(short, portal, registry, monkeypatch, entities)
    assert len(portal.calls_to(r"deals\?.*archived=true")) == 4  # 7 archived deals, 2 a page
    deleted = [r for r in table_rows(short, "opportunities", "remote_id", "is_deleted") if r[1]]
    assert len(deleted) == 7
    assert contents(short) == contents(full)


def test_search_on_short_pages_reads_every_record(portal, stores, registry, monkeypatch):
    full, short = stores
    sync(full, portal, registry, monkeypatch)
    portal.portal.page_caps["search"] = 17
    portal.reset_calls()
    sync(short, portal, registry, monkeypatch)
    assert len(portal.calls_to("deals/search")) >= 150 // 17
    assert contents(short) == contents(full)


def test_associations_on_short_pages_are_all_attached(portal, stores, registry, monkeypatch):
    full, short = stores
    sync(full, portal, registry, monkeypatch, ("opportunities", "opportunity_contacts",
                                               "activities"))
    portal.portal.page_caps["associations"] = 1
    portal.reset_calls()
    sync(short, portal, registry, monkeypatch, ("opportunities", "opportunity_contacts",
                                                "activities"))
    assert portal.calls_to(r"GET /crm/v4/objects/deals/\d+/associations/contacts")
    assert table_rows(short, "opportunity_contacts")
    assert contents(short) == contents(full)


def test_follow_asks_for_each_named_page_and_stops_without_one():
    from crmsync_hubspot.paging import follow

    answers = {None: {"results": [1], "paging": {"next": {"after": "a"}}},
               "a": {"results": [], "paging": {"next": {"after": "b"}}},  # empty, not last
               "b": {"results": [2]}}
    asked: list[str | None] = []
    pages = list(follow(lambda after: asked.append(after) or answers[after]))
    assert asked == [None, "a", "b"] and [p["results"] for p in pages] == [[1], [], [2]]


def test_follow_refuses_an_answer_naming_the_page_it_answers():
    from crmsync import ConnectorError
    from crmsync_hubspot.paging import follow

    with pytest.raises(ConnectorError, match=r"paging\.next\.after='x'"):
        list(follow(lambda after: {"results": [], "paging": {"next": {"after": "x"}}}))
