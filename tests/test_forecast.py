"""The forecast (crmsync.api.forecast, docs/forecast.md) on hand-checked data, SQLite and
PostgreSQL: categories, the deal's own category over its stage's, quotas rolled up to teams,
the weighted forecast and the history-based one."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from conftest import load_records, make_config
from crmsync import api
from crmsync.core.errors import ConfigError
from crmsync.orchestration.forecast import period_bounds
from crmsync.store import Store

NOW = dt.datetime(2026, 5, 1)  # Q2 2026 = [1 April, 1 July): 61 days left

USERS = [{"remote_id": "U1", "name": "Ann", "team": "East"},
         {"remote_id": "U2", "name": "Bob", "team": "East"},
         {"remote_id": "U3", "name": "<script>x</script>", "team": "West"}]
STAGES = [
    {"remote_id": "S1", "pipeline_id": "PL", "label": "Qualify", "probability": 0.1,
     "forecast_category": "Pipeline"},
    {"remote_id": "S2", "pipeline_id": "PL", "label": "Propose", "probability": 0.4,
     "forecast_category": "BestCase"},
    {"remote_id": "S3", "pipeline_id": "PL", "label": "Negotiate", "probability": 0.8,
     "forecast_category": "Commit"},
    {"remote_id": "S4", "pipeline_id": "PL", "label": "On hold",
     "forecast_category": "Omitted"},
    {"remote_id": "W", "pipeline_id": "PL", "label": "Won", "probability": 1.0,
     "is_closed": True, "is_won": True, "forecast_category": "Closed"},
    {"remote_id": "L", "pipeline_id": "PL", "label": "Lost", "probability": 0.0,
     "is_closed": True, "forecast_category": "Omitted"},
]


def deal(rid: str, owner: str, stage: str, amount: float, **extra: Any) -> dict[str, Any]:
    status = {"W": "won", "L": "lost"}.get(stage, "open")
    return {"remote_id": rid, "owner_id": owner, "stage_id": stage, "status": status,
            "amount": amount, "pipeline_id": "PL",
            "remote_created_at": "2026-01-02T00:00:00", **extra}


def quota(rid: str, owner: str | None, start: str, amount: float,
          currency: str | None = None) -> dict[str, Any]:
    return {"remote_id": rid, "owner_id": owner, "period_start": start,
            "period_end": start[:8] + "28", "amount": amount, "currency": currency}


ROLLUP: dict[str, list[dict[str, Any]]] = {
    "users": USERS,
    "pipelines": [{"remote_id": "PL", "label": "Sales"}],
    "stages": STAGES,
    "opportunities": [
        deal("A1", "U1", "W", 1000.0, closed_at="2026-04-10T12:00:00",
             expected_close_date="2026-04-30"),
        deal("A2", "U1", "S3", 500.0, expected_close_date="2026-06-15"),
        # the deal's own category (commit) over its stage's (pipeline)
        deal("A3", "U1", "S1", 200.0, expected_close_date="2026-05-20",
             forecast_category="commit"),
        deal("A4", "U2", "S2", 300.0, expected_close_date="2026-06-01"),
        # a stage without probability: the deal's own weighs it
        deal("A5", "U2", "S4", 100.0, expected_close_date="2026-06-30", probability=0.5),
        deal("A6", "U3", "S1", 900.0, expected_close_date="2026-07-05"),  # next quarter
        deal("A7", "U3", "W", 900.0, closed_at="2026-03-20T00:00:00"),  # last quarter
        # HubSpot's spelling of omitted, on a best-case stage
        deal("A8", "U3", "S2", 80.0, expected_close_date="2026-04-20", forecast_category="omit"),
        deal("A9", "U3", "L", 900.0, closed_at="2026-04-05T00:00:00",
             expected_close_date="2026-04-05"),
        deal("A10", "U2", "S1", 70.0, expected_close_date="2026-05-05"),
        deal("A11", "U2", "S3", 999.0, expected_close_date="2026-05-05", is_deleted=True),
    ],
    "quotas": [
        quota("Q1", "U1", "2026-04-01", 1000.0), quota("Q2", "U1", "2026-05-01", 1000.0),
        quota("Q3", "U2", "2026-04-01", 1500.0), quota("Q4", "U3", "2026-06-01", 800.0),
        quota("Q5", None, "2026-04-01", 9999.0),  # a team quota: reps' quotas are summed
        quota("Q6", "U3", "2026-04-01", 5000.0, "EUR"),  # not in the base currency
        quota("Q7", "U1", "2026-07-01", 7000.0),  # next quarter
    ],
}


@pytest.fixture
def rollup_store(store: Store) -> Store:
    load_records(store, ROLLUP)
    return store


def run(store: Store, **kwargs: Any) -> dict[str, Any]:
    cfg = make_config(store.engine.url.render_as_string(hide_password=False))
    return api.forecast(cfg, store=store, now=NOW, **kwargs)


def by_name(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["name"]: g for g in result["groups"]}


def cats(g: dict[str, Any]) -> dict[str, tuple[int, float]]:
    return {c: (g[c]["n"], g[c]["amount"])
            for c in ("closed", "commit", "best_case", "pipeline", "omitted")}


def test_each_deal_lands_in_its_category_per_rep(rollup_store: Store) -> None:
    reps = by_name(run(rollup_store, by="owner"))
    assert cats(reps["Ann"]) == {"closed": (1, 1000.0), "commit": (2, 700.0),
                                 "best_case": (0, 0.0), "pipeline": (0, 0.0),
                                 "omitted": (0, 0.0)}
    assert cats(reps["Bob"]) == {"closed": (0, 0.0), "commit": (0, 0.0),
                                 "best_case": (1, 300.0), "pipeline": (1, 70.0),
                                 "omitted": (1, 100.0)}
    assert cats(reps["<script>x</script>"])["omitted"] == (1, 80.0)


def test_the_deals_own_category_overrides_its_stages(rollup_store: Store) -> None:
    ann = by_name(run(rollup_store, by="owner"))["Ann"]
    assert ann["commit"] == {"n": 2, "amount": 700.0}  # A3 sits in a pipeline stage
    assert ann["pipeline"]["n"] == 0


def test_rep_quotas_of_the_period_roll_up_to_teams(rollup_store: Store) -> None:
    reps = by_name(run(rollup_store, by="owner"))
    # the rep with a EUR quota and no EUR rate: unknown, never the base-currency part alone
    assert (reps["Ann"]["quota"], reps["Bob"]["quota"],
            reps["<script>x</script>"]["quota"]) == (2000.0, 1500.0, None)
    assert reps["<script>x</script>"]["quota_unconverted"]
    teams = by_name(run(rollup_store, by="team"))
    assert (teams["East"]["quota"], teams["West"]["quota"]) == (3500.0, None)
    assert run(rollup_store)["total"]["quota"] is None
    load_records(rollup_store, {"currency_rates": [
        {"remote_id": "EUR", "currency": "EUR", "rate_to_base": 1.1,
         "valid_from": "2026-01-01"}]})
    reps = by_name(run(rollup_store, by="owner"))
    assert reps["<script>x</script>"]["quota"] == pytest.approx(800.0 + 5500.0)
    assert run(rollup_store)["total"]["quota"] == pytest.approx(3500.0 + 6300.0)


def test_forecast_against_quota_uses_the_usual_rollups(rollup_store: Store) -> None:
    east = by_name(run(rollup_store, by="team"))["East"]
    assert east["kinds"]["commit"] == 1700.0  # closed 1000 + commit 700
    assert east["kinds"]["best_case"] == 2000.0  # + best case 300
    assert east["attainment"]["commit"] == pytest.approx(1700 / 3500)
    assert east["attainment"]["closed"] == pytest.approx(1000 / 3500)


def test_weighted_uses_the_stage_probability_else_the_deals(rollup_store: Store) -> None:
    reps = by_name(run(rollup_store, by="owner"))
    assert reps["Ann"]["weighted"] == pytest.approx(1000 + 500 * 0.8 + 200 * 0.1)
    assert reps["Bob"]["weighted"] == pytest.approx(300 * 0.4 + 100 * 0.5 + 70 * 0.1)
    assert run(rollup_store)["total"]["weighted"] == pytest.approx(1420 + 177 + 80 * 0.4)


def test_without_stage_history_the_history_forecast_is_the_weighted(
        rollup_store: Store) -> None:
    total = run(rollup_store)["total"]
    assert (total["history"], total["history_n"]) == (pytest.approx(total["weighted"]), 0)


def test_the_period_defaults_to_the_current_fiscal_quarter(rollup_store: Store) -> None:
    result = run(rollup_store)
    assert (result["period_start"], result["period_end"], result["label"]) == (
        "2026-04-01", "2026-07-01", "2026-Q2")


def test_fiscal_quarters_follow_the_fiscal_year_start() -> None:
    assert period_bounds("quarter", dt.date(2026, 5, 1), 2) == (dt.date(2026, 5, 1),
                                                                dt.date(2026, 8, 1))
    assert period_bounds("quarter", dt.date(2026, 1, 15), 2) == (dt.date(2025, 11, 1),
                                                                 dt.date(2026, 2, 1))
    assert period_bounds("year", dt.date(2026, 1, 15), 4) == (dt.date(2025, 4, 1),
                                                              dt.date(2026, 4, 1))


def test_an_unknown_breakdown_is_a_user_error(rollup_store: Store) -> None:
    with pytest.raises(ConfigError, match="owner or team"):
        run(rollup_store, by="region")


# -- the history-based forecast --------------------------------------------------------------

def entry(rid: str, opp: str, stage: str, entered: str, exited: str | None = None
          ) -> dict[str, Any]:
    return {"remote_id": rid, "opportunity_id": opp, "stage_id": stage,
            "entered_at": f"{entered}T00:00:00",
            "exited_at": f"{exited}T00:00:00" if exited else None}


def past(rid: str, entered: str, closed: str, won: bool) -> tuple[dict[str, Any], ...]:
    stage = "W" if won else "L"
    return (deal(rid, "U2", stage, 10.0, closed_at=f"{closed}T00:00:00",
                 remote_created_at=f"{entered}T00:00:00"),
            entry(f"{rid}-s2", rid, "S2", entered, closed),
            entry(f"{rid}-end", rid, stage, closed))


# Past entries into S2 (Propose, probability 0.4). With 61 days left in Q2 at NOW:
#   bucket 0 (0-7 days in the stage), reference = the entry day:
#     P1 won after 31 days (yes), P2 lost after 4 (no), P3 lost after 31 (no),
#     P4 won after 122 (no: outside 61), P6 won after 19 (yes), P7 won after 2 (yes),
#     P5 entered 2026-04-01: its window ends 2026-06-01, after NOW (not counted)
#     → 3 won of 6 = 0.5
#   bucket 7 (7-30 days), reference = entry + 7 days: P2 and P7 had left S2 by then;
#     P1 won 24 days later (yes), P3 (no), P4 won 115 days later (no), P6 12 later (yes)
#     → 2 won of 4 = 0.5
PAST = (past("P1", "2025-01-01", "2025-02-01", True), past("P2", "2025-01-01", "2025-01-05", False),
        past("P3", "2025-03-01", "2025-04-01", False), past("P4", "2025-06-01", "2025-10-01", True),
        past("P6", "2025-09-01", "2025-09-20", True), past("P7", "2025-11-01", "2025-11-03", True))
HISTORY: dict[str, list[dict[str, Any]]] = {
    "users": USERS,
    "pipelines": [{"remote_id": "PL", "label": "Sales"}],
    "stages": STAGES,
    "opportunities": [
        *(p[0] for p in PAST),
        deal("P5", "U2", "S2", 10.0, expected_close_date="2026-09-01",
             remote_created_at="2026-04-01T00:00:00"),
        # in S2 for 10 days at NOW: bucket 7
        deal("X", "U1", "S2", 1000.0, expected_close_date="2026-06-15"),
        # in S2 for 3 days at NOW: bucket 0
        deal("Y", "U3", "S2", 1000.0, expected_close_date="2026-06-15"),
    ],
    "opportunity_stage_history": [
        *(e for p in PAST for e in p[1:]),
        entry("P5-s2", "P5", "S2", "2026-04-01"),
        entry("X-s1", "X", "S1", "2026-01-02", "2026-04-21"),
        entry("X-s2", "X", "S2", "2026-04-21"),
        entry("Y-s2", "Y", "S2", "2026-04-28"),
    ],
}


@pytest.fixture
def history_store(store: Store) -> Store:
    load_records(store, HISTORY)
    return store


def test_history_chance_is_the_won_share_of_like_past_entries(history_store: Store) -> None:
    reps = by_name(run(history_store, by="owner", min_sample=4))
    assert reps["Ann"]["history"] == pytest.approx(1000 * 0.5)  # X: 2 of 4
    assert reps["<script>x</script>"]["history"] == pytest.approx(1000 * 0.5)  # Y: 3 of 6
    assert (reps["Ann"]["history_n"], reps["Ann"]["weighted"]) == (1, pytest.approx(400.0))


def test_below_the_minimum_sample_the_stage_probability_stands_in(
        history_store: Store) -> None:
    reps = by_name(run(history_store, by="owner", min_sample=5))
    assert (reps["Ann"]["history"], reps["Ann"]["history_n"]) == (pytest.approx(400.0), 0)
    assert reps["<script>x</script>"]["history"] == pytest.approx(500.0)  # 6 entries: enough



def test_regrouping_the_reps_by_team_equals_the_team_forecast(rollup_store: Store) -> None:
    from crmsync.orchestration.forecast import teams_of

    by_team = run(rollup_store, by="team")
    regrouped = teams_of(run(rollup_store, by="owner"))
    assert regrouped["groups"] == by_team["groups"]
