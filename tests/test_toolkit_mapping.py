"""crmsync.map_records / record_errors: a record whose mapping fails becomes a reject naming
its field; the rest of the page is kept; bugs keep their traceback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from crmsync import RecordError, map_records, parse_datetime, record_errors


def deal(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {"remote_id": str(raw["id"]), "name": raw["title"], "amount": float(raw["value"]),
            "closed_at": parse_datetime(raw["won_time"]) if raw.get("won_time") else None}


GOOD = {"id": 1, "title": "Pilot", "value": "10.5", "won_time": None}


def test_good_records_are_kept_in_the_batch() -> None:
    batch = map_records([GOOD], deal, entity="opportunities", cursor=["x", 1])

    assert [r["name"] for r in batch.records] == ["Pilot"] and batch.cursor == ["x", 1]
    assert not batch.rejects


@pytest.mark.parametrize(("raw", "field", "reason"), [
    ({"id": 2, "value": "1"}, "title", "missing field 'title'"),
    ({"id": 3, "title": "x", "value": "ten"}, "value", "could not convert string to float"),
    ({"id": 4, "title": "x", "value": None}, "value", "float() argument must be"),
    ({"id": 5, "title": "x", "value": "1", "won_time": "yesterday"}, "won_time",
     "not an ISO 8601 timestamp: 'yesterday'"),
])
def test_a_failing_record_is_rejected_naming_its_field(raw, field, reason) -> None:
    batch = map_records([GOOD, raw], deal, entity="opportunities")

    assert [r["remote_id"] for r in batch.records] == ["1"]
    [reject] = batch.rejects
    assert (reject.remote_id, reject.field) == (str(raw["id"]), field)
    assert reason in reject.reason and reject.payload == raw


def test_a_record_error_gets_the_records_remote_id() -> None:
    def picky(raw: Mapping[str, Any]) -> dict[str, Any]:
        raise RecordError("unknown stage 'opne'", entity="opportunities", field="stage")

    [reject] = map_records([{"id": 9}], picky, entity="opportunities").rejects

    assert (reject.remote_id, reject.field, reject.reason) == ("9", "stage",
                                                               "unknown stage 'opne'")


def test_another_exception_is_a_bug_and_propagates() -> None:
    def buggy(raw: Mapping[str, Any]) -> dict[str, Any]:
        return {"remote_id": raw["id"], "x": 1 / 0}

    with pytest.raises(ZeroDivisionError):
        map_records([GOOD], buggy, entity="opportunities")


def test_record_errors_raises_a_record_error_naming_entity_record_and_field() -> None:
    with pytest.raises(RecordError) as raised:
        record_errors(deal, entity="opportunities")({"id": 7, "value": "1"})

    assert str(raised.value) == "opportunities record 7, field 'title': missing field 'title'"
