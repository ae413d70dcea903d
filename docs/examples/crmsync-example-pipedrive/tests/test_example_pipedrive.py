"""Tests of the example Pipedrive-shaped connector, against crmsync's toolkit test server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from crmsync import AuthError, FieldSpec, RateLimited, WriteUpdate
from crmsync.testing import ConnectorContract, CrmServer, LiveConnectorContract
from crmsync_example_pipedrive import PipedriveConnector

TOKEN = "pd-test-token-0123"


@pytest.fixture
def crm() -> Iterator[CrmServer]:
    with CrmServer(token=TOKEN) as server:
        yield server


def make(crm: CrmServer, **settings: Any) -> PipedriveConnector:
    """A connector built the way the host builds it: validated settings, defaults filled in."""
    raw = {"base_url": crm.url, "api_token": TOKEN, "page_size": 2, **settings}
    return PipedriveConnector("test", PipedriveConnector.validate_settings(raw))


class TestContract(ConnectorContract):
    """Everything every connector must do, from crmsync.testing."""

    @pytest.fixture
    def connector(self, crm: CrmServer) -> PipedriveConnector:
        return make(crm)


class TestLiveContract(LiveConnectorContract):
    """crmsync's live contract: it changes the CRM behind the connector between reads
    (updates, changes in the cursor's second, changes between pages, deletes, 429/5xx/401,
    secrets, close(), write-back); CrmServer is its World (docs/testing-plugins.md)."""

    @pytest.fixture
    def world(self, crm: CrmServer) -> CrmServer:
        return crm

    @pytest.fixture
    def connector(self, crm: CrmServer) -> PipedriveConnector:
        return make(crm)


def stored(store: Any, table: str, column: str) -> dict[str, Any]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT remote_id, {column} FROM {table}")).all()
    return {r[0]: r[1] for r in rows}


def test_sync_stores_every_entity(crm, crmsync_sync) -> None:
    results = crmsync_sync(make(crm))

    assert {r.entity: (r.status, r.rows_upserted) for r in results} == {
        "users": ("success", 2), "pipelines": ("success", 1), "stages": ("success", 3),
        "accounts": ("success", 2), "contacts": ("success", 2),
        "opportunities": ("success", 3), "activities": ("success", 2)}


def test_a_change_in_the_cursors_second_on_a_lower_id_is_not_lost(
        crm, crmsync_sync, crmsync_store) -> None:
    first = crm.create("opportunities", name="First")
    crm.create("opportunities", name="Second")
    connector = make(crm)
    crmsync_sync(connector, ["opportunities"])
    crm.update("opportunities", first, name="First, renamed")  # same second, lower id
    crm.advance(5)

    crmsync_sync(connector, ["opportunities"])

    assert stored(crmsync_store, "opportunities", "name")[first] == "First, renamed"


def test_a_record_changed_between_pages_is_read(crm, crmsync_sync, crmsync_store) -> None:
    crm.advance(1)
    ids = [crm.create("accounts", name=f"Org {i}") for i in range(5)]
    crm.advance(1)
    crm.on_next_call(lambda: crm.update("accounts", ids[0], name="moved"), skip=1)

    crmsync_sync(make(crm, page_size=2), ["accounts"])

    names = stored(crmsync_store, "accounts", "name")
    assert set(ids) <= set(names) and names[ids[0]] == "moved"


@pytest.mark.parametrize("hard", [False, True], ids=["archived", "gone"])
def test_deleted_deals_are_marked_deleted(crm, crmsync_sync, crmsync_store, hard) -> None:
    connector = make(crm)
    crmsync_sync(connector, ["opportunities"])
    deal = next(iter(stored(crmsync_store, "opportunities", "name")))
    crm.advance(2)
    crm.delete("opportunities", deal, hard=hard)
    crm.advance(2)

    crmsync_sync(connector, ["opportunities"])

    assert stored(crmsync_store, "opportunities", "is_deleted")[deal] == 1


def test_a_429_is_raised_with_its_retry_after(crm) -> None:
    crm.fail_next(429, retry_after="7")

    with pytest.raises(RateLimited) as raised:
        list(make(crm).read("accounts", None))

    assert raised.value.retry_after == 7.0


def test_a_wrong_token_is_an_auth_error_without_the_token(crm) -> None:
    connector = make(crm, api_token="wrong-token-4567")

    with pytest.raises(AuthError) as raised:
        connector.check()

    assert "HTTP 401" in str(raised.value) and "wrong-token-4567" not in str(raised.value)


def test_write_back_creates_a_field_and_writes_through_its_key(crm) -> None:
    connector = make(crm)
    deal = crm.create("opportunities", name="Scored")

    info = connector.ensure_field("opportunities", FieldSpec("crmsync_win_rate", "percent",
                                                             "Win rate"))
    results = list(connector.write("opportunities", [
        WriteUpdate(deal, {"crmsync_win_rate": 42.5}), WriteUpdate("999999", {"x": 1})]))

    assert (info.name, info.writable) == ("crmsync_win_rate", True)
    assert [(r.ok, r.missing) for r in results] == [(True, False), (False, True)]
    assert crm.value("opportunities", deal, "crmsync_win_rate") == 42.5
    assert connector.read_values("opportunities", [deal, "999999"], ["crmsync_win_rate"]) == {
        deal: {"crmsync_win_rate": 42.5}}
