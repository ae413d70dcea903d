"""``connect_timeout`` and ``read_timeout`` of the salesforce and hubspot connectors: validated,
and an answer slower than ``read_timeout`` from a loopback server is a retryable
:class:`~crmsync.TransientError`, raised before the server answers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from crmsync import ConfigError, TransientError
from crmsync_hubspot import HubSpotConnector
from crmsync_salesforce import SalesforceConnector

#: How long the slow server holds each answer at most (the test never waits for it).
HOLD = 1.5
#: The read timeout under test.
READ_TIMEOUT = 0.2


class SlowHandler(BaseHTTPRequestHandler):
    """Holds every GET for up to :data:`HOLD` seconds, then answers ``{}``; records when it
    did answer."""

    def do_GET(self) -> None:
        server: Any = self.server
        server.asked.set()
        server.release.wait(HOLD)
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
        except OSError:  # the client gave up first
            pass
        server.answered.set()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[Any]:
    srv: Any = ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
    srv.asked, srv.release, srv.answered = (threading.Event(), threading.Event(),
                                            threading.Event())
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()


def salesforce(url: str, **settings: Any) -> SalesforceConnector:
    raw = {"instance_url": url, "session_id": "00Dxx0000000001!AQ", **settings}
    return SalesforceConnector("sf", SalesforceConnector.validate_settings(raw))


def hubspot(url: str, **settings: Any) -> HubSpotConnector:
    raw = {"access_token": "pat-na1-00000000", "base_url": url, **settings}
    return HubSpotConnector("hs", HubSpotConnector.validate_settings(raw))


def test_a_salesforce_answer_slower_than_read_timeout_is_a_transient_error(
        fake_sf_org: Any) -> None:
    fault = fake_sf_org.org.faults.add("/limits", delay=HOLD)
    connector = SalesforceConnector("sf", SalesforceConnector.validate_settings({
        "instance_url": fake_sf_org.instance_url, "session_id": fake_sf_org.session_id,
        "ca_bundle": fake_sf_org.ca_bundle, "read_timeout": READ_TIMEOUT}))
    try:
        with pytest.raises(TransientError) as caught:
            connector.check()
    finally:
        connector.close()

    assert fault.fired == 1
    assert "Timeout" in str(caught.value)
    assert caught.value.connection == "sf"


def test_a_hubspot_answer_slower_than_read_timeout_is_a_transient_error(
        slow_server: Any) -> None:
    connector = hubspot(slow_server.url, read_timeout=READ_TIMEOUT)
    try:
        with pytest.raises(TransientError) as caught:
            connector.check()
    finally:
        connector.close()

    assert slow_server.asked.is_set()
    assert not slow_server.answered.is_set()  # it gave up before the answer came
    assert "Timeout" in str(caught.value)
    assert caught.value.connection == "hs"


@pytest.mark.parametrize(("connector", "defaults"), [(SalesforceConnector, (30.0, 300.0)),
                                                     (HubSpotConnector, (10.0, 120.0))])
def test_the_default_timeouts_are_the_documented_ones(connector: Any,
                                                      defaults: tuple[float, float]) -> None:
    settings = connector.SETTINGS

    assert (settings["connect_timeout"].default, settings["read_timeout"].default) == defaults


@pytest.mark.parametrize("make", [salesforce, hubspot], ids=["salesforce", "hubspot"])
def test_the_timeouts_reach_the_client(make: Any) -> None:
    connector = make("http://127.0.0.1:9", connect_timeout=3, read_timeout=45.5)

    client = connector.client
    assert client.timeout == (3.0, 45.5)


@pytest.mark.parametrize("make", [salesforce, hubspot], ids=["salesforce", "hubspot"])
@pytest.mark.parametrize("key", ["connect_timeout", "read_timeout"])
@pytest.mark.parametrize("value", [0, -5, float("inf"), float("nan"), "30"])
def test_a_timeout_that_is_not_a_positive_number_is_a_config_error_naming_it(
        make: Any, key: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=f"key '{key}'"):
        make("http://127.0.0.1:9", **{key: value})
