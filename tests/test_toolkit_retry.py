"""A connector on the toolkit raises, the engine retries: a 429 from the test server is
waited out by the engine's retry policy (with a recording sleep, so no time passes) and the
read resumes from the last committed cursor, losing and doubling nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from crmsync import (
    ApiClient,
    Batch,
    BearerAuth,
    Connector,
    Page,
    Setting,
    changed_since,
    map_records,
    parse_datetime,
)
from crmsync.store import Store
from crmsync.sync import SyncEngine
from crmsync.testing import CrmServer

TOKEN = "retry-test-token"


class Accounts(Connector):
    """The smallest connector on the toolkit: organisations, two per page."""

    NAME = "toolkit_accounts"
    ENTITIES = ("accounts",)
    SETTINGS: ClassVar[dict[str, Setting]] = {"base_url": Setting(str, "the API"),
                                              "api_token": Setting(str, "a token")}

    def __init__(self, name: str, settings: dict[str, Any]) -> None:
        super().__init__(name, settings)
        self.client = ApiClient(settings["base_url"], auth=BearerAuth(settings["api_token"]),
                                api_calls=self.api_calls, connection=name)

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        def fetch(since: Any, start: int) -> Page[dict[str, Any]]:
            params = {"start": start, "limit": 2}
            if since:
                params["updated_since"] = since.strftime("%Y-%m-%d %H:%M:%S")
            body = self.client.get("/organizations", params=params)
            return Page(body["data"], now=self.client.server_time,
                        more=body["additional_data"]["pagination"]["more_items_in_collection"])

        for raws, at in changed_since(fetch, cursor, key=lambda r: (
                parse_datetime(r["update_time"]), r["id"])):
            yield map_records(raws, lambda r: {"remote_id": str(r["id"]), "name": r["name"]},
                              entity=entity, cursor=at)


@pytest.fixture
def crm() -> Iterator[CrmServer]:
    with CrmServer(token=TOKEN, seed=False) as server:
        for i in range(6):
            server.create("accounts", name=f"Org {i}")
            server.advance(1)
        yield server


def test_the_engine_waits_out_retry_after_and_resumes_from_the_committed_cursor(
        crm: CrmServer, tmp_path: Any) -> None:
    crm.on_next_call(lambda: crm.fail_next(429, retry_after="30"), skip=2)
    waits: list[float] = []
    store = Store(f"sqlite:///{tmp_path / 'retry.db'}")
    try:
        [result] = SyncEngine(store, Accounts("a", {"base_url": crm.url, "api_token": TOKEN}),
                              sleep=waits.append).run()
    finally:
        store.dispose()

    assert waits == [30.0]
    assert (result.status, result.rows_upserted) == ("success", 6)
    paths = [path for _, path in crm.calls]
    assert paths[3] == paths[2] != paths[0]  # the refused page again, not the first one
