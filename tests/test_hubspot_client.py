"""Settings checks and client construction of the HubSpot connector (no network)."""

from __future__ import annotations

from typing import Any

import pytest

from crmsync import ConfigError
from crmsync_hubspot import HubSpotConnector


def make(**settings: Any) -> HubSpotConnector:
    return HubSpotConnector("hs", HubSpotConnector.validate_settings(settings))


def test_credentials_are_required() -> None:
    with pytest.raises(ConfigError, match="access_token"):
        make()


def test_oauth_needs_all_three_settings() -> None:
    with pytest.raises(ConfigError) as err:
        make(client_id="id", client_secret="secret")
    assert err.value.key == "refresh_token"


def test_unknown_objects_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="quotes"):
        make(access_token="x", objects=["opportunities", "quotes"])


def test_objects_narrow_the_entities_read() -> None:
    assert make(access_token="x", objects=["opportunities", "users"]).ENTITIES == \
        ("users", "opportunities")


def test_daily_budget_percent_must_be_a_share() -> None:
    with pytest.raises(ConfigError) as err:
        make(access_token="x", daily_budget_percent=0)
    assert err.value.key == "daily_budget_percent"


def test_field_map_column_must_exist() -> None:
    with pytest.raises(ConfigError, match="not a column of opportunities"):
        make(access_token="x", field_map={"deals": {"source_channel": "channel"}})


def test_field_map_accepts_a_schema_column() -> None:
    make(access_token="x", field_map={"deals": {"source_channel": "lead_source"}})


def test_lead_definition_choices_are_checked() -> None:
    with pytest.raises(ConfigError):
        make(access_token="x", lead_definition="forms")


def test_one_api_client_per_sub_package() -> None:
    client = make(access_token="x").client
    assert client.objects.api_client is client.objects_search.api_client
    assert client.objects.api_client is client.objects_batch.api_client
    assert client.sdk.crm.objects.basic_api.api_client is client.objects.api_client


def test_the_sdk_retry_is_off() -> None:
    client = make(access_token="x").client
    assert client.objects.api_client.configuration.retries is False


def test_base_url_points_the_sdk_elsewhere() -> None:
    client = make(access_token="x", base_url="http://127.0.0.1:9/").client
    assert client.objects.api_client.configuration.host == "http://127.0.0.1:9"


def test_a_window_with_nothing_left_makes_the_next_call_wait() -> None:
    from crmsync_hubspot.errors import normalise_headers

    client = make(access_token="x").client
    client.read_limits(normalise_headers([("X-HubSpot-RateLimit-Remaining", "0"),
                                          ("X-HubSpot-RateLimit-Interval-Milliseconds", "2000")]),
                       None)
    assert 1.5 < client.throttle.general.delay() <= 2.0


def test_daily_headers_give_the_quota() -> None:
    from crmsync_hubspot.errors import normalise_headers

    client = make(access_token="x").client
    client.read_limits(normalise_headers({"X-HubSpot-RateLimit-Daily": "250000",
                                           "X-HubSpot-RateLimit-Daily-Remaining": "249000"}),
                        None)
    assert client.quota is not None and (client.quota.used, client.quota.limit) == \
        (1000, 250000)


def test_associations_beyond_one_batch_row_are_paged_per_record() -> None:
    from crmsync_hubspot.client import Response
    from crmsync_hubspot.errors import CIHeaders

    conn = make(access_token="x")
    answers = {
        "POST /crm/v4/associations/deals/contacts/batch/read": {"results": [
            {"from": {"id": "1"}, "to": [{"toObjectId": 10}, {"toObjectId": 10}],
             "paging": {"next": {"after": "p2"}}}]},
        "GET /crm/v4/objects/deals/{id}/associations/contacts": {"results": [
            {"toObjectId": 11}]},
    }
    conn.client.call = lambda endpoint, *a, **kw: Response(  # type: ignore[method-assign]
        200, answers[endpoint], CIHeaders())
    deals = [{"id": "1", "properties": {}}]
    conn.associate("deals", deals, ("contacts",), "opportunity_contacts")
    assert conn.deal_tables.contacts_of(deals)[-1]["contact_id"] == "11"
    assert [r["contact_id"] for r in conn.deal_tables.contacts_of(deals)] == ["10", "11"]
