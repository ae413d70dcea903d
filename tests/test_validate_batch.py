"""Column-wise validation of a batch gives exactly the rows and rejects of record-by-record
validation (crmsync.sync.columns), whatever the values."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
import sqlalchemy as sa

from crmsync import RowRecords
from crmsync.core.schema import BOOK_KEEPING_COLUMNS, SYNCED_TABLES
from crmsync.store.adapt import column_kind
from crmsync.sync.validate import RecordValidator

#: Values of each kind: good ones in every accepted form and bad ones of every sort.
ODD = {
    "datetime": ["2024-09-08T12:40:48Z", "2024-09-08T12:40:48.000Z", "2024-09-08 12:40:48",
                 "2024-09-08", "2025-03-15Z", "2024-02-30T00:00:00Z", "x", "2024-09-08T12:40Z",
                 "2024-09-08T12:40:48+02:00", "2024-09-08T12:40:48+0200", "20240908T124048Z",
                 " 2024-09-08T12:40:48Z", "2024-09-08T12:40:48z", "2024-W36-1T12:40:48Z",
                 "2024-09-08T12:40:48.123456Z", "", None, dt.datetime(2024, 1, 1), 5,
                 dt.datetime(2024, 9, 8, 12, 40, 48, 123456),
                 dt.datetime(2024, 9, 8, 12, 40, tzinfo=dt.timezone(dt.timedelta(hours=2))),
                 dt.datetime(2024, 9, 8, 12, 40, tzinfo=dt.timezone.utc)],
    "integer": ["1", "007", "-5", "1,200", "1_000", "12.0", "9" * 20, "", None, 5, True, 3.0,
                "abc", "²", "3000000000", " 7"],
    "boolean": ["true", "True", "TRUE", "yes", "0", "1", "maybe", "", None, True, 1, " true"],
    "float": ["1.5", "$1,200.50", "nan", "inf", "1_0", "", None, 2, 2.5, float("nan")],
    "json": ['{"a":1}', "[1]", "x", {"a": 1}, "", None],
    "text": ["call", "Call", " email ", "x" * 70_000, "a\x00b", "", None, 5, "meeting", "CALL",
             "ok", ["list"]],
}
GOOD = {"datetime": "2024-09-08T12:40:48Z", "date": "2024-09-08", "integer": "12",
        "boolean": "true", "float": "1.5", "json": '{"a":1}'}


def value(column: sa.Column[Any], r: random.Random) -> Any:
    kind = column_kind(column)
    if r.random() < 0.8:  # most values good, so most records are
        choices = column.info.get("choices")
        return GOOD.get(kind, sorted(choices)[0] if choices else "ok")
    return r.choice(ODD.get(kind, ODD["datetime"] if kind == "date" else ODD["text"]))


def records(table: sa.Table, r: random.Random, n: int) -> list[dict[str, Any]]:
    columns = [c for c in table.columns if c.name not in BOOK_KEEPING_COLUMNS]
    out = []
    for i in range(n):
        record = {c.name: value(c, r) for c in columns}
        record["remote_id"] = f"R{i}" if r.random() > 0.05 else r.choice(["", None])
        if r.random() < 0.02:
            record["not_a_column"] = r.choice(["", None, "x"])
        if r.random() < 0.02:
            del record[r.choice(columns).name]
        out.append(record)
    return out


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", None])
@pytest.mark.parametrize("table", ["activities", "opportunities", "accounts", "quotas"])
def test_validate_many_equals_validate_record_by_record(table, dialect):
    validator = RecordValidator(SYNCED_TABLES[table], dialect)
    template = validator.template(connection="c", synced_at=dt.datetime(2026, 1, 1))
    batch = records(SYNCED_TABLES[table], random.Random(f"{table}{dialect}"), 1500)
    # Jsonb parameters compare by identity: compare their reprs
    assert repr(validator.validate_many(batch, template)) == \
        repr([validator.validate(r, template) for r in batch])


def test_a_batch_of_export_shaped_records_is_validated_column_wise():
    validator = RecordValidator(SYNCED_TABLES["activities"], "sqlite")
    template = validator.template(connection="c", synced_at=dt.datetime(2026, 1, 1))
    batch = [{"remote_id": f"T{i}", "type": "call", "occurred_at": "2024-09-08T12:40:48Z",
              "remote_updated_at": "2024-09-11T09:42:05.000Z", "duration_seconds": "61",
              "is_automated": "false", "subject": None} for i in range(100)]
    rows = validator._batch.rows(batch, template)  # the fast path proves every one valid
    assert all(row is not None for row in rows)
    assert rows == [validator.validate(r, template)[0] for r in batch]
    assert rows[0][validator.columns.index("occurred_at")] == "2024-09-08 12:40:48.000000"


def _as_rows(batch: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """``batch`` as rows of cells under one header (the union of its fields), a missing field
    and ``None`` as the empty cell, as a CSV reader gives them."""
    names = list(dict.fromkeys(name for record in batch for name in record))
    return names, [["" if record.get(n) is None else record[n] for n in names]
                   for record in batch]


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize("table", ["activities", "opportunities", "accounts"])
def test_row_records_validate_as_their_dicts(table, dialect):
    """Records given as rows of cells (RowRecords, the files connector's batches) give the
    rows and problems of the same records given as dicts, empty cells being missing values."""
    validator = RecordValidator(SYNCED_TABLES[table], dialect)
    template = validator.template(connection="c", synced_at=dt.datetime(2026, 1, 1))
    names, rows = _as_rows(records(SYNCED_TABLES[table], random.Random(f"rows{table}"), 1500))
    given = RowRecords(names, rows)
    dicts = [given[i] for i in range(len(given))]
    assert any(row is None for row, _ in validator.validate_many(given, template))
    assert repr(validator.validate_many(given, template)) == \
        repr([validator.validate(r, template) for r in dicts])


def test_row_records_are_dicts_made_on_demand():
    given = RowRecords(["remote_id", "subject"], [["A1", ""], ["A2", "hi"]])
    assert len(given) == 2
    assert given[0] == {"remote_id": "A1", "subject": None}
    assert given[1:] == [{"remote_id": "A2", "subject": "hi"}]
    assert list(given) == [{"remote_id": "A1", "subject": None},
                           {"remote_id": "A2", "subject": "hi"}]
    assert given.columns() == [("A1", "A2"), ("", "hi")]
    assert RowRecords(["remote_id"], []).columns() == [()]
    with pytest.raises(ValueError):  # a row of another width
        RowRecords(["remote_id", "subject"], [["A1"]])[0]


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", None])
def test_columns_of_datetimes_validate_as_record_by_record(dialect):
    """Connectors that parse times themselves (Salesforce) give columns of datetime values:
    naive, in UTC, in another zone, missing; taken a column at a time, the rows are those of
    record-by-record validation."""
    validator = RecordValidator(SYNCED_TABLES["activities"], dialect)
    template = validator.template(connection="c", synced_at=dt.datetime(2026, 1, 1))
    utc, plus2 = dt.timezone.utc, dt.timezone(dt.timedelta(hours=2))
    times = [dt.datetime(2024, 9, 8, 12, 40, 48, tzinfo=utc),
             dt.datetime(2024, 9, 8, 12, 40, 48, 123456),
             dt.datetime(999, 1, 2, 3, 4, 5, tzinfo=utc), None]
    for extra in ([], [dt.datetime(2024, 9, 8, 14, 40, tzinfo=plus2)], ["2024-09-08T12:40Z"]):
        column = times + extra
        batch = [{"remote_id": f"T{i}", "type": "call", "occurred_at": t or column[0],
                  "remote_created_at": t, "remote_updated_at": column[-1 - i % 2]}
                 for i, t in enumerate(column * 3)]
        made = validator.validate_many(batch, template)
        assert all(row is not None for row, _ in made)
        assert repr(made) == repr([validator.validate(r, template) for r in batch])
    at = validator.columns.index("remote_created_at")
    text = validator.validate_many(batch[:1], template)[0][0][at]
    assert text == ("2024-09-08 12:40:48.000000" if dialect == "sqlite"
                    else dt.datetime(2024, 9, 8, 12, 40, 48))
