"""Forecast accuracy (crmsync.api.forecast_accuracy, docs/forecast.md) on a hand-built
history, SQLite and PostgreSQL: the forecast rebuilt at the start of Q1 2026 against what
closed won in it, with a deal pushed out of the quarter and one pulled into it."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest

from conftest import load_records, make_config
from crmsync import api
from crmsync.orchestration import forecast_accuracy, readers
from crmsync.store import Store
from test_forecast import STAGES, USERS, deal

NOW = dt.datetime(2026, 5, 1)  # Q1 2026 has ended; Q2 has not


def change(rid: str, opp: str, field: str, at: str, old: str, new: str) -> dict[str, Any]:
    return {"remote_id": rid, "opportunity_id": opp, "field": field,
            "changed_at": f"{at}T00:00:00", "old_value": old, "new_value": new,
            "source": "crm"}


CREATED = {"remote_created_at": "2025-12-01T00:00:00"}
# At the start of Q1 (1 January 2026):
#   Ann: B1 commit 1000 (won 20 Feb), B2 commit 400 (pushed to May on 10 Feb)
#   Bob: B4 best case 300 (lost 12 March); B3 (600) expected in May, pulled into March on
#        1 March and won 25 March
#   <script>: B5 best case 200 (its stage history says S2; won 1 March)
# Actual Q1: Ann 1000 (B1), Bob 600 (B3), <script> 200 (B5).
DATA: dict[str, list[dict[str, Any]]] = {
    "users": USERS,
    "pipelines": [{"remote_id": "PL", "label": "Sales"}],
    "stages": STAGES,
    "opportunities": [
        deal("B1", "U1", "W", 1000.0, closed_at="2026-02-20T00:00:00",
             expected_close_date="2026-02-15", **CREATED),
        deal("B2", "U1", "S3", 400.0, expected_close_date="2026-05-15", **CREATED),
        deal("B3", "U2", "W", 600.0, closed_at="2026-03-25T00:00:00",
             expected_close_date="2026-03-20", **CREATED),
        deal("B4", "U2", "L", 300.0, closed_at="2026-03-12T00:00:00",
             expected_close_date="2026-03-10", **CREATED),
        # stage history only (no field history): in S2 (best case) at the start, won 1 March
        deal("B5", "U3", "W", 200.0, closed_at="2026-03-01T00:00:00",
             expected_close_date="2026-03-01", **CREATED),
    ],
    "opportunity_stage_history": [
        {"remote_id": "e1", "opportunity_id": "B5", "stage_id": "S2",
         "entered_at": "2025-12-01T00:00:00", "exited_at": "2026-03-01T00:00:00"},
        {"remote_id": "e2", "opportunity_id": "B5", "stage_id": "W",
         "entered_at": "2026-03-01T00:00:00"},
    ],
    "opportunity_field_history": [
        change("h1", "B1", "stage_id", "2026-02-20", "S3", "W"),
        change("h2", "B2", "expected_close_date", "2026-02-10", "2026-03-15", "2026-05-15"),
        change("h3", "B3", "expected_close_date", "2026-03-01", "2026-05-01", "2026-03-20"),
        change("h4", "B3", "stage_id", "2026-03-25", "S2", "W"),
        change("h5", "B4", "stage_id", "2026-03-12", "S2", "L"),
    ],
}


@pytest.fixture
def accuracy_store(store: Store) -> Store:
    load_records(store, DATA)
    return store


def run(store: Store, **kwargs: Any) -> dict[str, Any]:
    cfg = make_config(store.engine.url.render_as_string(hide_password=False))
    return api.forecast_accuracy(cfg, store=store, now=NOW, **kwargs)


def test_the_default_period_is_the_last_ended_one(accuracy_store: Store) -> None:
    result = run(accuracy_store)
    assert (result["label"], result["ended"]) == ("2026-Q1", True)


def test_a_pushed_out_commit_overstates_the_reps_forecast(accuracy_store: Store) -> None:
    ann = {g["name"]: g for g in run(accuracy_store, by="owner")["groups"]}["Ann"]
    assert ann["actual"] == {"n": 1, "amount": 1000.0}
    commit = ann["kinds"]["commit"]
    assert (commit["forecast"], commit["error"], commit["ape"]) == (
        1400.0, 400.0, pytest.approx(0.4))
    assert ann["kinds"]["weighted"]["forecast"] == pytest.approx(1400 * 0.8)


def test_a_pulled_in_deal_is_missing_from_the_forecast_at_the_start(
        accuracy_store: Store) -> None:
    bob = {g["name"]: g for g in run(accuracy_store, by="owner")["groups"]}["Bob"]
    assert bob["actual"] == {"n": 1, "amount": 600.0}
    assert (bob["kinds"]["commit"]["forecast"], bob["kinds"]["commit"]["ape"]) == (0.0, 1.0)
    best = bob["kinds"]["best_case"]
    assert (best["forecast"], best["error"], best["ape"]) == (300.0, -300.0, 0.5)


def test_the_organisations_errors_net_the_reps(accuracy_store: Store) -> None:
    kinds = run(accuracy_store)["total"]["kinds"]
    assert (kinds["commit"]["error"], kinds["commit"]["ape"]) == (-400.0, pytest.approx(2 / 9))
    assert (kinds["best_case"]["error"], kinds["best_case"]["ape"]) == (
        100.0, pytest.approx(1 / 18))
    assert kinds["weighted"]["forecast"] == pytest.approx(1400 * 0.8 + 500 * 0.4)


def test_without_field_history_the_stage_history_places_the_deal(
        accuracy_store: Store) -> None:
    rep = {g["name"]: g for g in run(accuracy_store, by="owner")["groups"]}["<script>x</script>"]
    assert (rep["kinds"]["best_case"]["forecast"], rep["kinds"]["commit"]["forecast"]) == (
        200.0, 0.0)


def test_each_week_rebuilds_the_forecast_as_it_stood(accuracy_store: Store) -> None:
    weeks = {w["at"][:10]: w["total"] for w in run(accuracy_store)["weeks"]}
    assert len(weeks) == 13  # 1 January, then every 7 days up to 26 March
    # 5 March: B1 and B5 won (1200), B2 pushed out, B3 pulled in (best case 600), B4 best
    # case 300
    assert (weeks["2026-03-05"]["commit"], weeks["2026-03-05"]["best_case"]) == (1200.0,
                                                                                   2100.0)
    assert weeks["2026-01-01"]["commit"] == 1400.0


def test_a_period_not_over_is_marked_unfinished(accuracy_store: Store) -> None:
    result = run(accuracy_store, as_of=dt.date(2026, 4, 15))
    assert (result["label"], result["ended"], len(result["weeks"])) == ("2026-Q2", False, 5)


def test_regrouping_the_reps_accuracy_by_team_equals_the_teams(accuracy_store: Store) -> None:
    from crmsync.orchestration.forecast_accuracy import accuracy_teams_of

    by_team = run(accuracy_store, by="team", weekly=False)["groups"]
    regrouped = accuracy_teams_of(run(accuracy_store, by="owner", weekly=False))["groups"]
    assert regrouped == by_team


def test_instants_rebuilt_at_once_give_the_serial_result(accuracy_store: Store,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The weekly instants rebuilt on several connections at once (``READERS``) give
    exactly what rebuilding them one after the other gives, in the same order."""
    monkeypatch.setattr(readers, "READERS", 1)
    serial = run(accuracy_store, by="owner")
    monkeypatch.setattr(readers, "READERS", 3)
    threads: set[str] = set()
    rollup = forecast_accuracy.run_rollup

    def watched(store: Store, scope: Any) -> Any:
        threads.add(threading.current_thread().name)
        return rollup(store, scope)

    monkeypatch.setattr(forecast_accuracy, "run_rollup", watched)
    assert run(accuracy_store, by="owner") == serial
    assert len(serial["weeks"]) > 3
    assert len(threads) > 1 and all(t.startswith("crmsync-read") for t in threads)
