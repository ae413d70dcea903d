"""OpportunityHistory rows → stage entries with entered/exited times, and closed_at."""

from __future__ import annotations

import datetime as dt

from crmsync_salesforce.stage_history import (
    StageTracker,
    closed_at_from_history,
    entries_from_history,
)

UTC = dt.timezone.utc
STAGES = {"Prospecting": "01J1", "Negotiation": "01J2", "Closed Won": "01J3",
          "Closed Lost": "01J4"}


def _row(rid: str, opp: str, stage: str, day: int, amount: float | None = 100.0) -> dict:
    stamp = f"2024-01-{day:02d}T10:00:00.000+0000"
    return {"Id": rid, "OpportunityId": opp, "StageName": stage, "Amount": amount,
            "CreatedById": "005A", "CreatedDate": stamp, "SystemModstamp": stamp,
            "IsDeleted": False}


def _at(day: int) -> dt.datetime:
    return dt.datetime(2024, 1, day, 10, tzinfo=UTC)


def test_each_stage_change_is_an_entry_exited_when_the_next_begins() -> None:
    rows = [_row("008a", "006A", "Prospecting", 1), _row("008b", "006A", "Negotiation", 5),
            _row("008c", "006A", "Closed Won", 9)]

    entries = sorted(entries_from_history(rows, STAGES), key=lambda e: e["entered_at"])

    assert [(e["stage_id"], e["entered_at"], e["exited_at"]) for e in entries] == [
        ("01J1", _at(1), _at(5)), ("01J2", _at(5), _at(9)), ("01J3", _at(9), None)]


def test_rows_that_only_change_the_amount_are_not_entries() -> None:
    rows = [_row("008a", "006A", "Prospecting", 1, 100.0),
            _row("008b", "006A", "Prospecting", 2, 500.0)]

    entries = entries_from_history(rows, STAGES)

    assert [(e["remote_id"], e["amount"]) for e in entries] == [("008a", 100.0)]


def test_entries_are_derived_in_time_order_whatever_the_row_order() -> None:
    rows = [_row("008c", "006A", "Negotiation", 5), _row("008a", "006A", "Prospecting", 1)]

    entries = {e["remote_id"]: e for e in entries_from_history(rows, STAGES)}

    assert entries["008a"]["exited_at"] == _at(5)


def test_entry_ids_are_the_rows_that_entered_the_stage() -> None:
    rows = [_row("008a", "006A", "Prospecting", 1), _row("008b", "006A", "Prospecting", 2),
            _row("008c", "006A", "Negotiation", 3)]

    assert sorted(e["remote_id"] for e in entries_from_history(rows, STAGES)) == \
        ["008a", "008c"]


def test_tracker_re_emits_the_previous_entry_with_its_exit() -> None:
    tracker = StageTracker(STAGES)
    tracker.add(_row("008a", "006A", "Prospecting", 1))

    out = tracker.add(_row("008b", "006A", "Negotiation", 4))

    assert [(e["remote_id"], e["exited_at"]) for e in out] == [("008a", _at(4)), ("008b", None)]


def test_tracker_ignores_rows_it_has_already_derived() -> None:
    tracker = StageTracker(STAGES)
    tracker.start_from([_row("008a", "006A", "Prospecting", 1),
                        _row("008b", "006A", "Negotiation", 4)])

    assert tracker.add(_row("008b", "006A", "Negotiation", 4)) == []


def test_tracker_knows_only_opportunities_it_has_seen() -> None:
    tracker = StageTracker(STAGES)
    tracker.add(_row("008a", "006A", "Prospecting", 1))

    assert (tracker.knows("006A"), tracker.knows("006B")) == (True, False)


def test_changed_by_and_amount_come_from_the_entering_row() -> None:
    (entry,) = entries_from_history([_row("008a", "006A", "Prospecting", 1, 42.0)], STAGES)

    assert (entry["changed_by"], entry["amount"], entry["opportunity_id"]) == (
        "005A", 42.0, "006A")


def test_unknown_stage_names_are_kept_as_the_stage_id() -> None:
    (entry,) = entries_from_history([_row("008a", "006A", "Custom Stage", 1)], STAGES)

    assert entry["stage_id"] == "Custom Stage"


def test_closed_at_is_when_the_closed_stage_was_entered() -> None:
    rows = [_row("008a", "006A", "Prospecting", 1), _row("008b", "006A", "Closed Won", 7),
            _row("008c", "006A", "Closed Won", 9, amount=900.0)]

    assert closed_at_from_history(rows, {"Closed Won", "Closed Lost"}) == {"006A": _at(7)}


def test_moving_between_closed_stages_keeps_the_first_close() -> None:
    rows = [_row("008a", "006A", "Prospecting", 1), _row("008b", "006A", "Closed Won", 7),
            _row("008c", "006A", "Closed Lost", 9)]

    assert closed_at_from_history(rows, {"Closed Won", "Closed Lost"}) == {"006A": _at(7)}


def test_a_reopened_deal_closes_again_later() -> None:
    rows = [_row("008a", "006A", "Closed Lost", 2), _row("008b", "006A", "Negotiation", 5),
            _row("008c", "006A", "Closed Won", 8)]

    assert closed_at_from_history(rows, {"Closed Won", "Closed Lost"}) == {"006A": _at(8)}


def test_open_deals_have_no_closed_at_from_history() -> None:
    rows = [_row("008a", "006A", "Prospecting", 1)]

    assert closed_at_from_history(rows, {"Closed Won"}) == {}
