"""Record validation: the engine checks types, required fields and choices."""

from __future__ import annotations

import datetime as dt

import pytest

from crmsync.core.timeparse import naive_utc, parse_datetime
from crmsync.sync.validate import validator_for


@pytest.mark.parametrize("text, expected", [
    ("2026-05-01", dt.datetime(2026, 5, 1)),
    ("2026-05-01T13:45:00", dt.datetime(2026, 5, 1, 13, 45)),
    ("2026-05-01T13:45:00Z", dt.datetime(2026, 5, 1, 13, 45)),
    ("2026-05-01T13:45:00.250+02:00", dt.datetime(2026, 5, 1, 11, 45, 0, 250000)),
    ("2026-05-01 13:45:00", dt.datetime(2026, 5, 1, 13, 45)),
])
def test_iso_timestamps_become_naive_utc(text, expected):
    assert naive_utc(parse_datetime(text)) == expected


def test_strings_are_coerced_to_column_types():
    row, problems = validator_for("opportunities")({
        "remote_id": "O1", "status": "won", "amount": "1200.50", "probability": 1,
        "expected_close_date": "2026-06-30", "closed_at": "2026-06-29T10:00:00Z",
        "is_deleted": "false", "custom": '{"product_line": "Analytics"}'})
    assert problems == []
    assert row["amount"] == 1200.5 and row["probability"] == 1.0
    assert row["expected_close_date"] == dt.date(2026, 6, 30)
    assert row["closed_at"] == dt.datetime(2026, 6, 29, 10)
    assert row["is_deleted"] is False and row["custom"] == {"product_line": "Analytics"}


def test_missing_columns_are_null_and_is_deleted_defaults_false():
    row, _ = validator_for("accounts")({"remote_id": "A1"})
    assert row["name"] is None and row["is_deleted"] is False
    assert set(row) == set(validator_for("accounts").data_columns)


@pytest.mark.parametrize("record, field, reason", [
    ({"status": "won"}, "remote_id", "required"),
    ({"remote_id": "O1"}, "status", "required"),
    ({"remote_id": "O1", "status": "maybe"}, "status", "not one of lost, open, won"),
    ({"remote_id": "O1", "status": "won", "amount": "lots"}, "amount", "not a number"),
    ({"remote_id": "O1", "status": "won", "amount": float("nan")}, "amount", "finite"),
    ({"remote_id": "O1", "status": "won", "amount": True}, "amount", "boolean"),
    ({"remote_id": "O1", "status": "won", "closed_at": "yesterday"}, "closed_at", "ISO 8601"),
    ({"remote_id": "O1", "status": "won", "custom": "[1, 2]"}, "custom", "JSON object"),
    ({"remote_id": "O1", "status": "won", "colour": "red"}, "colour", "not a column"),
    ({"remote_id": "O1", "status": "won", "connection": "x"}, "connection", "not a column"),
    ({"remote_id": "x" * 300, "status": "won"}, "remote_id", "longer than 255"),
])
def test_invalid_values_name_the_field(record, field, reason):
    row, problems = validator_for("opportunities")(record)
    assert row is None
    assert [p.field for p in problems] == [field]
    assert reason in problems[0].reason


def test_every_bad_field_of_a_record_is_reported():
    _, problems = validator_for("activities")({"remote_id": "X", "type": "fax",
                                               "duration_seconds": "long"})
    assert {p.field for p in problems} == {"type", "duration_seconds", "occurred_at"}


def test_sqlite_rows_hold_what_sqlalchemy_would_store():
    v = validator_for("opportunities", "sqlite")
    row, problems = v.validate({"remote_id": "O1", "status": "won",
                                "closed_at": "2026-06-29T10:00:00", "remote_created_at":
                                "2026-06-01T10:00:00+02:00", "expected_close_date": "2026-06-30",
                                "custom": {"a": 1}}, v.template(connection="c", synced_at=None))
    assert problems == []
    got = dict(zip(v.columns, row, strict=True))
    assert got["closed_at"] == "2026-06-29 10:00:00.000000"
    assert got["remote_created_at"] == "2026-06-01 08:00:00.000000"
    assert got["expected_close_date"] == "2026-06-30"
    assert got["is_deleted"] == 0 and got["custom"] == '{"a": 1}'
    assert got["connection"] == "c"
