"""Connector settings: auth modes, field_map, objects and the quota percentages."""

from __future__ import annotations

from typing import Any

import pytest

from crmsync.core.errors import ConfigError
from crmsync_salesforce import SalesforceConnector
from crmsync_salesforce.client import auth_mode, endpoint_label

SESSION = {"instance_url": "https://example.my.salesforce.com", "session_id": "00D!x"}


def _validate(**raw: Any) -> dict[str, Any]:
    return SalesforceConnector.validate_settings(raw, file="crmsync.toml",
                                                 section="connections.sf")


def test_defaults_are_the_documented_ones() -> None:
    s = _validate(**SESSION)

    assert (s["bulk_threshold"], s["lookback_seconds"], s["quota_run_percent"],
            s["quota_total_percent"], s["api_version"]) == (10000, 600, 50, 90, "61.0")


def test_incomplete_credentials_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no complete credentials"):
        _validate(username="someone@example.com")


@pytest.mark.parametrize(("raw", "mode"), [
    (SESSION, "session"),
    ({"username": "u", "password": "p"}, "password"),
    ({"username": "u", "consumer_key": "k", "private_key_file": "key.pem"}, "jwt"),
])
def test_the_auth_mode_follows_the_settings(raw: dict[str, str], mode: str) -> None:
    assert auth_mode(raw) == mode


def test_secrets_are_secret_settings() -> None:
    assert {"session_id", "password", "security_token"} <= SalesforceConnector.secret_settings()


def test_field_map_must_name_a_column_of_the_objects_table() -> None:
    with pytest.raises(ConfigError, match="Account is read into accounts"):
        _validate(**SESSION, field_map={"Account.Segment__c": "contacts.segment"})


def test_field_map_accepts_custom_keys() -> None:
    s = _validate(**SESSION, field_map={"Opportunity.Product_Line__c":
                                        "opportunities.custom.product_line"})

    assert SalesforceConnector("sf", s).field_map == {
        "Opportunity": {"Product_Line__c": "custom.product_line"}}


def test_unknown_entities_in_objects_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown entities"):
        _validate(**SESSION, objects={"deals": False})


@pytest.mark.parametrize("key", ["quota_run_percent", "quota_total_percent"])
def test_quota_percentages_must_be_percentages(key: str) -> None:
    with pytest.raises(ConfigError, match="percentage"):
        _validate(**SESSION, **{key: 150})


@pytest.mark.parametrize(("method", "url", "label"), [
    ("GET", "https://x/services/data/v61.0/queryAll/?q=SELECT", "GET /queryAll"),
    ("GET", "https://x/services/data/v61.0/query/0r8xx5R2yRjYJoUASW-2000",
     "GET /query (next page)"),
    ("GET", "https://x/services/data/v61.0/sobjects/Opportunity/describe/",
     "GET /sobjects/Opportunity/describe"),
    ("GET", "https://x/services/data/v61.0/jobs/query/750R0000000zlh9IAA/results",
     "GET /jobs/query/{id}/results"),
    ("POST", "https://login.salesforce.com/services/Soap/u/61.0", "POST /Soap/u (login)"),
    ("POST", "https://x/services/oauth2/token", "POST /oauth2/token"),
])
def test_endpoint_labels(method: str, url: str, label: str) -> None:
    assert endpoint_label(method, url) == label


def test_field_map_refuses_history_objects_whose_rows_are_not_mapped_field_by_field() -> None:
    with pytest.raises(ConfigError, match=r"OpportunityHistory\.Amount"):
        _validate(**SESSION, field_map={"OpportunityHistory.Amount":
                                        "opportunity_stage_history.amount"})


# -- domain and api_version: where the login (password or signed JWT) is sent -----------------


@pytest.mark.parametrize(("domain", "stored"), [
    ("login", "login"),
    ("test", "test"),
    ("MyCompany.my", "mycompany.my"),
    ("mycompany--uat.sandbox.my", "mycompany--uat.sandbox.my"),
    ("mycompany-dev-ed.develop.my", "mycompany-dev-ed.develop.my"),
    ("mycompany.scratch.my", "mycompany.scratch.my"),
])
def test_login_test_and_my_domains_are_accepted(domain: str, stored: str) -> None:
    assert _validate(**SESSION, domain=domain)["domain"] == stored


@pytest.mark.parametrize("domain", [
    "evil.example/steal?x=",             # https://evil.example/steal?x=.salesforce.com/…
    "evil.example#",
    "evil.example:8443/x?",
    "user@evil.example/x?",
    "login.salesforce.com@evil.example/x?",
    "mycompany.my:443",
    "mycompany.my/services",
    "mycompany..my",
    "-mycompany.my",
])
def test_a_domain_that_is_not_a_host_name_is_refused_naming_connection_and_key(
        domain: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _validate(**SESSION, domain=domain)

    assert str(caught.value).startswith("crmsync.toml, [connections.sf], key 'domain': ")


def test_a_domain_with_characters_outside_host_names_is_refused_even_when_custom_hosts_are_allowed(
        ) -> None:
    with pytest.raises(ConfigError, match="key 'domain'"):
        _validate(**SESSION, domain="evil.example/x?", allow_custom_login_host=True)


@pytest.mark.parametrize("domain", ["na1", "welcome", "mycompany.lightning.force",
                                    "a.b.c.my", "evil"])
def test_another_salesforce_host_needs_allow_custom_login_host(domain: str) -> None:
    with pytest.raises(ConfigError, match="needs allow_custom_login_host = true"):
        _validate(**SESSION, domain=domain)

    assert _validate(**SESSION, domain=domain, allow_custom_login_host=True)["domain"] == domain


@pytest.mark.parametrize(("domain", "hint"), [
    ("mycompany.my.salesforce.com", "'mycompany.my'"),
    ("https://mycompany.my.salesforce.com/", "'mycompany.my'"),
    ("test.salesforce.com", "'test'"),
])
def test_a_full_login_host_is_refused_with_the_domain_to_write(domain: str, hint: str) -> None:
    with pytest.raises(ConfigError, match=f"without .salesforce.com .*e.g. {hint}"):
        _validate(**SESSION, domain=domain)


@pytest.mark.parametrize(("version", "stored"), [("61.0", "61.0"), ("v58.0", "58.0"),
                                                 ("100.0", "100.0")])
def test_api_versions_are_accepted_without_their_v(version: str, stored: str) -> None:
    assert _validate(**SESSION, api_version=version)["api_version"] == stored


@pytest.mark.parametrize("version", ["61", "61.1", "1.0", "1000.0", "61.0/../../x", "latest",
                                     " 61.0?"])
def test_a_bad_api_version_is_refused_naming_connection_and_key(version: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _validate(**SESSION, api_version=version)

    assert str(caught.value).startswith("crmsync.toml, [connections.sf], key 'api_version': ")
