"""The demo's ``opportunity_field_history``: chains that end in each deal's record, agree with
the stage history, and hold the changes a real CRM's audit trail shows."""

from __future__ import annotations

import collections
import datetime as dt
import itertools
from collections.abc import Mapping
from typing import Any

import pytest

from crmsync import HISTORY_FIELDS
from crmsync_demo import DemoConnector
from crmsync_demo.dataset import DemoDataset

Record = Mapping[str, Any]
NOW = dt.datetime(2026, 9, 30)


def text(value: Any) -> str | None:
    """A record's value in the history's text encoding (docs/history.md)."""
    if value is None:
        return None
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def read(entity: str, **settings: Any) -> list[Record]:
    """Every record of ``entity`` of the demo dataset with ``settings``."""
    connector = DemoConnector("demo", DemoConnector.validate_settings(settings))
    return [r for batch in connector.read(entity, None) for r in batch.records]


@pytest.fixture(scope="module")
def deals() -> dict[str, Record]:
    """The small dataset's deals by remote id."""
    return {d["remote_id"]: d for d in read("opportunities")}


@pytest.fixture(scope="module")
def changes() -> dict[tuple[str, str], list[Record]]:
    """The small dataset's field changes per (deal, field), in the order they happened."""
    out: dict[tuple[str, str], list[Record]] = collections.defaultdict(list)
    for row in read("opportunity_field_history"):
        out[row["opportunity_id"], row["field"]].append(row)
    for rows in out.values():
        rows.sort(key=lambda r: r["changed_at"])
    return out


def test_the_demo_reads_the_history_of_every_tracked_field() -> None:
    connector = DemoConnector("demo", DemoConnector.validate_settings({}))
    assert connector.history_fields() == frozenset(HISTORY_FIELDS)


def test_every_change_is_a_crm_change_of_a_tracked_field_within_the_deal_life(
        deals: dict[str, Record], changes: dict[tuple[str, str], list[Record]]) -> None:
    for (deal_id, field), rows in changes.items():
        deal = deals[deal_id]
        assert field in HISTORY_FIELDS
        for row in rows:
            assert row["source"] == "crm"
            assert deal["remote_created_at"] < row["changed_at"] < NOW
            assert row["old_value"] != row["new_value"]
            if deal["closed_at"] is not None and field != "owner_id":
                assert row["changed_at"] <= deal["closed_at"]


def test_each_field_chain_is_unbroken_and_ends_in_the_deal_value(
        deals: dict[str, Record], changes: dict[tuple[str, str], list[Record]]) -> None:
    for (deal_id, field), rows in changes.items():
        assert len({r["changed_at"] for r in rows}) == len(rows)
        for before, after in itertools.pairwise(rows):
            assert after["old_value"] == before["new_value"], (deal_id, field)
        assert rows[-1]["new_value"] == text(deals[deal_id][field]), (deal_id, field)


def test_values_are_in_the_one_text_encoding(
        changes: dict[tuple[str, str], list[Record]]) -> None:
    for (_, field), rows in changes.items():
        for value in [v for r in rows for v in (r["old_value"], r["new_value"])]:
            if value is None:
                continue
            if field in ("amount", "probability"):
                assert repr(float(value)) == value
            elif field == "expected_close_date":
                assert dt.date.fromisoformat(value).isoformat() == value


def test_every_stage_entry_after_creation_is_a_stage_change_at_the_same_instant(
        changes: dict[tuple[str, str], list[Record]]) -> None:
    visits: dict[str, list[Record]] = collections.defaultdict(list)
    for row in read("opportunity_stage_history"):
        visits[row["opportunity_id"]].append(row)
    for deal_id, rows in visits.items():
        rows.sort(key=lambda r: r["entered_at"])
        stage_changes = changes.get((deal_id, "stage_id"), [])
        assert [(c["changed_at"], c["old_value"], c["new_value"]) for c in stage_changes] == [
            (v["entered_at"], u["stage_id"], v["stage_id"]) for u, v in itertools.pairwise(rows)]


def test_the_stage_history_amount_is_the_amount_at_entry(
        deals: dict[str, Record], changes: dict[tuple[str, str], list[Record]]) -> None:
    for visit in read("opportunity_stage_history"):
        rows = changes.get((visit["opportunity_id"], "amount"), [])
        before = [r for r in rows if r["changed_at"] <= visit["entered_at"]]
        after = [r for r in rows if r["changed_at"] > visit["entered_at"]]
        at_entry = before[-1]["new_value"] if before else after[0]["old_value"] if after else \
            text(deals[visit["opportunity_id"]]["amount"])
        assert text(visit["amount"]) == at_entry


def test_push_count_counts_the_close_date_pushes(
        deals: dict[str, Record], changes: dict[tuple[str, str], list[Record]]) -> None:
    for deal_id, deal in deals.items():
        rows = changes.get((deal_id, "expected_close_date"), [])
        assert deal["custom"]["push_count"] == sum(r["new_value"] > r["old_value"] for r in rows)


def _directions(rows: list[Record], field: str) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    for row in rows:
        old, new = row["old_value"], row["new_value"]
        if field == "amount":
            old, new = float(old), float(new)
        counts["up" if new > old else "down"] += 1
    return counts


def test_the_history_holds_pushes_pull_ins_and_resizes_both_ways(
        changes: dict[tuple[str, str], list[Record]]) -> None:
    pushed_often = [k for k, rows in changes.items() if k[1] == "expected_close_date"
                    and _directions(rows, "expected_close_date")["up"] >= 3]
    closes = _directions([r for k, rows in changes.items() if k[1] == "expected_close_date"
                          for r in rows], "expected_close_date")
    amounts = _directions([r for k, rows in changes.items() if k[1] == "amount"
                           for r in rows], "amount")
    assert len(pushed_often) >= 20
    assert closes["down"] >= 100 and amounts["up"] >= 100 and amounts["down"] >= 100


def test_owners_currencies_and_forecast_categories_change_on_some_deals(
        deals: dict[str, Record], changes: dict[tuple[str, str], list[Record]]) -> None:
    fields = collections.Counter(field for (_, field) in changes)
    assert fields["owner_id"] >= 5
    assert fields["currency"] >= 10
    currency = [r for k, rows in changes.items() if k[1] == "currency" for r in rows]
    assert {r["old_value"] for r in currency} == {"USD"}
    overrides = {d["forecast_category"] for d in deals.values()} - {None}
    assert overrides <= {"best_case", "commit", "pipeline", "omitted"}
    assert {"best_case", "commit"} <= overrides


def test_a_currency_correction_converts_the_amount_at_the_same_instant(
        changes: dict[tuple[str, str], list[Record]]) -> None:
    for (deal_id, field), rows in changes.items():
        if field == "currency":
            amount_times = {r["changed_at"] for r in changes[deal_id, "amount"]}
            assert rows[0]["changed_at"] in amount_times


def test_reopened_deals_change_stage_out_of_a_closed_stage(
        changes: dict[tuple[str, str], list[Record]]) -> None:
    closed = {"S107", "S108", "S205", "S206"}
    reopened = {k[0] for k, rows in changes.items() if k[1] == "stage_id"
                and any(r["old_value"] in closed for r in rows)}
    assert reopened


@pytest.mark.parametrize("size", ["medium", "large"])
def test_bigger_sizes_have_histories_that_end_in_the_deal_values(size: str) -> None:
    dataset = DemoDataset(size, 42, dt.date(2026, 9, 30))
    every = dataset.deals.count // 300
    for index in range(0, dataset.deals.count, every):
        plan = dataset.deals.plan(index)
        record = dataset.deal_records.opportunity(plan)
        assert record is not None
        last: dict[str, str | None] = {}
        for row in dataset.deal_records.field_history(plan):
            assert last.get(row["field"], row["old_value"]) == row["old_value"]
            last[row["field"]] = row["new_value"]
        for field, value in last.items():
            assert value == text(record[field]), (index, field)
