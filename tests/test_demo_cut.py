"""The demo's ``cut_at``: the dataset as it stood at an earlier instant, derived from the same
plans. It is the oracle of the as-of reconstruction, so it must agree with the full dataset's
histories exactly and be self-consistent."""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest

from crmsync import HISTORY_FIELDS
from crmsync_demo import DemoConnector
from test_demo_connector import REFERENCES
from test_demo_field_history import text

Record = Mapping[str, Any]
Records = dict[str, list[Record]]
AS_OF = dt.datetime(2026, 9, 30)
CUTS = ("2026-07-01", "2025-11-15T14:30:00")


def read_all(**settings: Any) -> Records:
    """Every record of every entity of the demo dataset with ``settings``."""
    connector = DemoConnector("demo", DemoConnector.validate_settings(settings))
    return {entity: [r for batch in connector.read(entity, None) for r in batch.records]
            for entity in connector.ENTITIES}


def by_id(records: list[Record]) -> dict[str, Record]:
    """``records`` keyed by remote id."""
    return {r["remote_id"]: r for r in records}


@pytest.fixture(scope="module")
def full() -> Records:
    """The small dataset as of its today."""
    return read_all()


@pytest.fixture(scope="module", params=CUTS)
def cut(request: pytest.FixtureRequest) -> tuple[dt.datetime, Records]:
    """The small dataset cut at each of :data:`CUTS`, with the cut instant."""
    return dt.datetime.fromisoformat(request.param), read_all(cut_at=request.param)


def test_a_cut_one_second_before_as_of_is_the_full_dataset(full: Records) -> None:
    assert read_all(cut_at="2026-09-29T23:59:59") == full


def test_a_cut_at_or_after_as_of_changes_nothing(full: Records) -> None:
    assert read_all(cut_at="2026-09-30")["opportunities"] == full["opportunities"]


def test_nothing_in_a_cut_happens_after_the_cut(cut: tuple[dt.datetime, Records]) -> None:
    until, data = cut
    for entity, rows in data.items():
        for row in rows:
            late = {k: v for k, v in row.items() if isinstance(v, dt.datetime) and v > until}
            assert not late, (entity, row["remote_id"], late)


def test_records_created_by_the_cut_are_all_there_and_no_others(
        full: Records, cut: tuple[dt.datetime, Records]) -> None:
    until, data = cut
    for entity in ("accounts", "contacts", "leads", "opportunities", "opportunity_contacts",
                   "feedback", "quotas", "currency_rates", "spend"):
        expected = [r["remote_id"] for r in full[entity] if r["remote_created_at"] <= until]
        assert [r["remote_id"] for r in data[entity]] == expected, entity
    assert data["opportunities"] and len(data["opportunities"]) < len(full["opportunities"])


@pytest.mark.parametrize(("entity", "column"), sorted(REFERENCES))
def test_every_reference_in_a_cut_resolves_within_the_cut(
        cut: tuple[dt.datetime, Records], entity: str, column: str) -> None:
    _, data = cut
    targets = {r["remote_id"] for r in data[REFERENCES[entity, column]]}
    assert {r[column] for r in data[entity] if r.get(column) is not None} <= targets


def _as_of(rows: list[Record], until: dt.datetime, current: str | None) -> str | None:
    """The documented reconstruction rule for one deal and field (docs/history.md)."""
    before = [r for r in rows if r["changed_at"] <= until]
    after = [r for r in rows if r["changed_at"] > until]
    if before:
        return before[-1]["new_value"]
    return after[0]["old_value"] if after else current


def test_cut_deals_are_the_full_histories_replayed_to_the_cut(
        full: Records, cut: tuple[dt.datetime, Records]) -> None:
    until, data = cut
    deals = by_id(full["opportunities"])
    changes: dict[tuple[str, str], list[Record]] = collections.defaultdict(list)
    for row in sorted(full["opportunity_field_history"], key=lambda r: r["changed_at"]):
        changes[row["opportunity_id"], row["field"]].append(row)
    for deal in data["opportunities"]:
        for field in HISTORY_FIELDS:
            current = text(deals[deal["remote_id"]][field])
            assert text(deal[field]) == _as_of(changes[deal["remote_id"], field], until,
                                               current), (deal["remote_id"], field)


def test_cut_deals_follow_their_stage_at_the_cut(cut: tuple[dt.datetime, Records]) -> None:
    _, data = cut
    stages = by_id(data["stages"])
    current = {v["opportunity_id"]: v for v in data["opportunity_stage_history"]
               if v["exited_at"] is None}
    for deal in data["opportunities"]:
        visit = current[deal["remote_id"]]
        stage = stages[deal["stage_id"]]
        assert visit["stage_id"] == deal["stage_id"]
        assert deal["probability"] == stage["probability"]
        assert deal["status"] == ("open" if not stage["is_closed"] else
                                  "won" if stage["is_won"] else "lost")
        assert deal["closed_at"] == (visit["entered_at"] if stage["is_closed"] else None)
        assert (deal["won_reason"] is not None) == (deal["status"] == "won")
        assert (deal["lost_reason"] is not None) == (deal["status"] == "lost")


def test_deals_nothing_happened_to_after_the_cut_are_as_today(
        full: Records, cut: tuple[dt.datetime, Records]) -> None:
    until, data = cut
    last = dict.fromkeys(by_id(full["opportunities"]), dt.datetime.min)
    for row in [*full["opportunity_field_history"], *full["opportunity_stage_history"]]:
        key = row["opportunity_id"]
        last[key] = max(last[key], row.get("changed_at") or row["entered_at"])
    deals = by_id(full["opportunities"])
    settled = [d for d in data["opportunities"] if last[d["remote_id"]] <= until]
    assert settled
    for deal in settled:
        assert deal == deals[deal["remote_id"]]


def test_cut_histories_are_the_full_histories_up_to_the_cut(
        full: Records, cut: tuple[dt.datetime, Records]) -> None:
    until, data = cut
    assert data["opportunity_field_history"] == [
        r for r in full["opportunity_field_history"] if r["changed_at"] <= until]
    expected = []
    for visit in full["opportunity_stage_history"]:
        if visit["entered_at"] <= until:
            if visit["exited_at"] is not None and visit["exited_at"] > until:
                visit = {**visit, "exited_at": None, "remote_updated_at": visit["entered_at"]}
            expected.append(visit)
    assert data["opportunity_stage_history"] == expected


def test_leads_converted_after_the_cut_are_not_converted_in_it(
        full: Records, cut: tuple[dt.datetime, Records]) -> None:
    until, data = cut
    leads = by_id(data["leads"])
    later = [r for r in full["leads"] if r["converted_at"] and r["converted_at"] > until
             and r["remote_created_at"] <= until]
    assert later
    for lead in later:
        at_cut = leads[lead["remote_id"]]
        assert at_cut["status"] in ("New", "Working")
        assert at_cut["converted_at"] is at_cut["converted_opportunity_id"] is None
    deals = by_id(data["opportunities"])
    for lead in data["leads"]:
        if lead["converted_opportunity_id"]:
            assert deals[lead["converted_opportunity_id"]]["remote_created_at"] == \
                lead["converted_at"]


def test_reps_who_left_after_the_cut_are_active_in_it(
        full: Records, cut: tuple[dt.datetime, Records]) -> None:
    until, data = cut
    users = by_id(data["users"])
    for user in full["users"]:
        if not user["is_active"] and user["remote_created_at"] <= until:
            assert users[user["remote_id"]]["is_active"] == \
                (user["remote_updated_at"] > until)


def test_a_cut_has_its_own_cursor_fingerprint_and_resumes_within_itself() -> None:
    connector = DemoConnector("demo", DemoConnector.validate_settings(
        {"cut_at": "2026-07-01", "batch_size": 500}))
    assert "cut at 2026-07-01" in connector.check()
    batches = list(connector.read("opportunity_field_history", None))
    assert batches[0].cursor == {"offset": 500, "dataset": "small:42:2026-09-30:2026-07-01"}
    resumed = [r for b in connector.read("opportunity_field_history", batches[2].cursor)
               for r in b.records]
    assert resumed == [r for b in batches[3:] for r in b.records]
