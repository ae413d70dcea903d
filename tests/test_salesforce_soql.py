"""SOQL built for incremental reads: unquoted datetimes, the compound cursor, windows."""

from __future__ import annotations

import datetime as dt

from crmsync_salesforce import soql

UTC = dt.timezone.utc
T = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_datetime_literals_are_unquoted_utc_to_the_second() -> None:
    cet = dt.timezone(dt.timedelta(hours=1))

    assert soql.datetime_literal(dt.datetime(2024, 1, 2, 4, 4, 5, 999, tzinfo=cet)) == \
        "2024-01-02T03:04:05Z"


def test_naive_datetimes_are_taken_as_utc() -> None:
    assert soql.datetime_literal(dt.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05Z"


def test_salesforce_datetimes_parse_with_or_without_colon_in_the_offset() -> None:
    assert soql.parse_datetime("2024-01-02T03:04:05.000+0000") == \
        soql.parse_datetime("2024-01-02T03:04:05Z") == T


def test_strings_are_quoted_and_escaped() -> None:
    assert soql.quote("O'Brien \\ co") == "'O\\'Brien \\\\ co'"


def test_compound_cursor_condition() -> None:
    where = soql.incremental_where(since=T, after_id="006A", until=None)

    assert where == ("(SystemModstamp > 2024-01-02T03:04:05Z OR (SystemModstamp = "
                     "2024-01-02T03:04:05Z AND Id > '006A'))")


def test_without_an_id_the_window_starts_inclusive() -> None:
    assert soql.incremental_where(since=T, after_id=None, until=None) == \
        "SystemModstamp >= 2024-01-02T03:04:05Z"


def test_a_window_has_an_inclusive_end() -> None:
    end = T + dt.timedelta(hours=1)

    assert soql.incremental_where(since=T, after_id=None, until=end) == \
        "SystemModstamp >= 2024-01-02T03:04:05Z AND SystemModstamp <= 2024-01-02T04:04:05Z"


def test_a_full_read_has_no_condition() -> None:
    assert soql.incremental_where(since=None, after_id=None, until=None) == ""


def test_select_orders_by_modstamp_and_id() -> None:
    assert soql.select("Account", ["Id", "Name"], where="IsDeleted = false") == \
        "SELECT Id, Name FROM Account WHERE IsDeleted = false ORDER BY SystemModstamp, Id"


def test_rows_after_a_position_in_a_compound_order() -> None:
    assert soql.after(["OpportunityId", "CreatedDate", "Id"],
                      ["006A", "2024-01-02T03:04:05.000+0000", "008B"],
                      ["reference", "datetime", "id"]) == (
        "(OpportunityId > '006A' OR (OpportunityId = '006A' AND (CreatedDate > "
        "2024-01-02T03:04:05Z OR (CreatedDate = 2024-01-02T03:04:05Z AND Id > '008B'))))")


def test_in_ids() -> None:
    assert soql.in_ids("OpportunityId", ["006A", "006B"]) == "OpportunityId IN ('006A', '006B')"
