"""The toolkit test server (crmsync.testing.CrmServer): a Pipedrive-shaped CRM on loopback
that is also the contract suite's World."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from crmsync.testing import CrmServer
from crmsync.testing.world import World

TOKEN = "server-test-token"


@pytest.fixture
def crm() -> Iterator[CrmServer]:
    with CrmServer(token=TOKEN) as server:
        yield server


@pytest.fixture
def api(crm: CrmServer) -> Any:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"

    def call(method: str, path: str, **kwargs: Any) -> requests.Response:
        return session.request(method, crm.url + path, timeout=5, **kwargs)

    yield call
    session.close()


def test_it_is_a_world(crm) -> None:
    assert isinstance(crm, World)
    assert set(crm.ENTITIES) == {"accounts", "contacts", "opportunities", "activities"}


def test_the_seed_lists_every_collection(api) -> None:
    counts = {c: len(api("GET", f"/{c}").json()["data"])
              for c in ("users", "pipelines", "stages", "organizations", "persons", "deals",
                        "activities")}

    assert counts == {"users": 2, "pipelines": 1, "stages": 3, "organizations": 2,
                      "persons": 2, "deals": 3, "activities": 2}


def test_lists_page_by_start_and_limit(api) -> None:
    first = api("GET", "/deals", params={"limit": 2}).json()
    rest = api("GET", "/deals", params={"start": 2, "limit": 2}).json()

    assert first["additional_data"]["pagination"] == {
        "start": 0, "limit": 2, "more_items_in_collection": True, "next_start": 2}
    assert len(rest["data"]) == 1
    assert rest["additional_data"]["pagination"]["more_items_in_collection"] is False


def test_updated_since_is_inclusive_and_sorted_by_update_time_then_id(crm, api) -> None:
    crm.advance(10)
    later = crm.create("accounts", name="Later")
    earlier = crm.create("accounts", name="Earlier")
    crm.update("accounts", later)  # same second: order by id

    rows = api("GET", "/organizations",
               params={"updated_since": "2026-01-05 09:00:10"}).json()["data"]

    assert [str(r["id"]) for r in rows] == [later, earlier]


def test_the_clock_moves_only_on_advance_and_is_the_date_header(crm, api) -> None:
    before = api("GET", "/users").headers["Date"]
    crm.advance(61)
    after = api("GET", "/users").headers["Date"]

    assert before == "Mon, 05 Jan 2026 09:00:00 GMT"
    assert after == "Mon, 05 Jan 2026 09:01:01 GMT"


def test_create_update_and_value_speak_schema_terms(crm) -> None:
    deal = crm.create("opportunities", name="Pilot", amount=10.0)

    changed = crm.update("opportunities", deal)
    named = crm.update("opportunities", deal, name="Renamed")

    assert changed == {"amount": 110.0} and named == {"name": "Renamed"}
    assert crm.value("opportunities", deal, "title") == "Renamed"


def test_soft_deletes_stay_listed_hard_deletes_go_to_the_feed(crm, api) -> None:
    soft, hard = crm.create("accounts"), crm.create("accounts")
    crm.delete("accounts", soft)
    crm.delete("accounts", hard, hard=True)

    listed = {str(r["id"]): r["deleted"] for r in api("GET", "/organizations").json()["data"]}
    feed = api("GET", "/deleted", params={"object": "organization"}).json()["data"]

    assert listed[soft] is True and hard not in listed
    assert [str(d["object_id"]) for d in feed] == [hard]


def test_fail_next_answers_the_next_calls_with_the_status(crm, api) -> None:
    crm.fail_next(429, retry_after="3", times=2)

    answers = [api("GET", "/users") for _ in range(3)]

    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "3"


def test_on_next_call_runs_before_the_call_after_skip(crm, api) -> None:
    seen = []
    crm.on_next_call(lambda: seen.append(len(crm.calls)), skip=1)

    api("GET", "/users")
    api("GET", "/users")
    api("GET", "/users")

    assert seen == [2]


def test_a_wrong_token_is_401(crm) -> None:
    answer = requests.get(crm.url + "/users", headers={"Authorization": "Bearer nope"},
                          timeout=5)

    assert answer.status_code == 401 and answer.json()["success"] is False


def test_fields_are_created_with_40_hex_keys_and_written_through_them(crm, api) -> None:
    deal = crm.create("opportunities")

    field = api("POST", "/dealFields", json={"name": "crmsync win rate",
                                             "field_type": "double"}).json()["data"]
    written = api("PUT", f"/deals/{deal}", json={field["key"]: 0.5})
    refused = api("PUT", f"/deals/{deal}", json={"no_such_field": 1})

    assert re.fullmatch(r"[0-9a-f]{40}", field["key"])
    assert written.status_code == 200 and refused.status_code == 400
    assert crm.value("opportunities", deal, "crmsync win rate") == 0.5


def test_the_rate_limit_answers_429_with_retry_after(crm, api) -> None:
    crm.rate_limit = 2
    answers = [api("GET", "/users") for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[1].headers["X-RateLimit-Remaining"] == "0"
    assert answers[2].headers["Retry-After"] == "2"


def test_open_connections_counts_the_clients_connections_until_it_closes_them(crm) -> None:
    session = requests.Session()
    session.get(crm.url + "/users", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    during = crm.open_connections()

    session.close()

    assert (during, crm.open_connections()) == (1, 0)
