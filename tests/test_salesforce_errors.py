"""Salesforce errors map to crmsync errors by errorCode, never by the (localised) message."""

from __future__ import annotations

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from crmsync.core.errors import AuthError, ConnectorError, QuotaExhausted, TransientError
from crmsync_salesforce.errors import QueryTimeout, error_code, translate

URL = "https://example.my.salesforce.com/services/data/v61.0/queryAll/"


def _translate(exc: Exception, **kw: object) -> Exception:
    return translate(exc, connection="sf", entity="opportunities", what="query Opportunity",
                     **kw)


def test_error_code_is_read_from_the_json_list() -> None:
    exc = SalesforceMalformedRequest(URL, 400, "query", [
        {"message": "列を絞り込む場合、条件は必須です", "errorCode": "MALFORMED_QUERY"}])

    assert error_code(exc) == "MALFORMED_QUERY"


def test_status_code_of_save_results_counts_as_the_code() -> None:
    exc = SalesforceGeneralError(URL, 500, "x", [{"statusCode": "UNABLE_TO_LOCK_ROW",
                                                  "message": "m"}])

    assert error_code(exc) == "UNABLE_TO_LOCK_ROW"


def test_query_timeout_asks_for_a_smaller_window() -> None:
    exc = SalesforceMalformedRequest(URL, 400, "query", [
        {"message": "Your query request was running for too long.",
         "errorCode": "QUERY_TIMEOUT"}])

    assert isinstance(_translate(exc), QueryTimeout)


def test_request_limit_exceeded_stops_on_the_quota() -> None:
    exc = SalesforceRefusedRequest(URL, 403, "query", [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])

    err = _translate(exc)

    assert isinstance(err, QuotaExhausted) and "api quota" in str(err)


def test_insufficient_access_is_a_clear_connector_error_not_a_retry() -> None:
    exc = SalesforceRefusedRequest(URL, 403, "query", [
        {"message": "Insufficient privileges", "errorCode": "INSUFFICIENT_ACCESS"}])

    err = _translate(exc)

    assert type(err) is ConnectorError and "INSUFFICIENT_ACCESS" in str(err)


def test_invalid_field_names_the_object_and_the_code() -> None:
    exc = SalesforceMalformedRequest(URL, 400, "query", [
        {"message": "No such column 'Secret__c' on entity 'Opportunity'.",
         "errorCode": "INVALID_FIELD"}])

    assert str(_translate(exc)) == ("sf/opportunities: query Opportunity: INVALID_FIELD: No such "
                                    "column 'Secret__c' on entity 'Opportunity'.")


def test_an_expired_session_without_credentials_is_an_auth_error_saying_what_to_do() -> None:
    exc = SalesforceExpiredSession(URL, 401, "query", [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])

    err = _translate(exc, can_reauthenticate=False)

    assert isinstance(err, AuthError) and "fresh session_id" in str(err)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(status: int) -> None:
    exc = SalesforceGeneralError(URL, status, "query", [
        {"message": "unavailable", "errorCode": "SERVER_UNAVAILABLE"}])

    assert isinstance(_translate(exc), TransientError)


def test_a_server_error_without_a_json_body_is_transient() -> None:
    exc = SalesforceGeneralError(URL, 502, "query", "<html>Bad gateway</html>")

    assert isinstance(_translate(exc), TransientError)


@pytest.mark.parametrize("exc", [requests.ReadTimeout("slow"),
                                 requests.ConnectionError("connection reset by peer")])
def test_timeouts_and_resets_are_transient(exc: Exception) -> None:
    assert isinstance(_translate(exc), TransientError)


@pytest.mark.parametrize("exc", [
    requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead(10 bytes read, "
                                             "90 more expected)"),
    requests.exceptions.ContentDecodingError("Received response with content-encoding: gzip, "
                                             "but failed to decode it"),
    requests.exceptions.JSONDecodeError("Unterminated string", '{"records": [{"Id": "00', 14)])
def test_a_body_cut_short_is_transient(exc: Exception) -> None:
    err = _translate(exc)
    assert isinstance(err, TransientError)
    assert "cut short" in str(err) and type(exc).__name__ in str(err)


def test_the_message_never_decides_the_class() -> None:
    exc = SalesforceMalformedRequest(URL, 400, "query", [
        {"message": "QUERY_TIMEOUT REQUEST_LIMIT_EXCEEDED", "errorCode": "MALFORMED_QUERY"}])

    assert type(_translate(exc)) is ConnectorError


def test_other_exceptions_are_bugs_and_keep_their_type() -> None:
    with pytest.raises(KeyError):
        _translate(KeyError("x"))
