"""``crmsync.api.pipeline_changes`` on hand-built and synthetic histories, on SQLite and
PostgreSQL: the figures read off by hand, the exact identity start + Σ changes = end (in
total and per group), and the per-deal decomposition (docs/pipeline-changes.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from conftest import load_records, make_config
from crmsync import api
from crmsync.core.errors import MetricError
from crmsync.orchestration.pipeline_changes import parse_window
from crmsync.store import Store
from pipeline_changes_data import HAND, HAND_EXPECTED, synthetic

JULY = {"date_from": dt.date(2026, 7, 1), "date_to": dt.date(2026, 7, 31)}


def report(store: Store, **options: Any) -> dict[str, Any]:
    return api.pipeline_changes(make_config(store.url), store=store, **{**JULY, **options})


def lines(lines_: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {line["category"]: line for line in lines_}


def assert_identity(lines_: list[dict[str, Any]]) -> None:
    by = lines(lines_)
    changes = [line for key, line in by.items() if key not in ("start", "end")]
    assert by["start"]["cents"] + sum(c["cents"] for c in changes) == by["end"]["cents"]
    assert by["start"]["count"] + sum(c["count"] for c in changes) == by["end"]["count"]
    assert by["start"]["count"] == by["start"]["deals"]
    assert by["end"]["count"] == by["end"]["deals"]


@pytest.fixture
def hand_store(store: Store) -> Store:
    load_records(store, HAND)
    return store


@pytest.fixture
def synthetic_store(store: Store) -> Store:
    load_records(store, synthetic())
    return store


def test_the_hand_built_report_matches_the_hand_counted_figures(hand_store: Store) -> None:
    got = {k: (v["deals"], v["amount"]) for k, v in lines(report(hand_store)["total"]).items()}
    assert got == HAND_EXPECTED


@pytest.mark.parametrize("by", [None, "owner", "team"])
def test_start_plus_changes_is_the_end_on_the_hand_built_history(hand_store: Store,
                                                                 by: str | None) -> None:
    result = report(hand_store, by=by)
    assert_identity(result["total"])
    for group in result["groups"]:
        assert_identity(group["lines"])


def test_a_deal_changing_hands_moves_between_teams(hand_store: Store) -> None:
    teams = {g["name"]: lines(g["lines"]) for g in report(hand_store, by="team")["groups"]}
    assert (teams["East"]["moved_out"]["deals"], teams["East"]["moved_out"]["amount"]) == (
        1, -800.0)
    assert (teams["West"]["moved_in"]["deals"], teams["West"]["moved_in"]["amount"]) == (
        1, 800.0)


def test_groups_add_up_to_the_total(hand_store: Store) -> None:
    result = report(hand_store, by="owner")
    assert {g["name"] for g in result["groups"]} == {"Ann East", "Bob West"}
    for key, line in lines(result["total"]).items():
        assert sum(lines(g["lines"])[key]["cents"] for g in result["groups"]) == line["cents"]
    assert lines(result["total"])["end"]["cents"] == lines(report(hand_store)["total"])[
        "end"]["cents"]


@pytest.mark.parametrize("by", [None, "owner", "team"])
def test_start_plus_changes_is_the_end_on_a_synthetic_history(synthetic_store: Store,
                                                              by: str | None) -> None:
    for window in ("quarter", "all", "2026-06-15..2026-08-15"):
        result = report(synthetic_store, by=by, window=window)
        assert_identity(result["total"])
        for group in result["groups"]:
            assert_identity(group["lines"])
        assert lines(result["total"])["end"]["deals"] > 0


def test_the_synthetic_history_exercises_every_category(synthetic_store: Store) -> None:
    result = report(synthetic_store, by="owner", window="2026-06-15..2026-08-15")
    empty = {k for k, v in lines(result["total"]).items() if v["deals"] == 0}
    assert empty == set()


def _deal_terms(d: dict[str, Any]) -> dict[str, float]:
    """A listed deal's category amounts under the documented per-deal rules."""
    terms: dict[str, float] = {}
    for c in d["categories"]:
        if c in ("created", "pulled_in", "reopened", "moved_in"):
            terms[c] = d["amount_start"]
        elif c == "moved_out":
            terms[c] = -d["amount_start"]
        elif c == "amount_change":
            terms[c] = round(d["amount_end"] - d["amount_start"], 2)
        else:
            terms[c] = -d["amount_end"]
    return terms


def test_the_listed_deals_add_up_to_each_category(synthetic_store: Store) -> None:
    result = report(synthetic_store, deals=True)
    sums: dict[str, float] = {}
    for d in result["deals"]:
        for c, amount in _deal_terms(d).items():
            sums[c] = round(sums.get(c, 0.0) + amount, 2)
    for key, line in lines(result["total"]).items():
        if key not in ("start", "end", "moved_in", "moved_out"):
            assert sums.get(key, 0.0) == line["amount"], key


def test_the_deal_lists_name_deals_and_owners(hand_store: Store) -> None:
    deals = {d["deal_id"]: d for d in report(hand_store, deals=True)["deals"]}
    assert set(deals) == {"P2", "P3", "P4", "P5", "P6", "P8", "P9", "P10", "P13"}
    p9 = deals["P9"]
    assert (p9["name"], p9["owner"], p9["categories"]) == (
        "Quick win", "Ann East", ["created", "amount_change", "won"])
    assert (p9["amount_start"], p9["amount_end"]) == (600.0, 900.0)


def test_a_deal_pushed_three_times_shows_its_pushes_and_days(hand_store: Store) -> None:
    p2 = {d["deal_id"]: d for d in report(hand_store, deals=True)["deals"]}["P2"]
    assert (p2["categories"], p2["pushes"], p2["push_days"], p2["pushes_in_period"]) == (
        ["pushed_out"], 3, 17 + 50 + 25, 1)


def test_every_close_date_counts_with_window_all(hand_store: Store) -> None:
    total = lines(report(hand_store, window="all")["total"])
    assert (total["pushed_out"]["deals"], total["pulled_in"]["deals"]) == (0, 0)
    # P11 (created for next year) now counts as created
    assert total["created"]["amount"] == 850.0 + 300.0


def test_windows_are_fiscal_periods_or_explicit_ranges() -> None:
    w = parse_window(None, dt.date(2026, 8, 20), fiscal_year_start_month=2)
    assert (w.first, w.last) == (dt.date(2026, 8, 1), dt.date(2026, 10, 31))
    w = parse_window("2026-07-01..2026-09-30", dt.date(2026, 1, 1))
    assert (w.first, w.last) == (dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    assert parse_window("all", dt.date(2026, 1, 1)).first is None


@pytest.mark.parametrize("bad", ["2026-09-30..2026-07-01", "next", "2026-13-01..2026-14-01"])
def test_a_bad_window_is_refused_naming_it(bad: str) -> None:
    with pytest.raises(MetricError, match="window"):
        parse_window(bad, dt.date(2026, 7, 1))


def test_an_empty_store_reports_zeros(sqlite_store: Store) -> None:
    result = report(sqlite_store, by="team")
    assert result["groups"] == []
    assert {line["cents"] for line in result["total"]} == {0}


def test_to_before_from_is_refused(sqlite_store: Store) -> None:
    with pytest.raises(MetricError, match="before"):
        api.pipeline_changes(make_config(sqlite_store.url), store=sqlite_store,
                             date_from=dt.date(2026, 7, 2), date_to=dt.date(2026, 7, 1))


@pytest.mark.parametrize("by", [None, "owner", "team"])
def test_the_lines_summed_from_the_deal_list_equal_the_sql_sums(synthetic_store: Store,
                                                                by: str | None) -> None:
    for window in ("quarter", "2026-06-15..2026-08-15"):
        plain = report(synthetic_store, by=by, window=window)
        listed = report(synthetic_store, by=by, window=window, deals=True)
        assert listed["total"] == plain["total"]
        assert listed["groups"] == plain["groups"]
        assert listed["unpriced"] == plain["unpriced"]
